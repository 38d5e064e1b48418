"""A compiled BPR-SGD epoch driven by Lightning (``trainer.optimizer=sgd_compiled`` or ``adagrad_compiled``).

Why: a mini-batch step through Lightning and autograd costs about 15 us per interaction on a CPU,
whatever the optimiser, while the arithmetic of a BPR update is ~3 d multiply-adds on three rows;
implicit's and Cornac's BPR run that update in one compiled loop at about 1 us per interaction. Here
the same loop (:mod:`recframe.kernels.bpr_sgd`: draw a negative, BPR gradient, update the user,
positive and negative rows in place) trains a whole slice of the epoch's shuffled pairs per call.

How it fits the run: the training stream (:class:`CompiledPairs`) yields the epoch's shuffled
training pairs in slices of ``trainer.batch_size * trainer.batches_per_step`` pairs (plus a seed per
slice); :class:`CompiledEpochModule` takes one manual-optimisation step per slice, in which
:class:`CompiledBPRSGD` (a ``torch.optim.Optimizer`` over the model's two embedding tables) runs the
kernel on the tables' memory. So Lightning still drives epochs, validation, early stopping,
checkpoints (Adagrad's sums are optimiser state and are checkpointed), ``trainer.max_time`` (checked
between slices), progress bars, logging and schedulers (they set ``lr`` per slice); the epoch's
``train/loss`` is the mean BPR loss of its pairs. ``run.optimizer_steps`` counts the SGD updates
(one per training pair), and ``run.compiled_epoch`` the rule, threads and kernel calls.

Threads: ``torch.get_num_threads()`` threads each train a contiguous block of a slice with their
own random stream, writing the shared tables without locks (Hogwild!); one thread is deterministic
for a seed. Which models, losses and settings it accepts is checked at plan time
(:mod:`recframe.training.compiled_options`).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor

from recframe.data.interactions import Interactions
from recframe.errors import TrainingError
from recframe.training.batches import EpochBatches
from recframe.training.compiled_options import COMPILED_OPTIMIZERS
from recframe.training.module import RecframeModule
from recframe.training.sampling import NegativeSampler


def is_compiled(t: Any) -> bool:
    """Whether ``trainer.optimizer`` names the compiled epoch."""
    return str(getattr(t, "optimizer", "") or "").lower() in COMPILED_OPTIMIZERS


class CompiledPairs(EpochBatches):
    """The epoch's training pairs in a shuffled order, in slices of ``batch_size`` pairs.

    Yields ``user: long[C]``, ``pos_item: long[C]`` and ``seed: long[]`` (the slice's random stream:
    its negatives are drawn inside the kernel). ``sampler`` holds the positives' sorted keys and,
    for popularity negatives, the CDF. Every epoch draws its order and seeds from ``(seed, epoch)``,
    so a resumed run trains on the same slices.
    """

    kind = "pairwise"

    def __init__(self, train: Interactions, batch_size: int, sampler: NegativeSampler, seed: int) -> None:
        super().__init__(batch_size, seed)
        self.user = np.ascontiguousarray(train.user, dtype=np.int64)
        self.item = np.ascontiguousarray(train.item, dtype=np.int64)
        self.sampler = sampler
        self.cdf = np.ascontiguousarray(sampler.cdf) if sampler.distribution == "popularity" else np.empty(0)

    @property
    def n_rows(self) -> int:
        return len(self.user)

    def draw_epoch(self) -> Iterator[dict[str, Tensor]]:
        rng = self.epoch_rng()
        order = rng.permutation(len(self.user))
        slices = list(self.batch_slices(len(order)))
        seeds = rng.integers(0, np.iinfo(np.int64).max, size=len(slices), dtype=np.int64)
        for sl, seed in zip(slices, seeds, strict=True):
            rows = order[sl]
            yield {
                "user": torch.from_numpy(self.user[rows]),
                "pos_item": torch.from_numpy(self.item[rows]),
                "seed": torch.tensor(int(seed), dtype=torch.int64),
            }


@lru_cache(maxsize=4)
def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool kept for the process (the kernel releases the GIL, so its threads run in parallel)."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="recframe-bpr-sgd")


def thread_seeds(seed: int, threads: int) -> list[np.uint64]:
    """One random-stream start per thread of a slice, from the slice's seed."""
    return [np.uint64((int(seed) + t * 0x632BE59BD9B4E019) % 2**64) for t in range(threads)]


