"""The fast paths of the training loop give the same numbers as the plain ones.

* several mini-batches per Lightning ``training_step`` (``trainer.batches_per_step``) train to the
  same weights as one per step;
* ``recframe.training.dot_scores.dot_scores`` gives autograd's scores and gradients;
* BPR-MF's one-lookup forward gives the base class's scores.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import recframe
from recframe.training.dot_scores import dot_scores
from recframe.training.grouping import BatchGroups

BASE = [
    "data=synthetic",
    "trainer.max_epochs=3",
    "trainer.lr=0.01",
    "trainer.batch_size=64",
    "trainer.progress_bar=false",
    "logger=none",
    "data_cache=false",
]


def test_batch_groups_keep_the_batches_and_their_order():
    class Batches(torch.utils.data.IterableDataset):
        epoch = None

        def __len__(self):
            return 7

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __iter__(self):
            return iter(range(7))

    inner = Batches()
    groups = BatchGroups(inner, 3)
    assert len(groups) == 3 and list(groups) == [[0, 1, 2], [3, 4, 5], [6]]
    groups.set_epoch(5)
    assert inner.epoch == 5
    with pytest.raises(ValueError):
        BatchGroups(inner, 0)


def test_grouped_steps_train_to_the_same_weights(tmp_path):
    one = recframe.run([*BASE, "trainer.batches_per_step=1"], run_dir=tmp_path / "one")
    grouped = recframe.run([*BASE, "trainer.batches_per_step=3"], run_dir=tmp_path / "grouped")
    assert grouped["metrics"] == one["metrics"]
    assert (grouped["run"]["epochs"], grouped["run"]["best_valid"]) == (one["run"]["epochs"], one["run"]["best_valid"])
    a = torch.load(tmp_path / "one" / "checkpoints" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "grouped" / "checkpoints" / "last.ckpt", weights_only=False)
    assert a["global_step"] == b["global_step"] > 0  # one optimizer step per mini-batch either way
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name


@pytest.mark.parametrize("hook", ["on_after_backward", "on_before_optimizer_step"])
def test_step_hooks_run_for_every_mini_batch_when_a_callback_listens(tmp_path, monkeypatch, hook):
    """Grouped steps skip Lightning's step hooks only when they are no-ops (step_hooks_are_noops)."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback

    calls = []
    Counting = type("Counting", (Callback,), {hook: lambda self, *args: calls.append(1)})

    class Trainer(pl.Trainer):
        def __init__(self, *args, callbacks=None, **kwargs):
            super().__init__(*args, callbacks=[*(callbacks or []), Counting()], **kwargs)

    monkeypatch.setattr(pl, "Trainer", Trainer)
    results = recframe.run([*BASE, "trainer.batches_per_step=3"], run_dir=tmp_path)
    assert len(calls) == results["run"]["optimizer_steps"] > 0


def test_step_hooks_are_noops_only_for_full_precision_single_device_and_no_listeners(tmp_path):
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback

    from recframe.training.module import RecframeModule, step_hooks_are_noops

    class ListeningBackward(Callback):
        def on_before_backward(self, trainer, module, loss):
            pass

    class ListeningStep(Callback):
        def on_before_optimizer_step(self, trainer, module, optimizer):
            pass

    class Overriding(RecframeModule):
        def on_after_backward(self):
            pass

    def trainer(**kwargs):
        return pl.Trainer(
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            default_root_dir=str(tmp_path),
            **kwargs,
        )

    def module(cls=RecframeModule):
        return cls(nn.Linear(2, 1), None, {"lr": 0.1}, None, None, batches_per_step=4)

    assert step_hooks_are_noops(trainer(), module())
    assert not step_hooks_are_noops(trainer(precision="bf16-mixed"), module())  # a mixed-precision plugin
    assert not step_hooks_are_noops(trainer(gradient_clip_val=1.0), module())
    assert not step_hooks_are_noops(trainer(callbacks=[ListeningBackward()]), module())
    assert not step_hooks_are_noops(trainer(callbacks=[ListeningStep()]), module())
    assert not step_hooks_are_noops(trainer(), module(Overriding))


