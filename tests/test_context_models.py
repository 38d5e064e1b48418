"""Context-aware models (plugins/recframe_context): FM's algebra, pair/full-ranking agreement, training on
real labelled records, full top-K lists under the general protocol, one-line config errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import recframe
from recframe.data.features import build_features
from recframe.errors import ConfigError
from recframe.models import DatasetInfo
from recframe_context.dcnv2 import DCNv2
from recframe_context.deepfm import DeepFM
from recframe_context.fields import mlp
from recframe_context.fm import FM
from recframe_context.pairs import fold_tower, mlp_on_pairs, pair_blocks
from recframe_context.widedeep import WideDeep
from tests.test_features import SPEC, toy

FAST = ["trainer.progress_bar=false", "logger=none"]
MODELS = [FM, DeepFM, WideDeep, DCNv2]


def toy_info() -> DatasetInfo:
    data = toy()
    return DatasetInfo(
        data.n_users, data.n_items, data, np.bincount(data.item, minlength=data.n_items), build_features(SPEC, data)
    )


def randomised(model: torch.nn.Module) -> torch.nn.Module:
    """The model with every parameter drawn at random (zero-initialised biases would hide terms)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
        for m in model.modules():
            if hasattr(m, "reset_padding"):
                m.reset_padding()
    return model.eval()


def test_fm_score_is_the_brute_force_pairwise_sum():
    model = randomised(FM(toy_info(), embedding_dim=4, rank_context={"hour": 7, "weekday": 2}))
    users, items = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2])
    slots = model.slots(users, items)
    table, w = model.embed.embedding.weight.detach(), model.linear.weights.embedding.weight[:, 0].detach()
    pad = model.embed.pad
    field_of = model.embed.pool.argmax(1)
    for b in range(len(users)):
        vectors, linear = [], float(model.linear.bias.detach())
        for f in range(model.n_fields):  # a field's vector: the mean of its non-padding slots
            ids = [int(s) for s, g in zip(slots[b], field_of) if g == f and int(s) != pad]
            vectors.append(table[ids].mean(0) if ids else torch.zeros(4))
            linear += w[ids].mean().item() if ids else 0.0
        pairs = sum(float(vectors[f] @ vectors[g]) for f, g in itertools.combinations(range(model.n_fields), 2))
        assert model.score(users[b : b + 1], items[b : b + 1]).item() == pytest.approx(
            linear + pairs, rel=1e-5, abs=1e-5
        )


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("rank_context", ["last", {"hour": 20, "weekday": 5}, None])
def test_score_all_agrees_with_score_for_every_pair(cls, rank_context):
    model = randomised(cls(toy_info(), embedding_dim=4, rank_context=rank_context))
    users = torch.tensor([2, 0, 1])
    full = model.score_all(users)
    assert full.shape == (3, 3)
    pairs = model.score(users.repeat_interleave(3), torch.arange(3).repeat(3)).view(3, 3)
    torch.testing.assert_close(full, pairs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_context_changes_the_score_and_batches_carry_it(cls):
    model = randomised(cls(toy_info(), embedding_dim=4))
    batch = {
        "user": torch.tensor([0, 0]),
        "item": torch.tensor([1, 1]),
        "label": torch.tensor([1.0, 0.0]),
        "context": torch.tensor([[22 + 3, 47 + 1], [22 + 20, 47 + 6]]),
    }
    scores = model(batch)["score"]
    assert scores.shape == (2,) and scores[0] != scores[1]


def test_dcnv2_adds_its_cross_weight_penalty_only_in_training():
    model = DCNv2(toy_info(), embedding_dim=4, reg_weight=0.5)
    batch = {"user": torch.tensor([0, 1]), "item": torch.tensor([1, 2])}
    out = model.train()(batch)
    expected = 0.5 * sum(float(layer.weight.norm()) for layer in model.cross.layers)
    assert float(out["regularization"]) == pytest.approx(expected, rel=1e-6)
    assert "regularization" not in model.eval()(batch)


def test_bad_model_configs_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"model.rank_context.hours is not a declared context field"):
        FM(toy_info(), rank_context={"hours": 3})
    with pytest.raises(ConfigError, match=r"model.rank_context must be 'last', null or a mapping"):
        FM(toy_info(), rank_context="recent")
    with pytest.raises(ConfigError) as err:
        recframe.run(["data=ml-100k", "model=dcnv2", "model.structure=sideways", *FAST])
    assert "model 'dcnv2' rejected its config: structure must be 'parallel' or 'stacked'" in str(err.value)


