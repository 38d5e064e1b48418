"""Epoch cost of embedding models with dense and row-sparse optimisers, on ML-1M and on ML-20M-sized data.

Data: ML-1M's training part (the default protocol's split, seed 0: 6,040 users, 3,706 items) and a
synthetic set of ML-20M's shape (138,493 users, 26,744 items, 12M distinct interactions; item
popularity a power law with exponent ``--alpha``, user activity log-normal; generated in memory,
seeded). Models: BPR-MF (64 dims, BPR loss, one negative) and GMF (64 dims, BCE, four negatives),
batch 2,048, 16 mini-batches per Lightning step, trained through recframe's own LightningModule and
batch streams (no validation). Each configuration runs ``--epochs`` epochs (the last is timed;
``--max-batches`` caps an epoch's mini-batches, timing a prefix of it: a step's cost does not
depend on its place in the epoch); lines print microseconds per interaction of the steps, the
epoch's setup (permutation and negative sampling of every interaction, done before its first batch)
on its own, the epoch time (setup + steps) and the ratios of one run. ``sgd_compiled`` and
``adagrad_compiled`` (BPR-MF only) run the compiled BPR-SGD epoch through its own Lightning module:
one step per slice of 2,048 x 16 pairs, negatives drawn inside the kernel (so its setup is the
permutation alone), ``torch.get_num_threads()`` Hogwild threads. Usage:
``python benchmarks/sparse_epoch.py [--threads 1] [--sizes ml-1m,ml-20m] [--models bpr,gmf]
[--optimizers adam,sparse_adam,sgd_compiled] [--epochs 2] [--max-batches 0]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from recframe.data.interactions import Interactions
from recframe.models import DatasetInfo


def ml1m_train() -> Interactions:
    from recframe import config as rconfig
    from recframe.runner import load_data, make_split

    cfg = rconfig.compose(["data=ml-1m"])
    return make_split(cfg, load_data(cfg), 0).train


def ml20m_sized(
    n_users: int = 138_493, n_items: int = 26_744, target: int = 12_000_000, alpha: float = 0.9, seed: int = 0
) -> Interactions:
    """Distinct (user, item) pairs: log-normal user activity, power-law item popularity (ranks shuffled)."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, n_users)
    counts = np.maximum(5, np.round(activity / activity.sum() * target * 1.08)).astype(np.int64)
    counts = np.minimum(counts, n_items // 2)
    popularity = 1.0 / np.arange(1, n_items + 1) ** alpha
    popularity = rng.permutation(popularity / popularity.sum())
    users = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    items = rng.choice(n_items, size=len(users), p=popularity).astype(np.int64)
    keys = np.unique(users * n_items + items)[:target]
    return Interactions(user=keys // n_items, item=keys % n_items, n_users=n_users, n_items=n_items)


class Prefix(torch.utils.data.IterableDataset):
    """The first ``limit`` mini-batches of each epoch of ``inner`` (all when 0)."""

    def __init__(self, inner, limit: int) -> None:
        self.inner, self.limit = inner, int(limit)

    def __len__(self) -> int:
        return min(len(self.inner), self.limit) if self.limit else len(self.inner)

    def set_epoch(self, epoch: int) -> None:
        self.inner.set_epoch(epoch)

    def __iter__(self):
        start = time.perf_counter()
        for i, batch in enumerate(self.inner):
            if i == 0:  # the epoch's permutation and negative sampling, done once before its first batch
                self.setup_seconds = time.perf_counter() - start
            if self.limit and i >= self.limit:
                return
            yield batch


class _Slices:
    """A :class:`CompiledPairs`' own ``len`` and epoch, seen by :class:`Prefix`'s methods on a subclass of it."""

    def __init__(self, pairs) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        from recframe.training.compiled_epoch import CompiledPairs

        return CompiledPairs.__len__(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        self.pairs.epoch = int(epoch)

    def __iter__(self):
        from recframe.training.compiled_epoch import CompiledPairs

        return CompiledPairs.__iter__(self.pairs)


def epoch_seconds(
    train: Interactions, model_name: str, optimizer: str, epochs: int, max_batches: int
) -> tuple[float, float, int]:
    """Seconds of the last epoch's steps (its setup excluded), the setup's seconds, and the interactions trained on."""
    import lightning.pytorch as pl

    from recframe.training.batches import InteractionBatches
    from recframe.training.grouping import BatchGroups
    from recframe.training.module import RecframeModule
    from recframe.training.sampling import NegativeSampler
    from recframe_cf.bpr import BPRMF
    from recframe_cf.gmf import GMF
    from recframe_losses.pairwise import BCELoss, BPRLoss

    info = DatasetInfo(train.n_users, train.n_items, train, np.bincount(train.item, minlength=train.n_items))
    torch.manual_seed(0)
    if model_name == "bpr":
        model, loss, kind, negatives = BPRMF(info, 64), BPRLoss(), "pairwise", 1
    else:
        model, loss, kind, negatives = GMF(info, 64), BCELoss(), "pointwise", 4
    from recframe.training.compiled_epoch import CompiledEpochModule, CompiledPairs, is_compiled

    compiled = model_name == "bpr" and is_compiled(argparse.Namespace(optimizer=optimizer))
    if compiled:  # slices of 16 mini-batches' pairs, one kernel pass each; lr and L2 per pair (implicit's 0.01)
        limit = -(-max_batches // 16)

        class CompiledPrefix(CompiledPairs):  # the compiled module trains on CompiledPairs; Prefix's timing
            __len__, __iter__ = Prefix.__len__, Prefix.__iter__

            def __init__(self) -> None:
                super().__init__(train, 2048 * 16, NegativeSampler(train), 0)
                self.inner, self.limit = _Slices(self), limit

        batches = CompiledPrefix()
        optim = {"optimizer": optimizer, "lr": 0.01, "weight_decay": 0.01}
        module = CompiledEpochModule(model, loss, optim, None, None, batches)
        loader = torch.utils.data.DataLoader(batches, batch_size=None)
    else:
        batches = Prefix(InteractionBatches(train, kind, 2048, negatives, NegativeSampler(train), 0), max_batches)
        optim = {"optimizer": optimizer, "lr": 1e-3, "weight_decay": 0.0}
        module = RecframeModule(model, loss, optim, None, None, batches, batches_per_step=16)
        loader = torch.utils.data.DataLoader(BatchGroups(batches, 16), batch_size=None)
    times: list[float] = []

    class Clock(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            times.append(time.perf_counter() - self.start)

    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[Clock()],
    )
    trainer.fit(module, loader)
    rows = len(batches) * (2048 * 16 if compiled else 2048)
    return times[-1] - batches.setup_seconds, batches.setup_seconds, min(rows, len(train.user))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default="ml-1m,ml-20m")
    parser.add_argument("--models", default="bpr,gmf")
    parser.add_argument("--optimizers", default="adam,sparse_adam")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-batches", type=int, default=0, help="mini-batches per epoch on ml-20m (0: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    data = {}
    for size in args.sizes.split(","):
        start = time.perf_counter()
        data[size] = ml1m_train() if size == "ml-1m" else ml20m_sized()
        d = data[size]
        print(
            f"{size}: {d.n_users} users, {d.n_items} items, {len(d.user)} training interactions "
            f"({time.perf_counter() - start:.1f} s to load/generate)",
            flush=True,
        )
    for model in args.models.split(","):
        per: dict[tuple[str, str], float] = {}
        for size, train in data.items():
            for opt in args.optimizers.split(","):
                limit = args.max_batches if size != "ml-1m" else 0
                seconds, setup, n = epoch_seconds(train, model, opt, args.epochs, limit)
                per[size, opt] = seconds / n * 1e6
                full = setup + seconds * len(train.user) / n
                print(
                    f"{model:4s} {size:7s} {opt:12s} {per[size, opt]:7.3f} us/interaction in steps   setup "
                    f"{setup:6.1f} s   epoch {full:8.1f} s"
                    f"{'' if n == len(train.user) else f' (extrapolated from {n} interactions)'}",
                    flush=True,
                )
        sizes = list(data)
        for opt in args.optimizers.split(","):
            if len(sizes) == 2:
                print(
                    f"{model:4s} {opt:12s} per-interaction time {sizes[1]} / {sizes[0]}: "
                    f"{per[sizes[1], opt] / per[sizes[0], opt]:.2f}x"
                )
        opts = args.optimizers.split(",")
        for size in sizes:
            for other in opts[1:]:
                print(f"{model:4s} {size:7s} {other} / {opts[0]}: {per[size, other] / per[size, opts[0]]:.2f}x")


if __name__ == "__main__":
    main()
