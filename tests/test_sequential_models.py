"""SASRec and GRU4Rec: causality, exactness of the fast paths, history at evaluation, learning, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recframe
from recframe.data.interactions import Interactions
from recframe.errors import ConfigError, TrainingError
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.models import DatasetInfo
from recframe.plugins import registries
from recframe.runner import build
from recframe.training.sampling import NegativeSampler
from recframe.training.sequences import SequenceBatches

MODELS = ["sasrec", "gru4rec"]


def info_for(data: Interactions) -> DatasetInfo:
    return DatasetInfo(data.n_users, data.n_items, data, np.bincount(data.item, minlength=data.n_items))


def make(name: str, data: Interactions, **params):
    return registries().model.get(name)(info_for(data), **params)


def chains(n_users=200, n_items=30, length=8, seed=0) -> Interactions:
    """Every user reads a run of consecutive items (mod n_items) from a random start: i -> i + 1."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, n_items, n_users)
    items = (start[:, None] + np.arange(length)) % n_items
    return Interactions(
        user=np.repeat(np.arange(n_users), length),
        item=items.reshape(-1),
        n_users=n_users,
        n_items=n_items,
        timestamp=np.tile(np.arange(length), n_users),
    )


def random_sequences(n_rows: int, width: int, n_items: int, seed: int = 0) -> torch.Tensor:
    """``long[n_rows, width]``: row r has r % (width + 1) items (0 .. width), left-padded with -1."""
    g = torch.Generator().manual_seed(seed)
    seq = torch.randint(0, n_items, (n_rows, width), generator=g)
    lengths = torch.arange(n_rows) % (width + 1)
    return seq.masked_fill(torch.arange(width) < (width - lengths).unsqueeze(1), -1)


@pytest.mark.parametrize("name", MODELS)
def test_state_at_t_ignores_later_items_and_reads_earlier_ones(name):
    torch.manual_seed(0)
    model = make(name, chains(), embedding_dim=16, num_layers=2, max_len=10).eval()
    seq = random_sequences(12, 10, 30)
    seq[:, 4:] = seq[:, 4:].clamp_min(0)  # positions 4.. hold items in every row
    later, earlier = seq.clone(), seq.clone()
    later[:, 7:] = (later[:, 7:] + 1) % 30
    earlier[:, 5] = (earlier[:, 5] + 1) % 30
    with torch.no_grad():
        base, after_later, after_earlier = model.encode(seq), model.encode(later), model.encode(earlier)
    assert torch.equal(base[:, :7], after_later[:, :7])
    assert not torch.allclose(base[:, 7:], after_later[:, 7:])
    assert torch.equal(base[:, :5], after_earlier[:, :5])
    assert not torch.allclose(base[:, 5:], after_earlier[:, 5:])


@pytest.mark.parametrize("name", MODELS)
def test_batch_outputs_equal_row_by_row_outputs(name):
    """SASRec's length buckets and packed positions are exact: a row's states never depend on its batch."""
    torch.manual_seed(0)
    model = make(name, chains(), embedding_dim=16, num_layers=2, max_len=50).eval()
    seq = random_sequences(60, 50, 30, seed=1)  # lengths 0..50: every bucket, empty rows included
    with torch.no_grad():
        batch = model.encode(seq)
        rows = torch.cat([model.encode(seq[i : i + 1]) for i in range(len(seq))])
    assert torch.isfinite(batch).all()
    assert torch.allclose(batch, rows, atol=1e-5)


