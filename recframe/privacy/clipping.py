"""Per-sample gradient clipping and Gaussian noise (DP-SGD) for models of embedding and linear layers.

DP-SGD (Abadi et al., "Deep Learning with Differential Privacy", CCS 2016) bounds what one training
sample can change: every sample's gradient is clipped to L2 norm ``C`` (``max_grad_norm``), the
clipped gradients are summed, Gaussian noise of standard deviation ``sigma * C`` is added to every
coordinate, and the sum is divided by the expected batch size.

Why not Opacus's ``GradSampleModule``: it materialises each sample's gradient of an embedding
table as a dense ``[B, rows, d]`` tensor (a BPR-MF batch of 2,048 on ML-1M: 3 GB a step). Here the
per-sample gradient of a layer is never formed; it follows from what the layer saw and what came
back (the layer's input and the gradient of the loss at its output, recorded by a forward hook):

* ``nn.Embedding`` called with ids ``[R, ...]``: a sample's gradient is the output gradients of its
  lookups summed per table row, so its squared norm is a sum over the distinct rows it touched
  (``O(lookups * d)``), and the clipped sum is one ``index_add_``;
* ``nn.Linear`` with input ``a: [S, T, i]`` and output gradient ``g: [S, T, o]`` per sample:
  ``||sum_t g_t a_t^T||^2 = sum_{t,t'} (a_t . a_t')(g_t . g_t')`` (``||a||^2 ||g||^2`` for ``T = 1``,
  the "ghost norm" of Goodfellow, 2015), and the clipped sum is one ``einsum``.

A sample is ``group`` consecutive rows of the batch (a pointwise positive with its negatives); a
layer called several times in one forward (BPR's item table for positives and negatives) has its
calls merged per sample before the norm. The first step compares the unclipped per-sample sum with
autograd's gradient of the batch loss, so a model that reads a parameter any other way (a weight
multiplied directly, a graph propagation over the whole table) is refused in one line before its
first update, instead of being trained with an unbounded sensitivity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import torch
from torch import Tensor, nn

from recframe.errors import TrainingError

SUPPORTED = (nn.Embedding, nn.Linear)


def uncovered_parameters(model: nn.Module) -> list[str]:
    """Names of trainable parameters that no ``nn.Embedding``/``nn.Linear`` layer of ``model`` owns."""
    covered = {id(p) for m in model.modules() if type(m) in SUPPORTED for p in m.parameters(recurse=False)}
    return [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in covered]


class PerSampleClipper:
    """Records the layers' inputs during a forward, then sets every parameter's ``.grad`` to the
    DP-SGD gradient: the sum of per-sample gradients clipped to ``max_grad_norm``, plus
    ``N(0, (noise_multiplier * max_grad_norm)^2)`` noise, over ``expected_samples``.

    Args:
        model: the model; every trainable parameter must belong to an ``nn.Embedding`` or ``nn.Linear``.
        max_grad_norm: ``C``, the clipping bound of one sample's whole gradient.
        noise_multiplier: ``sigma``; 0 clips without noise (no guarantee; for tests).
        expected_samples: the batch size in samples (the divisor, fixed so it reveals nothing).
        group: batch rows per sample (1, or ``1 + num_negatives`` for pointwise batches).
        seed: seeds the noise generator.
    """

    def __init__(
        self,
        model: nn.Module,
        max_grad_norm: float,
        noise_multiplier: float,
        expected_samples: int,
        group: int = 1,
        seed: int = 0,
    ) -> None:
        name = type(model).__name__
        uncovered = uncovered_parameters(model)
        if uncovered:
            raise TrainingError(
                f"trainer.privacy: model '{name}' has parameters outside nn.Embedding/nn.Linear layers "
                f"({', '.join(uncovered[:4])}), whose per-sample gradients DP-SGD here cannot bound; models of "
                f"embedding and linear layers (bpr, gmf, mlp, neumf, multvae) can be trained privately"
            )
        self.model, self.model_name = model, name
        self.clip, self.sigma = float(max_grad_norm), float(noise_multiplier)
        self.expected, self.group = int(expected_samples), int(group)
        self.layers = [
            m for m in model.modules() if type(m) in SUPPORTED and any(p.requires_grad for p in m.parameters())
        ]
        self.params = [p for m in self.layers for p in m.parameters(recurse=False) if p.requires_grad]
        self.generator = torch.Generator().manual_seed(int(seed))
        self.records: list[tuple[nn.Module, Tensor, Tensor]] = []
        self.active = False
        self.verified = False
        self.steps = 0
        self.clipped = 0  # samples whose gradient norm exceeded the bound, over all steps
        self.samples = 0
        self.handles = [m.register_forward_hook(self._record) for m in self.layers]

    def remove(self) -> None:
        """Detach the forward hooks (after training)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _record(self, module: nn.Module, args: tuple[Any, ...], output: Tensor) -> None:
        if self.active and torch.is_grad_enabled():
            self.records.append((module, args[0].detach() if args[0].is_floating_point() else args[0], output))

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Record the layers' inputs and outputs of the forward run inside."""
        self.records, self.active = [], True
        try:
            yield
        finally:
            self.active = False

    def backward(self, loss: Tensor, rows: int) -> None:
        """Set each parameter's ``.grad`` to the DP-SGD gradient of ``loss`` (the mean over ``rows``
        batch rows, i.e. over ``rows / group`` samples)."""
        if rows % self.group:
            raise TrainingError(f"trainer.privacy: a batch of {rows} rows is not made of samples of {self.group} rows")
        samples = rows // self.group
        records, self.records = self.records, []
        for module, _, out in records:
            if out.shape[0] != rows:
                raise TrainingError(
                    f"trainer.privacy: model '{self.model_name}' called a {type(module).__name__} on {out.shape[0]} "
                    f"rows of a {rows}-row batch, so its gradients cannot be split by sample; DP-SGD cannot train it"
                )
        outputs = [out for _, _, out in records]
        check = not self.verified
        true_grads = torch.autograd.grad(loss, self.params, retain_graph=True, allow_unused=True) if check else None
        # per-sample gradients: ``samples`` x the gradient of the mean loss, restricted to one sample
        grads = torch.autograd.grad(loss * samples, outputs, allow_unused=True) if outputs else ()
        calls: dict[nn.Module, list[tuple[Tensor, Tensor]]] = {m: [] for m in self.layers}
        for (module, inp, _), g in zip(records, grads, strict=True):
            if g is not None:
                calls[module].append((inp, g.detach()))
        sq = torch.zeros(samples, dtype=torch.float64)
        for module, seen in calls.items():
            if seen:
                sq += (
                    self._embedding_sq(module, seen, samples)
                    if isinstance(module, nn.Embedding)
                    else (self._linear_sq(cast(nn.Linear, module), seen, samples))
                )
        norms = sq.sqrt()
        coef = (self.clip / (norms + 1e-12)).clamp(max=1.0).float()  # [S]
        if check:
            self._verify(calls, samples, true_grads)
        self.clipped += int((norms > self.clip).sum())
        self.samples += samples
        self.steps += 1
        for module in self.layers:
            seen = calls[module]
            if isinstance(module, nn.Embedding):
                sums = self._embedding_sum(module, seen, coef)
            else:
                sums = self._linear_sum(cast(nn.Linear, module), seen, coef, samples)
            for p, total in zip(module.parameters(recurse=False), sums, strict=True):
                if not p.requires_grad:
                    continue
                if self.sigma > 0:
                    total = total + torch.randn(p.shape, generator=self.generator).to(total) * (self.sigma * self.clip)
                p.grad = total / self.expected

    # ---- embedding tables -------------------------------------------------------------------

    def _embedding_lookups(
        self, module: nn.Embedding, seen: list[tuple[Tensor, Tensor]]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(sample: long[L], row: long[L], grad: float[L, d])`` over every lookup of every call."""
        samples, rows, grads = [], [], []
        for ids, g in seen:
            per_row = ids[0].numel()
            batch_row = torch.arange(ids.shape[0], device=ids.device).repeat_interleave(per_row)
            flat_ids, flat_g = ids.reshape(-1), g.reshape(-1, module.embedding_dim)
            if module.padding_idx is not None:  # nn.Embedding gives the padding row no gradient
                keep = flat_ids != module.padding_idx
                batch_row, flat_ids, flat_g = batch_row[keep], flat_ids[keep], flat_g[keep]
            samples.append(batch_row // self.group)
            rows.append(flat_ids)
            grads.append(flat_g)
        return torch.cat(samples), torch.cat(rows), torch.cat(grads)

    def _embedding_sq(self, module: nn.Embedding, seen: list[tuple[Tensor, Tensor]], n: int) -> Tensor:
        sample, row, g = self._embedding_lookups(module, seen)
        keys, inverse = torch.unique(sample * module.num_embeddings + row, return_inverse=True)
        per_key = g.new_zeros(len(keys), g.shape[1]).index_add_(0, inverse, g)  # a sample's gradient of one row
        return torch.zeros(n, dtype=torch.float64).index_add_(
            0, keys // module.num_embeddings, per_key.double().square().sum(1)
        )

    def _embedding_sum(self, module: nn.Embedding, seen: list[tuple[Tensor, Tensor]], coef: Tensor) -> list[Tensor]:
        weight = module.weight
        if not seen:
            return [torch.zeros_like(weight)]
        sample, row, g = self._embedding_lookups(module, seen)
        return [torch.zeros_like(weight).index_add_(0, row, g * coef[sample, None])]

    # ---- linear layers ----------------------------------------------------------------------

    def _linear_parts(self, seen: list[tuple[Tensor, Tensor]], n: int) -> tuple[Tensor, Tensor]:
        """``(a: [S, T, in], g: [S, T, out])``: every call's rows regrouped by sample."""
        a = torch.cat([x.reshape(n, -1, x.shape[-1]) for x, _ in seen], dim=1)
        g = torch.cat([y.reshape(n, -1, y.shape[-1]) for _, y in seen], dim=1)
        return a.to(g.dtype), g

    def _linear_sq(self, module: nn.Linear, seen: list[tuple[Tensor, Tensor]], n: int) -> Tensor:
        a, g = self._linear_parts(seen, n)
        if a.shape[1] == 1:
            weight = a.square().sum((1, 2)).double() * g.square().sum((1, 2)).double()
        elif a.shape[1] ** 2 <= a.shape[2] * g.shape[2]:
            weight = ((a @ a.transpose(1, 2)) * (g @ g.transpose(1, 2))).sum((1, 2)).double()
        else:
            weight = torch.einsum("sto,sti->soi", g, a).square().sum((1, 2)).double()
        if module.bias is not None and module.bias.requires_grad:
            weight = weight + g.sum(1).double().square().sum(1)
        return weight

    def _linear_sum(self, module: nn.Linear, seen: list[tuple[Tensor, Tensor]], coef: Tensor, n: int) -> list[Tensor]:
        if not seen:
            return [torch.zeros_like(p) for p in module.parameters(recurse=False)]
        a, g = self._linear_parts(seen, n)
        g = g * coef[:, None, None]
        sums = [torch.einsum("sto,sti->oi", g, a)]
        if module.bias is not None:
            sums.append(g.sum((0, 1)))
        return sums

    # ---- the first step's check -------------------------------------------------------------

    def _verify(self, calls: dict[nn.Module, list[tuple[Tensor, Tensor]]], n: int, true_grads: Any) -> None:
        """The unclipped per-sample gradients must sum to autograd's gradient of the batch loss."""
        ones = torch.ones(n)
        names = {id(p): name for name, p in self.model.named_parameters()}
        rebuilt: dict[int, Tensor] = {}
        for module in self.layers:
            seen = calls[module]
            sums = (
                self._embedding_sum(module, seen, ones)
                if isinstance(module, nn.Embedding)
                else (self._linear_sum(cast(nn.Linear, module), seen, ones, n))
            )
            for p, total in zip(module.parameters(recurse=False), sums, strict=True):
                rebuilt[id(p)] = total / n
        for p, expected in zip(self.params, true_grads, strict=True):
            expected = torch.zeros_like(p) if expected is None else expected
            if expected.is_sparse:
                expected = expected.to_dense()
            got = rebuilt[id(p)]
            scale = float(expected.abs().max()) + 1e-12
            if not torch.allclose(got, expected, rtol=1e-3, atol=1e-4 * scale):
                raise TrainingError(
                    f"trainer.privacy: model '{self.model_name}' uses parameter '{names[id(p)]}' other than by "
                    f"calling its layer on the batch (e.g. the whole weight in a product), so one sample's gradient "
                    f"cannot be bounded; DP-SGD cannot train this model"
                )
        self.verified = True
