"""The FLOP count reuses the first batch the fit drew: same count as drawing it again, no second epoch drawn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recframe.training.batches import EpochBatches, InteractionBatches, UserRowBatches
from recframe.training.sampling import NegativeSampler


def _train(n_users: int = 30, n_items: int = 50, per_user: int = 7):
    from recframe.api import Interactions

    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    return Interactions(user=users, item=items, n_users=n_users, n_items=n_items, timestamp=np.arange(len(users)))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _fresh_first(make) -> dict[str, torch.Tensor]:
    """The old way: a new stream, epoch 0, its first batch."""
    stream = make()
    stream.set_epoch(0)
    return next(iter(stream))


@pytest.mark.parametrize("kind", ["pairwise", "pointwise", "listwise", "compiled"])
def test_the_stream_keeps_epoch_zeros_first_batch_as_drawn(kind):
    train = _train()

    def make():
        if kind == "listwise":
            return UserRowBatches(train, 8, seed=5)
        if kind == "compiled":  # trainer.optimizer=sgd_compiled's slices of pairs
            from recframe.training.compiled_epoch import CompiledPairs

            return CompiledPairs(train, 16, NegativeSampler(train), seed=5)
        return InteractionBatches(train, kind, 16, 2, NegativeSampler(train), seed=5)

    stream = make()
    stream.set_epoch(0)
    epoch0 = list(stream)  # what the fit's first epoch sees
    assert stream.kept_first is not None  # kept while the fit iterated, not drawn again later
    stream.set_epoch(1)
    epoch1 = list(stream)
    assert not _same(epoch0[0], epoch1[0])  # the epochs differ, so keeping the wrong one would show
    kept = stream.first_batch()
    assert _same(kept, epoch0[0])
    assert _same(kept, _fresh_first(make))
    assert stream.epoch == 2  # reading it moves no epoch counter


def test_a_stream_that_never_ran_epoch_zero_draws_it_once():
    train = _train()
    sampler = NegativeSampler(train)
    calls = []
    original = sampler.sample

    def counting(users, n, rng):
        calls.append(len(users))
        return original(users, n, rng)

    sampler.sample = counting  # type: ignore[method-assign]
    stream = InteractionBatches(train, "pairwise", 16, 1, sampler, seed=2)
    stream.set_epoch(3)  # a resumed run starts at a later epoch
    next(iter(stream))
    assert len(calls) == 1
    first = stream.first_batch()
    assert len(calls) == 2 and stream.epoch == 4
    assert _same(first, _fresh_first(lambda: InteractionBatches(train, "pairwise", 16, 1, NegativeSampler(train), 2)))
    stream.first_batch()
    assert len(calls) == 2  # drawn once, then kept


def test_the_kept_batch_does_not_hold_the_epochs_arrays():
    """The yielded tensors are views of the epoch's drawn arrays; the kept copy owns only its rows."""
    train = _train(n_users=200, per_user=10)
    stream = InteractionBatches(train, "pairwise", 16, 1, NegativeSampler(train), seed=0)
    stream.set_epoch(0)
    list(stream)
    kept = stream.first_batch()
    assert all(v.untyped_storage().nbytes() == v.numel() * v.element_size() for v in kept.values())