def test_sasrec_positions_count_from_the_latest_item():
    """A narrower window of the same items (less left padding) gives the same states."""
    torch.manual_seed(0)
    model = make("sasrec", chains(), embedding_dim=16, max_len=20).eval()
    narrow = random_sequences(11, 10, 30, seed=2)  # 0..10 items in a 10-wide window
    wide = torch.nn.functional.pad(narrow, (10, 0), value=-1)  # the same items in a 20-wide window
    with torch.no_grad():
        assert torch.allclose(model.encode(wide)[:, -10:], model.encode(narrow), atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_score_all_and_score_agree_and_read_the_history(name):
    data = chains(n_users=20)
    torch.manual_seed(0)
    model = make(name, data, embedding_dim=16, max_len=5).eval()
    with pytest.raises(TrainingError, match="set_history"):
        model.score_all(torch.arange(3))
    model.set_history(data)
    users = torch.arange(20)
    with torch.no_grad():
        full = model.score_all(users)
        items = torch.randint(0, data.n_items, (20,))
        assert full.shape == (20, data.n_items)
        assert torch.allclose(model.score(users, items), full[users, items], atol=1e-5)
        assert torch.allclose(full, model.user_state(users) @ model.item_weights().T)
        state_from_rows = model.encode(model.history[users])[:, -1]
        assert torch.allclose(model.user_state(users), state_from_rows)
    assert (model.history[:, -1].numpy() == (data.item.reshape(20, -1)[:, -1])).all()


@pytest.mark.parametrize("name", MODELS)
def test_models_learn_a_deterministic_successor_to_near_perfect_hr_at_1(name):
    data = chains()
    split = registries().splitter.get("leave_one_out")(data, order="time")
    torch.manual_seed(0)
    model = make(name, data, embedding_dim=32, num_layers=1, dropout=0.1, max_len=8)
    batches = SequenceBatches(split.train, 32, 8, 1, NegativeSampler(split.train), seed=0)
    loss = registries().loss.get("sequence_bce")()
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(25):
        for batch in batches:
            optim.zero_grad()
            loss(model(batch), batch).backward()
            optim.step()
    hr1 = registries().metric.get("hr")(k=1)
    evaluator = RankingEvaluator({"hr@1": hr1}, batch_users=64)
    target = RankingTarget(split.test.to_csr(), split.seen_before("test"), split.history("test"))
    values, _ = evaluator.evaluate(model, target)
    assert values["hr@1"] >= 0.95
    assert model.history[:, -1].tolist() == split.valid.item[np.argsort(split.valid.user)].tolist()


def test_evaluator_refuses_a_history_model_without_a_history():
    data = chains(n_users=10)
    model = make("sasrec", data, embedding_dim=8, max_len=4)
    evaluator = RankingEvaluator({"hr@1": registries().metric.get("hr")(k=1)})
    with pytest.raises(ConfigError, match="history"):
        evaluator.evaluate(model, RankingTarget(data.to_csr(), None))


def test_sequence_bce_is_the_s3rec_loss_and_sequence_ce_the_softmax():
    g = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(7, generator=g), torch.randn(7, 1, generator=g)
    bce = registries().loss.get("sequence_bce")()({"pos_score": pos, "neg_score": neg}, {})
    s3rec = (-torch.log(torch.sigmoid(pos) + 1e-24) - torch.log(1 - torch.sigmoid(neg[:, 0]) + 1e-24)).mean()
    assert torch.allclose(bce, s3rec, atol=1e-6)
    logits, target = torch.randn(7, 11, generator=g), torch.randint(0, 11, (7,), generator=g)
    ce = registries().loss.get("sequence_ce")()({"all_scores": logits, "target_item": target}, {})
    assert torch.allclose(ce, -(logits.log_softmax(1)[torch.arange(7), target]).mean())


def test_forward_scores_match_the_embeddings_at_target_positions():
    data = chains(n_users=6)
    torch.manual_seed(0)
    model = make("gru4rec", data, embedding_dim=8, max_len=8).eval()
    batch = next(iter(SequenceBatches(data, 6, 8, 2, NegativeSampler(data), seed=0)))
    out = model(batch)
    mask = batch["pos_item"] >= 0
    states = model.encode(batch["seq"])[mask]
    assert out["target_item"].tolist() == batch["pos_item"][mask].tolist()
    assert torch.allclose(out["pos_score"], (states * model.item_embedding(out["target_item"])).sum(-1), atol=1e-6)
    assert out["neg_score"].shape == (int(mask.sum()), 2)
    assert torch.allclose(
        model.training_all_scores(out, batch)[torch.arange(len(states)), out["target_item"]],
        out["pos_score"],
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "params, key",
    [
        ({"num_heads": 3}, "model.num_heads"),
        ({"dropout": 1.5}, "model.dropout"),
        ({"max_len": 0}, "model.max_len"),
        ({"embedding_dim": 0}, "model.embedding_dim"),
        ({"hidden_size": 64}, "model.hidden_size"),
    ],
)
def test_bad_model_config_is_one_line_naming_the_key(params, key):
    data = chains(n_users=5)
    with pytest.raises(ConfigError) as err:
        build(registries().model.get("sasrec"), "model", "sasrec", params, info_for(data))
    message = str(err.value)
    assert key in message and "\n" not in message


def test_runner_trains_and_evaluates_a_sequential_model_end_to_end(tmp_path):
    results = recframe.run(
        [
            "data=synthetic",
            "model=sasrec",
            "protocol=leave_one_out",
            "trainer.max_epochs=2",
            "trainer.batch_size=16",
            "model.embedding_dim=16",
            "model.max_len=8",
            "logger=none",
            "print_table=false",
        ],
        run_dir=tmp_path,
    )
    assert results["run"]["epochs"] >= 1
    assert 0.0 <= results["metrics"]["test/ndcg@10"] <= 1.0
    with pytest.raises(ConfigError, match="loss 'bpr'.*sequence"):
        recframe.run(
            [
                "data=synthetic",
                "model=gru4rec",
                "loss=bpr",
                "protocol=leave_one_out",
                "logger=none",
                "print_table=false",
            ],
            run_dir=tmp_path / "bad",
        )


def test_s3rec_reproductions_are_listed_with_absolute_ten_percent_tolerances():
    from recframe.repro import reproductions

    found = reproductions()
    targets = found["s3rec_beauty/sasrec"].targets
    for key in ("test/hr@10", "test/ndcg@10"):
        assert targets[key]["tolerance"] == pytest.approx(0.1 * targets[key]["published"])
    assert found["s3rec_beauty/gru4rec"].targets == {}  # reported only


@pytest.mark.slow
def test_sasrec_beats_pop_on_beauty_after_three_epochs(tmp_path, data_dir):
    common = ["logger=none", "print_table=false"]
    sasrec = recframe.run(
        ["experiment=repro/s3rec_beauty/sasrec", "trainer.max_epochs=3", *common], run_dir=tmp_path / "sasrec"
    )
    pop = recframe.run(["data=amazon-beauty", "protocol=s3rec_loo", "model=pop", *common], run_dir=tmp_path / "pop")
    assert sasrec["metrics"]["test/ndcg@10"] > pop["metrics"]["test/ndcg@10"]
