"""Training FLOPs: the analytic counts against torch's FlopCounterMode, and the count in results.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from recframe.training.flops import measured_step_flops, training_flops


def _info(n_users: int, n_items: int):
    from recframe.api import DatasetInfo, Interactions

    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(n_users), 6)
    items = rng.integers(0, n_items, len(users))
    train = Interactions(user=users, item=items, n_users=n_users, n_items=n_items, timestamp=np.arange(len(users)))
    return DatasetInfo(n_users, n_items, train, np.bincount(items, minlength=n_items)), train


def _sequence_batch(n_items: int, b: int = 5, length: int = 12, negatives: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    seq = torch.randint(0, n_items, (b, length), generator=g)
    seq[0, :4] = -1  # left padding
    seq[1, :9] = -1
    pos = torch.roll(seq, -1, 1)
    pos[:, -1] = torch.randint(0, n_items, (b,), generator=g)
    pos[seq < 0] = -1
    return {
        "user": torch.arange(b),
        "seq": seq,
        "pos_item": pos,
        "neg_item": torch.randint(0, n_items, (b, length, negatives), generator=g),
    }


@pytest.mark.parametrize(("loss_name", "negatives"), [("sequence_ce", 1), ("sequence_bce", 1), ("sampled_softmax", 6)])
@pytest.mark.parametrize(
    "shape", [dict(num_layers=1, num_heads=1, dqk=8, dv=8), dict(num_layers=3, num_heads=2, dqk=4, dv=6)]
)
def test_hstu_analytic_flops_equal_the_flop_counter(loss_name, negatives, shape):
    from recframe.plugins import registries
    from recframe_sequential.hstu import HSTU

    info, _ = _info(7, 30)
    model = HSTU(info, embedding_dim=16, max_len=12, **shape)
    loss = registries().loss.get(loss_name)()
    batch = _sequence_batch(30, negatives=negatives)
    counted = measured_step_flops(model, loss, batch)
    analytic = model.training_flops(batch, loss_name == "sequence_ce")
    assert counted > 0
    assert analytic == counted
    assert all(p.grad is None for p in model.parameters())  # the count leaves no gradients behind


def test_bpr_analytic_flops_match_the_same_products_in_plain_torch():
    """BPR-MF's dot products run in a numba kernel the counter cannot see: the same scores written
    as batched products in torch are counted, and the model's analytic count must equal that."""
    from recframe_cf.bpr import BPRMF

    info, _ = _info(20, 40)
    model = BPRMF(info, embedding_dim=8)
    b, n = 16, 3
    batch = {"user": torch.arange(b), "pos_item": torch.arange(b), "neg_item": torch.randint(0, 40, (b, n))}
    from torch.utils.flop_counter import FlopCounterMode

    items = torch.cat([batch["pos_item"].view(-1, 1), batch["neg_item"]], dim=1)
    counter = FlopCounterMode(display=False)
    with counter:
        p = model.user_embedding(batch["user"]).unsqueeze(1)  # [B, 1, d]
        q = model.item_embedding(items)  # [B, 1 + n, d]
        scores = (p @ q.transpose(1, 2)).squeeze(1)
        scores.sum().backward()
    assert model.training_flops(batch, False) == counter.get_total_flops() > 0


def test_training_flops_scale_the_first_batch_by_rows_and_epochs():
    from recframe.training.sampling import NegativeSampler
    from recframe.training.sequences import SequenceBatches
    from recframe_losses.sequence import SequenceCELoss
    from recframe_sequential.hstu import HSTU

    info, train = _info(9, 25)
    model = HSTU(info, embedding_dim=8, dqk=4, dv=4, max_len=6)
    batches = SequenceBatches(train, 4, 6, 1, NegativeSampler(train), 0)
    out = training_flops(model, SequenceCELoss(), batches, epochs=3)
    batches.set_epoch(0)
    first = next(iter(batches))
    per_row = model.training_flops(first, True) / len(first["user"])
    assert out["flops_method"] == "analytic"
    assert out["train_flops_per_epoch"] == round(per_row * batches.n_rows)
    assert out["train_flops"] == 3 * out["train_flops_per_epoch"]


@pytest.mark.slow
def test_results_json_carries_train_flops(tmp_path):
    """A real run on ML-100k: cost.train_flops is the per-epoch count times the epochs run."""
    from recframe.runner import run

    results = run(
        [
            "data=ml-100k",
            "model=sasrec",
            "protocol=leave_one_out",
            "model.embedding_dim=16",
            "model.num_layers=1",
            "model.max_len=20",
            "trainer.max_epochs=2",
            "trainer.progress_bar=false",
            "metrics.names=[ndcg]",
            "protocol.cutoffs=[10]",
        ],
        run_dir=tmp_path,
    )
    cost = results["cost"]
    assert cost["flops_method"] == "flop_counter"
    assert cost["train_flops_per_epoch"] > 0
    assert cost["train_flops"] == cost["train_flops_per_epoch"] * results["run"]["epochs"]
    # SASRec's forward has at least 3 products of its d x 3d attention projection per real position
    assert cost["train_flops_per_epoch"] > 2 * 16 * 48 * 90_000
    saved = json.loads(next(tmp_path.rglob("results.json")).read_text())
    assert saved["cost"]["train_flops"] == cost["train_flops"]
