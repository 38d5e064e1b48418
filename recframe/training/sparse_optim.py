"""Optimisers whose step touches only the embedding rows a mini-batch used (``trainer.optimizer=sparse_*``).

Why: with a dense optimiser every mini-batch step reads and writes every row of every embedding
table (Adam: the weights and two moment tables), so an epoch costs ``steps x table size``: it grows
with interactions *times* users and items. With row-sparse gradients (``nn.Embedding(sparse=True)``,
or :func:`recframe.training.dot_scores.dot_scores`'s sparse backward) and a row-sparse update, a
step costs what its batch touches, and an epoch's cost is linear in the interactions.

:class:`RowSparseOptimizer` implements three rules for both kinds of gradient:

* ``sgd``: ``w -= lr * (g + weight_decay * w)``, the same arithmetic as ``torch.optim.SGD`` (no
  momentum), so a row-sparse step gives bit-identical weights to a dense one;
* ``adagrad``: ``torch.optim.Adagrad``'s update (no learning-rate decay);
* ``adam``: ``torch.optim.Adam``'s update restricted to the rows present (lazy Adam, as
  ``torch.optim.SparseAdam`` and TensorFlow's LazyAdam): a row's moments decay only on the steps
  that touch it, and the bias correction uses the parameter's step count.

Weight decay on a sparse table is applied to the rows in the batch only (the rows whose gradient
exists); a row that no batch touches keeps its value. That is also where RecBole's embedding L2
acts (on the batch's rows). Dense parameters (an MLP, an output layer, LightGCN's table, whose
propagation reads every row) get the same rule on the whole tensor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from recframe import kernels
from recframe.errors import ConfigError

#: ``trainer.optimizer`` values that train embedding tables with row-sparse gradients, and their rule
SPARSE_OPTIMIZERS = {"sparse_sgd": "sgd", "sparse_adagrad": "adagrad", "sparse_adam": "adam"}


def use_sparse_gradients(model: nn.Module) -> int:
    """Switch every ``nn.Embedding`` of ``model`` to sparse gradients; returns how many tables.

    Only the backward changes (``sparse=True`` makes the gradient a sparse COO tensor of the looked-up
    rows); forward values, the ``state_dict`` and scoring are the same.
    """
    tables = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    for table in tables:
        if table.max_norm is not None or table.scale_grad_by_freq:
            raise ConfigError(
                f"trainer.optimizer=sparse_*: an embedding of model '{type(model).__name__}' uses "
                f"max_norm or scale_grad_by_freq, which sparse gradients do not support; use "
                f"trainer.optimizer=adam"
            )
        table.sparse = True
    return len(tables)


def row_gradient(grad: Tensor) -> tuple[Tensor, Tensor]:
    """``(rows: long[R], values: float[R, ...])`` of a sparse COO gradient over dim 0, duplicates summed.

    Duplicates are summed in the order they appear (``index_add_``), the order a dense
    ``zeros().index_add_`` accumulation uses, so the summed rows are bitwise those of the dense gradient.
    """
    index, values = grad._indices()[0], grad._values()
    rows, inverse = torch.unique(index, sorted=True, return_inverse=True)
    if len(rows) == len(index):  # no duplicates: put the values in row order without summing
        return rows, values.new_empty((len(rows), *values.shape[1:])).index_copy_(0, inverse, values)
    summed = values.new_zeros((len(rows), *values.shape[1:])).index_add_(0, inverse, values)
    return rows, summed


class RowSparseOptimizer(torch.optim.Optimizer):
    """SGD, Adagrad or lazy Adam over dense and row-sparse gradients (see the module docstring).

    Args:
        params: the parameters (or parameter groups).
        rule: ``sgd``, ``adagrad`` or ``adam``.
        lr: the learning rate.
        weight_decay: L2 weight added to the gradient (on sparse tables: of the rows present).
        betas, eps: Adam's; ``eps`` is also Adagrad's (default ``1e-10`` there, as torch's).
    """

    def __init__(
        self,
        params: Iterable[Any],
        rule: str,
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float | None = None,
    ) -> None:
        if rule not in SPARSE_OPTIMIZERS.values():
            raise ConfigError(f"unknown row-sparse rule {rule!r} (sgd, adagrad, adam)")
        if lr <= 0 or weight_decay < 0:
            raise ConfigError(f"trainer.lr must be > 0 and trainer.weight_decay >= 0, got {lr} and {weight_decay}")
        eps = (1e-10 if rule == "adagrad" else 1e-8) if eps is None else float(eps)
        super().__init__(
            params,
            {"rule": rule, "lr": float(lr), "weight_decay": float(weight_decay), "betas": tuple(betas), "eps": eps},
        )
        self._slots: dict[int, np.ndarray] = {}  # scratch of the compiled row sums, per table (not state)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Tensor | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, group)
        return loss

    def _state(self, p: Tensor, rule: str) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            if rule == "adam":
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            elif rule == "adagrad":
                state["sum"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def _compiled_rows(self, p: Tensor, grad: Tensor) -> tuple[Tensor, Tensor] | None:
        """:func:`row_gradient` by :func:`recframe.kernels.row_updates.sum_rows` (the same sums, no sort),
        when numba is available and the table is a float32 CPU matrix; else None."""
        if not (
            kernels.available()
            and p.dtype == torch.float32
            and p.dim() == 2
            and p.device.type == "cpu"
            and p.is_contiguous()
        ):
            return None
        from recframe.kernels.row_updates import new_slots, sum_rows

        slots = self._slots.get(id(p))
        if slots is None or len(slots) != len(p):
            slots = self._slots[id(p)] = new_slots(len(p))
        index, values = grad._indices()[0].contiguous(), grad._values().float().contiguous()
        rows, summed = np.empty(len(index), np.int64), np.empty((len(index), p.shape[1]), np.float32)
        count = sum_rows(index.numpy(), values.numpy(), slots, rows, summed)
        return torch.from_numpy(rows[:count]), torch.from_numpy(summed[:count])

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        rule, lr, wd = group["rule"], group["lr"], group["weight_decay"]
        state = self._state(p, rule)
        state["step"] += 1
        names = {"adam": ("exp_avg", "exp_avg_sq"), "adagrad": ("sum",), "sgd": ()}[rule]
        if grad.is_sparse:
            compiled = self._compiled_rows(p, grad)
            rows, g = compiled if compiled is not None else row_gradient(grad)
            if compiled is not None and rule == "adam":  # one pass over the rows (kernels/row_updates.py)
                from recframe.kernels.row_updates import adam_rows

                (beta1, beta2), t = group["betas"], state["step"]
                adam_rows(
                    p.detach().numpy(),
                    state["exp_avg"].numpy(),
                    state["exp_avg_sq"].numpy(),
                    rows.numpy(),
                    g.numpy(),
                    len(rows),
                    lr,
                    beta1,
                    beta2,
                    group["eps"],
                    1.0 - beta1**t,
                    1.0 - beta2**t,
                    wd,
                )
                return
            w = p.index_select(0, rows)
            moments = [state[n].index_select(0, rows) for n in names]
        else:
            rows, g, w, moments = None, grad, p, [state[n] for n in names]
        if wd:
            g = g.add(w, alpha=wd)
        if rule == "sgd":
            w.add_(g, alpha=-lr)
        elif rule == "adagrad":
            (total,) = moments
            total.addcmul_(g, g, value=1.0)
            w.addcdiv_(g, total.sqrt().add_(group["eps"]), value=-lr)
        else:
            (beta1, beta2), t = group["betas"], state["step"]
            exp_avg, exp_avg_sq = moments
            exp_avg.lerp_(g, 1.0 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
            bias1, bias2 = 1.0 - beta1**t, 1.0 - beta2**t
            denom = (exp_avg_sq.sqrt() / math.sqrt(bias2)).add_(group["eps"])
            w.addcdiv_(exp_avg, denom, value=-lr / bias1)
        if rows is not None:  # write the touched rows back
            p.index_copy_(0, rows, w)
            for n, m in zip(names, moments, strict=True):
                state[n].index_copy_(0, rows, m)


def sparse_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float) -> RowSparseOptimizer:
    """The ``trainer.optimizer=sparse_*`` optimiser for ``model``, its embeddings switched to sparse gradients."""
    use_sparse_gradients(model)
    return RowSparseOptimizer(list(model.parameters()), SPARSE_OPTIMIZERS[name], lr=lr, weight_decay=weight_decay)