@pytest.mark.parametrize(
    "overrides",
    [
        ["model=bpr", "model.embedding_dim=16", "trainer.batches_per_step=3"],
        ["model=multvae", "trainer.batch_size=128"],
    ],
    ids=["bpr-grouped", "multvae"],
)
def test_a_real_run_counts_the_same_flops_without_drawing_another_epoch(tmp_path, monkeypatch, overrides):
    """ML-100K, 2 epochs: every epoch-sized negative draw is one the training made (none for the
    count), and ``cost.train_flops`` equals the count on a freshly drawn first batch (the old way)."""
    from recframe import runner
    from recframe.runner import run
    from recframe.stages.fit import training_stream
    from recframe.training import sampling
    from recframe.training.fit import training_batches
    from recframe.training.flops import step_flops

    draws: list[int] = []
    original_sample = sampling.NegativeSampler.sample

    def counting_sample(self, users, n, rng):
        draws.append(len(users))
        return original_sample(self, users, n, rng)

    monkeypatch.setattr(sampling.NegativeSampler, "sample", counting_sample)
    epochs_drawn: list[int] = []
    original_rng = EpochBatches.epoch_rng

    def counting_rng(self):
        epochs_drawn.append(self.epoch)
        return original_rng(self)

    monkeypatch.setattr(EpochBatches, "epoch_rng", counting_rng)
    seen: dict = {}
    index = [name for name, _ in runner.STAGES].index("flops")
    counting_stage = runner.STAGES[index][1]

    def flops_stage(ctx):
        seen["draws_before"] = len(draws)
        seen["epochs_before"] = list(epochs_drawn)
        stream = training_stream(ctx)
        seen["kept_before"] = stream.kept_first is not None
        counting_stage(ctx)
        seen["draws_after"] = len(draws)
        seen["ctx"] = ctx

    monkeypatch.setattr(runner, "STAGES", [*runner.STAGES[:index], ("flops", flops_stage), *runner.STAGES[index + 1 :]])
    results = run(
        [
            "data=ml-100k",
            *overrides,
            "trainer.max_epochs=2",
            "trainer.patience=5",
            "trainer.progress_bar=false",
            "metrics.names=[ndcg]",
            "protocol.cutoffs=[10]",
        ],
        run_dir=tmp_path,
    )
    assert results["run"]["epochs"] == 2
    assert seen["kept_before"]  # the fit's epoch 0 left its first batch on the stream
    assert seen["draws_after"] == seen["draws_before"]  # the count drew nothing
    assert epochs_drawn == [0, 1]  # one draw per epoch trained: no second epoch 0 for the count
    ctx = seen["ctx"]
    n_train = len(ctx.split.train)
    if "model=bpr" in overrides:
        assert draws.count(n_train) == 2  # one negative draw per epoch trained, none more
    # the old way: a new stream with the run's settings, epoch 0's first batch drawn again
    fresh = training_batches(ctx.model, ctx.split.train, ctx.cfg.trainer, ctx.seeds.sampler)
    old_first = _fresh_first(lambda: fresh)
    assert _same(training_stream(ctx).first_batch(), old_first)
    from recframe.factory import build

    planned = ctx.plan.loss
    loss = build(planned.factory, "loss", planned.name, dict(planned.params))
    per_step, method = step_flops(ctx.model, loss, old_first)
    rows = len(old_first["user"])
    per_epoch = round(per_step / rows * fresh.n_rows)
    cost = results["cost"]
    assert cost["flops_method"] == method
    assert cost["train_flops_per_epoch"] == per_epoch > 0
    assert cost["train_flops"] == 2 * per_epoch


def test_streams_that_iterate_on_their_own_still_give_epoch_zeros_first_batch():
    """A subclass overriding ``__iter__`` (not ``draw_epoch``), and a stream of grouped batches that
    is no ``EpochBatches``, give the first batch of epoch 0 by drawing it again."""
    from recframe.training.batches import first_training_batch
    from recframe.training.grouping import BatchGroups

    train = _train()

    class OwnLoop(InteractionBatches):
        def __iter__(self):
            return self.draw_epoch()

    def make():
        return InteractionBatches(train, "pairwise", 16, 1, NegativeSampler(train), seed=4)

    own = OwnLoop(train, "pairwise", 16, 1, NegativeSampler(train), seed=4)
    own.set_epoch(0)
    list(own)
    assert own.kept_first is None  # its loop bypasses the keeping
    assert _same(own.first_batch(), _fresh_first(make))
    groups = BatchGroups(make(), 3)
    groups.set_epoch(5)
    assert _same(first_training_batch(groups), _fresh_first(make))