CTR = [
    "data=ml-100k",
    "protocol=recbole_ml1m_ctr",
    "metrics=ctr",
    "trainer.batch_size=2048",
    "trainer.eval_batch_users=65536",
    "trainer.lr=0.005",
    *FAST,
]


@pytest.fixture(scope="module")
def ml100k_ctr(ml100k):
    """ML-100K under the CTR protocol: the split, its feature tables and the test records' context."""
    from omegaconf import OmegaConf

    from recframe import config as rconfig
    from recframe.runner import load_data, make_split

    cfg = rconfig.compose(CTR[:3])
    split = make_split(cfg, load_data(cfg), seed=0)
    return split, build_features(OmegaConf.to_container(cfg.data.features), split.train)


# the deep models' epochs cost 20-40 s of CPU each: FM runs by default, the others with the slow tests
@pytest.mark.parametrize(
    "cls", [FM, *(pytest.param(c, marks=pytest.mark.slow) for c in (DeepFM, WideDeep, DCNv2))], ids=lambda c: c.__name__
)
def test_each_model_beats_a_constant_predictor_on_real_records(cls, ml100k_ctr):
    """One epoch on ML-100K's labelled training records (rating 3 dropped) ranks test clicks well above
    chance (a constant predictor's AUC is 0.5) and beats the best constant log loss."""
    from recframe.evaluation.labeled import labeled_evaluation
    from recframe.training.batches import LabeledBatches
    from recframe_metrics import pointwise

    split, features = ml100k_ctr
    assert len(split.train) + len(split.valid) + len(split.test) == 100_000 - 27_145  # rating-3 records dropped
    torch.manual_seed(0)
    info = DatasetInfo(split.n_users, split.n_items, split.train, None, features)
    model = cls(info, embedding_dim=8)
    optim = torch.optim.Adam(model.parameters(), lr=5e-3)
    for batch in LabeledBatches(split.train, 1024, seed=0, context=features.context(split.train)):
        out = model.train()(batch)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out["score"], batch["label"])
        optim.zero_grad()
        (loss + out.get("regularization", 0.0)).backward()
        optim.step()
    evaluator, targets = labeled_evaluation(
        split, {"auc": pointwise.PointwiseAUC(), "logloss": pointwise.LogLoss()}, features
    )
    values, _ = evaluator.evaluate(model, targets["test"])
    p = float(targets["test"].label.mean())
    constant = -(p * np.log(p) + (1 - p) * np.log(1 - p))  # the best constant predictor's log loss
    assert values["auc"] > 0.7 and values["logloss"] < constant - 0.03