def run_slice(
    user_weight: np.ndarray,
    item_weight: np.ndarray,
    sums: tuple[np.ndarray, np.ndarray] | None,
    users: np.ndarray,
    items: np.ndarray,
    sampler_keys: np.ndarray,
    sampler_starts: np.ndarray,
    n_items: int,
    cdf: np.ndarray,
    lr: float,
    weight_decay: float,
    eps: float,
    seed: int,
    threads: int,
) -> tuple[float, np.ndarray]:
    """Train on one slice of pairs in place with ``threads`` threads; ``(summed loss, negatives: int64[C])``.

    ``threads`` contiguous blocks of the slice run at once, each from :func:`thread_seeds`' start;
    with one thread the result depends only on the inputs and the seed.
    """
    from recframe.kernels.bpr_sgd import bpr_sgd_block

    negatives = np.empty(len(users), dtype=np.int64)
    user_sum, item_sum = sums if sums is not None else (user_weight[:0], item_weight[:0])
    threads = max(1, min(int(threads), len(users)))
    bounds = np.linspace(0, len(users), threads + 1).astype(np.int64)
    starts = thread_seeds(seed, threads)

    def block(t: int) -> float:
        lo, hi = bounds[t], bounds[t + 1]
        return float(
            bpr_sgd_block(
                user_weight,
                item_weight,
                user_sum,
                item_sum,
                users[lo:hi],
                items[lo:hi],
                sampler_keys,
                sampler_starts,
                n_items,
                cdf,
                lr,
                weight_decay,
                sums is not None,
                eps,
                starts[t],
                negatives[lo:hi],
            )
        )

    if threads == 1:
        return block(0), negatives
    return sum(_pool(threads).map(block, range(threads))), negatives