def test_a_diverging_loss_names_the_same_batch_with_and_without_grouping(tmp_path):
    from recframe.errors import TrainingError

    messages = []
    for per_step in (1, 4):
        with pytest.raises(
            TrainingError, match=r"loss became (nan|inf|-inf) at epoch 0, batch \d+; lower trainer.lr"
        ) as err:
            recframe.run(
                [*BASE, "trainer.lr=1e30", f"trainer.batches_per_step={per_step}"], run_dir=tmp_path / str(per_step)
            )
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_grouped_steps_log_the_same_epoch_loss(tmp_path):
    import csv

    def losses(per_step):
        run_dir = tmp_path / str(per_step)
        recframe.run(
            [*[a for a in BASE if a != "logger=none"], "logger=csv", f"trainer.batches_per_step={per_step}"],
            run_dir=run_dir,
        )
        with open(run_dir / "logs" / "metrics.csv") as fh:
            return [float(r["train/loss"]) for r in csv.DictReader(fh) if r.get("train/loss")]

    one, grouped = losses(1), losses(3)
    assert len(one) == len(grouped) == 3
    assert np.allclose(one, grouped, rtol=1e-6)


def test_grouped_steps_resume_like_an_uninterrupted_run(tmp_path):
    args = [*BASE, "trainer.batches_per_step=4"]
    straight = recframe.run([*args, "trainer.max_epochs=4"], run_dir=tmp_path / "straight")
    recframe.run([*args, "trainer.max_epochs=2"], run_dir=tmp_path / "resumed")  # stands for a killed run
    resumed = recframe.run([*args, "trainer.max_epochs=4", "resume=true"], run_dir=tmp_path / "resumed")
    assert resumed["run"]["resumed_from"].endswith("last.ckpt")
    assert resumed["metrics"] == straight["metrics"]


def test_bpr_forward_matches_the_base_class_scores():
    from recframe_cf.bpr import BPRMF
    from recframe.models import DatasetInfo, Recommender

    torch.manual_seed(0)
    model = BPRMF(DatasetInfo(9, 13, None, np.zeros(13, dtype=np.int64)), embedding_dim=5)
    batch = {
        "user": torch.randint(0, 9, (6,)),
        "pos_item": torch.randint(0, 13, (6,)),
        "neg_item": torch.randint(0, 13, (6, 4)),
    }
    fast, base = model(batch), Recommender.forward(model, batch)
    for key in ("pos_score", "neg_score"):
        assert fast[key].shape == base[key].shape
        assert torch.allclose(fast[key], base[key], rtol=1e-6, atol=1e-7), key


@pytest.mark.parametrize("kernels_on", ["1", "0"])
@pytest.mark.parametrize("k", [1, 3, 12])
def test_dot_scores_match_autograd(k, kernels_on, monkeypatch):
    """Both paths (numba's kernel, torch's ops) give autograd's scores and gradients."""
    from recframe import kernels

    monkeypatch.setenv("RECFRAME_KERNELS", kernels_on)
    assert kernels.available() == (kernels_on == "1")  # numba is part of the dev install
    torch.manual_seed(0)
    users_t, items_t = nn.Embedding(7, 5), nn.Embedding(9, 5)
    users, items = torch.randint(0, 7, (12,)), torch.randint(0, 9, (12, k))  # with repeats
    weight = torch.randn(12, k)
    fast = dot_scores(users_t, items_t, users, items)
    (fast * weight).sum().backward()
    grads = users_t.weight.grad.clone(), items_t.weight.grad.clone()
    users_t.zero_grad(), items_t.zero_grad()
    plain = (users_t(users).unsqueeze(1) * items_t(items)).sum(-1)
    (plain * weight).sum().backward()
    assert fast.shape == plain.shape == (12, k) and torch.allclose(fast, plain, atol=1e-6)
    assert torch.allclose(grads[0], users_t.weight.grad, atol=1e-6)
    assert torch.allclose(grads[1], items_t.weight.grad, atol=1e-6)


@pytest.mark.parametrize("kernels_on", ["1", "0"])
def test_dot_scores_propagate_nan(kernels_on, monkeypatch):
    """A NaN weight makes the scores that read it NaN, so the trainer's non-finite-loss check fires."""
    monkeypatch.setenv("RECFRAME_KERNELS", kernels_on)
    users_t, items_t = nn.Embedding(5, 4), nn.Embedding(6, 4)
    with torch.no_grad():
        users_t.weight[1, 2] = float("nan")
    scores = dot_scores(users_t, items_t, torch.tensor([1, 2]), torch.tensor([[1, 2], [3, 4]]))
    assert torch.isnan(scores[0]).all() and torch.isfinite(scores[1]).all()