def test_fm_learns_through_the_runner_and_writes_ctr_results(ml100k, tmp_path):
    results = recframe.run([*CTR, "model=fm", "trainer.max_epochs=2"], run_dir=tmp_path)
    m = results["metrics"]
    assert set(m) == {"valid/pointwise_auc", "valid/logloss", "test/pointwise_auc", "test/logloss"}
    assert results["data"]["filtered"]["interactions"] == 100_000 - 27_145
    assert m["test/pointwise_auc"] > 0.7 and results["run"]["best_valid"] == pytest.approx(
        m["valid/pointwise_auc"], abs=1e-6
    )
    assert results["protocol"]["ranking"] == "none" and results["protocol"]["labels"]["positive_min"] == 4
    assert not (tmp_path / "topk.npz").exists() and {"fit_seconds", "score_latency_ms_per_1k_users"} <= set(
        results["cost"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", ["deepfm", "widedeep", "dcnv2"])
def test_deep_models_learn_through_the_runner(model, ml100k, tmp_path):
    results = recframe.run([*CTR, f"model={model}", "trainer.max_epochs=2"], run_dir=tmp_path)
    assert results["metrics"]["test/pointwise_auc"] > 0.7


def test_ctr_protocol_rejects_ranking_metrics_in_one_line(ml100k, tmp_path):
    with pytest.raises(ConfigError) as err:
        recframe.run([*CTR[:2], "model=fm", "protocol.valid_metric=ndcg@10", *FAST], run_dir=tmp_path)
    assert "protocol.valid_metric 'ndcg@10' is not in metrics.names" in str(err.value)
    with pytest.raises(ConfigError) as err:
        recframe.run(["data=ml-100k", "protocol=recbole_ml1m_ctr", "model=fm", *FAST], run_dir=tmp_path)
    assert "add metrics=ctr" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        recframe.run(
            [*CTR[:2], "model=fm", "metrics.names=[ndcg,logloss]", "protocol.valid_metric=logloss", *FAST],
            run_dir=tmp_path,
        )
    assert "metrics ndcg@10 rank items, but protocol.ranking=none" in str(err.value)


def test_fm_ranks_every_item_under_the_general_protocol(ml100k, tmp_path):
    """``recframe data=ml-100k model=fm``: implicit data, sampled negatives, full top-K lists."""
    results = recframe.run(["data=ml-100k", "model=fm", "trainer.max_epochs=1", *FAST], run_dir=tmp_path)
    topk = np.load(tmp_path / "topk.npz")
    assert topk["items"].shape == (len(topk["users"]), 20) and (topk["items"] >= 0).all()
    assert results["metrics"]["test/ndcg@10"] > 0.02  # far above random ranking (about 0.006 on ML-100K)


@pytest.mark.parametrize(
    "cls,params",
    [
        (DeepFM, {}),
        (WideDeep, {}),
        (DCNv2, {"structure": "parallel"}),
        (DCNv2, {"structure": "stacked"}),
        (DCNv2, {"num_cross_layers": 1}),
        (DeepFM, {"num_layers": 1}),
    ],
    ids=lambda p: p.__name__ if isinstance(p, type) else str(p),
)
def test_side_split_full_ranking_equals_pair_by_pair_on_ml100k(cls, params, ml100k_ctr):
    """The side-split first layers give the pair-by-pair scores (every 25th user, every item of ML-100K;
    the models' own initialisation with random biases, embeddings and batch-norm statistics) to 1e-5."""
    split, features = ml100k_ctr
    info = DatasetInfo(
        split.n_users, split.n_items, split.train, np.bincount(split.train.item, minlength=split.n_items), features
    )
    torch.manual_seed(0)
    model = cls(info, embedding_dim=8, **params).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "embedding" in name:
                p.normal_(0.0, 0.3)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):  # folded into the layer before it: every statistic counts
                m.weight.uniform_(0.5, 1.5)
                m.running_mean.normal_(0.0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
            if hasattr(m, "reset_padding"):
                m.reset_padding()
    users = torch.arange(info.n_users)[::25]
    with torch.no_grad():
        fast = model.score_all(users)
        pairs = model.score_all_pairs(users)
    assert fast.shape == (len(users), info.n_items)
    assert pairs.std() > 0.1  # scores of order one, not a constant
    torch.testing.assert_close(fast, pairs, rtol=1e-5, atol=1e-5)
    assert not torch.equal(fast[0], fast[1])  # users differ: the scores are not a broadcast constant


@pytest.mark.parametrize("n_query,n_items", [(1, 1), (3, 7), (5, 512), (2, 513), (4, 1700)])
def test_pair_blocks_cover_every_pair_once_in_contiguous_runs(n_query, n_items):
    seen = np.zeros((n_query, n_items), dtype=np.int64)
    for qs, its in pair_blocks(n_query, n_items, rows=512):
        assert qs.stop - qs.start == 1 or (its.start, its.stop) == (0, n_items)  # one run of the score matrix
        assert (qs.stop - qs.start) * (its.stop - its.start) <= max(512, n_items)
        seen[qs, its] += 1
    assert (seen == 1).all()


def test_folded_tower_equals_the_modules_and_unknown_layers_fall_back():
    """The blocked, batch-norm-folded tower against the layers applied one by one (a brute-force oracle);
    a layer it does not know (GELU) takes the module-by-module path with the same result."""
    torch.manual_seed(0)
    tower = torch.nn.Sequential(*mlp(12, 16, 3, 0.1, batch_norm=True)).eval()
    with torch.no_grad():
        for m in tower.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.uniform_(0.5, 1.5), m.bias.normal_(0.0, 0.3)
                m.running_mean.normal_(0.0, 0.3), m.running_var.uniform_(0.5, 2.0)
        xq, xi, head = torch.randn(3, 12), torch.randn(700, 12), torch.randn(16)
        want = (tower((xq[:, None] + xi[None]).flatten(0, 1)) @ head).view(3, 700)
        first = tower[0]
        got = mlp_on_pairs(tower, xq @ first.weight.T + first.bias, xi @ first.weight.T, head)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        assert fold_tower(list(tower)[1:]) is not None
        odd = torch.nn.Sequential(first, torch.nn.GELU(), torch.nn.Linear(16, 16))
        assert fold_tower(list(odd)[1:]) is None
        want = (odd((xq[:, None] + xi[None]).flatten(0, 1)) @ head).view(3, 700)
        got = mlp_on_pairs(odd, xq @ first.weight.T + first.bias, xi @ first.weight.T, head)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