class CompiledBPRSGD(torch.optim.Optimizer):
    """SGD or Adagrad on BPR-MF's user and item tables, one compiled pass per slice of pairs.

    ``params`` are exactly the two float32 CPU tables ``[user_weight, item_weight]``; ``step()``
    trains on :attr:`pending` (a :class:`CompiledPairs` slice) and leaves its summed loss in
    :attr:`last_loss`. ``lr`` and ``weight_decay`` are per-pair (the step of one pair's gradient),
    as in implicit's and Cornac's BPR, not per mini-batch mean.
    """

    def __init__(
        self,
        params: list[Tensor],
        sampler: NegativeSampler,
        cdf: np.ndarray,
        rule: str,
        lr: float,
        weight_decay: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        if rule not in COMPILED_OPTIMIZERS.values():
            raise TrainingError(f"unknown compiled rule {rule!r} (sgd, adagrad)")
        if len(params) != 2 or any(p.dtype != torch.float32 or p.device.type != "cpu" for p in params):
            raise TrainingError("the compiled BPR-SGD epoch trains two float32 CPU embedding tables (user, item)")
        super().__init__(params, {"rule": rule, "lr": float(lr), "weight_decay": float(weight_decay), "eps": eps})
        self.sampler, self.cdf = sampler, cdf
        self.pending: dict[str, Tensor] | None = None
        self.last_loss = 0.0
        self.kernel_calls = 0

    @torch.no_grad()
    def step(self, closure: Any = None) -> Tensor | None:  # type: ignore[override]
        if closure is not None:
            with torch.enable_grad():
                closure()
        if self.pending is None:
            raise TrainingError("CompiledBPRSGD.step() needs a slice of pairs in .pending")
        group = self.param_groups[0]
        user_weight, item_weight = group["params"]
        sums = None
        if group["rule"] == "adagrad":
            for p in (user_weight, item_weight):
                if "sum" not in self.state[p]:
                    self.state[p]["sum"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
            sums = (self.state[user_weight]["sum"].numpy(), self.state[item_weight]["sum"].numpy())
        batch, self.pending = self.pending, None
        self.last_loss, _ = run_slice(
            user_weight.detach().numpy(),
            item_weight.detach().numpy(),
            sums,
            batch["user"].numpy(),
            batch["pos_item"].numpy(),
            self.sampler.keys,
            self.sampler.starts,
            int(self.sampler.n_items),
            self.cdf,
            group["lr"],
            group["weight_decay"],
            group["eps"],
            int(batch["seed"]),
            torch.get_num_threads(),
        )
        self.kernel_calls += 1
        return None


def embedding_tables(model: Any) -> tuple[Tensor, Tensor]:
    """The ``(user, item)`` weight tables named by the model's ``dot_product_tables``."""
    names = type(model).dot_product_tables
    if names is None:
        raise TrainingError(f"model '{type(model).__name__}' declares no dot_product_tables for the compiled epoch")
    user, item = (getattr(model, name).weight for name in names)
    for table in (user, item):
        if not table.is_contiguous():
            raise TrainingError("the compiled BPR-SGD epoch needs C-contiguous embedding tables")
    return user, item


class CompiledEpochModule(RecframeModule):
    """:class:`RecframeModule` whose training step is one compiled BPR-SGD pass over a slice of pairs.

    The train stream is :class:`CompiledPairs`; the optimiser :class:`CompiledBPRSGD`. Validation,
    checkpoints and stopping are the base class's.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.automatic_optimization = False
        self.sgd_updates = 0  # SGD updates (training pairs) so far, kept in checkpoints

    def _optimizer(self) -> torch.optim.Optimizer:
        rule = COMPILED_OPTIMIZERS[str(self.optim["optimizer"]).lower()]
        batches = self.train_batches
        if not isinstance(batches, CompiledPairs):
            raise TrainingError("trainer.optimizer=*_compiled trains on the compiled pair stream (CompiledPairs)")
        return CompiledBPRSGD(
            list(embedding_tables(self.model)),
            batches.sampler,
            batches.cdf,
            rule,
            lr=float(self.optim["lr"]),
            weight_decay=float(self.optim.get("weight_decay", 0.0)),
        )

    def _compiled(self) -> tuple[Any, CompiledBPRSGD]:
        """Lightning's wrapper of the optimizer, and the :class:`CompiledBPRSGD` inside it."""
        optimizer = self.optimizers()
        inner = getattr(optimizer, "optimizer", optimizer)
        if not isinstance(inner, CompiledBPRSGD):
            raise TrainingError("trainer.optimizer=*_compiled: the module's optimizer is not CompiledBPRSGD")
        return optimizer, inner

    def training_step(self, batch: Any, batch_idx: int) -> Tensor | None:
        """One compiled pass over the slice ``batch``; its loss joins the epoch's mean ``train/loss``."""
        optimizer, inner = self._compiled()
        inner.pending = batch
        if self.plain_steps:
            self._plain_optimizer_step(optimizer)
        else:
            optimizer.step()
        n = len(batch["user"])
        loss = float(inner.last_loss)
        if not math.isfinite(loss):
            raise TrainingError(
                f"loss became {loss} at epoch {self.current_epoch}, slice {batch_idx} of the compiled "
                f"BPR-SGD epoch; lower trainer.lr (now {self.optim['lr']}) or add trainer.weight_decay"
            )
        scheduler = self._manual_scheduler("step")
        if scheduler is not None:
            from recframe.training.schedulers import step_scheduler

            step_scheduler(scheduler)
        total = torch.tensor(loss, dtype=torch.float64)
        self.epoch_loss = total if self.epoch_loss is None else self.epoch_loss + total
        self.epoch_rows += n
        self.sgd_updates += n
        return None

    def on_train_end(self) -> None:
        super().on_train_end()
        self.trainer.callback_metrics["optimizer_steps"] = torch.tensor(float(self.sgd_updates))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["sgd_updates"] = int(self.sgd_updates)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.sgd_updates = int(checkpoint.get("sgd_updates", 0))

    def fit_facts(self) -> dict[str, Any]:
        """``run.compiled_epoch`` of ``results.json``: the rule, the threads and the kernel calls."""
        _, inner = self._compiled()
        return {
            "rule": inner.param_groups[0]["rule"],
            "threads": int(torch.get_num_threads()),
            "kernel_calls": int(inner.kernel_calls),
            "pairs_per_call": int(self.train_batches.batch_size),
            "sgd_updates": int(self.sgd_updates),
        }


def compiled_stream(train: Interactions, t: Any, seed: int) -> CompiledPairs:
    """The training stream of ``trainer.optimizer=*_compiled``: slices of ``batch_size * batches_per_step`` pairs."""
    from omegaconf import OmegaConf

    per_step = OmegaConf.select(t, "batches_per_step", default=None) or 1
    sampler = NegativeSampler(train, distribution=str(t.negative_sampling))
    return CompiledPairs(train, int(t.batch_size) * int(per_step), sampler, seed)
