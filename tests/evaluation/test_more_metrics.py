"""AUC/GAUC, beyond-accuracy list metrics and pointwise metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torchmetrics.functional.classification import binary_auroc

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError
from recframe.evaluation.pointwise import check_pointwise
from recframe_metrics.pointwise import MAE, RMSE, LogLoss, PointwiseAUC
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe_metrics.auc import AUC, GAUC
from recframe_metrics.beyond import AveragePopularity, Coverage, Entropy, Gini, Novelty, TailShare

from .helpers import FixedScores, random_case


@pytest.mark.parametrize("seed", range(3))
def test_auc_against_torchmetrics_auroc(seed):
    scores, relevant, seen = random_case(seed)
    scores = np.round(scores / 50) / 30  # plenty of ties; in [0, 1] so binary_auroc applies no sigmoid
    ev = RankingEvaluator({"auc": AUC(), "gauc": GAUC()}, batch_users=9)
    target = RankingTarget(relevant, seen)
    values, per_user = ev.evaluate(FixedScores(scores), target, keep_per_user=True)
    rel, msk = relevant.toarray() > 0, seen.toarray() > 0
    expected, weights = [], []
    for u in target.users:
        keep = ~msk[u]
        expected.append(float(binary_auroc(torch.tensor(scores[u, keep]), torch.tensor(rel[u, keep]).long())))
        weights.append(rel[u].sum())
    np.testing.assert_allclose(per_user["auc"], expected, atol=1e-6)
    assert values["auc"] == pytest.approx(np.mean(expected), abs=1e-6)
    assert values["gauc"] == pytest.approx(np.average(expected, weights=weights), abs=1e-6)


def test_auc_limits():
    relevant = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=np.float32))
    for scores, expected in (([4, 3, 2, 1], 1.0), ([1, 2, 3, 4], 0.0), ([1, 1, 1, 1], 0.5)):
        s = np.array([scores], dtype=np.float32)
        assert RankingEvaluator({"auc": AUC()}).evaluate(FixedScores(s), RankingTarget(relevant, None))[0][
            "auc"
        ] == pytest.approx(expected)


POP = np.array([10, 8, 6, 4, 2, 0, 0, 0, 0, 0])  # 10 items; head = the 2 most popular (items 0, 1)


def list_metric(cls, k=2):
    return cls(k, item_popularity=POP, n_users=20)


def feed(metric, lists):
    top = torch.tensor(lists)
    metric.update(top, metric.user_values(top) if metric.per_user_mean else None)
    return float(metric.compute())


def test_beyond_accuracy_toy():
    lists = [[0, 1], [0, 2], [0, -1]]  # the third list is short (padded)
    # counts: item0 3, item1 1, item2 1, others 0 (5 recommendations over 10 items)
    assert feed(list_metric(Coverage), lists) == pytest.approx(3 / 10)
    c = np.sort(np.array([3, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=float))
    gini = sum((2 * (j + 1) - 10 - 1) * c[j] for j in range(10)) / (10 * c.sum())
    assert feed(list_metric(Gini), lists) == pytest.approx(gini)
    p = np.array([3, 1, 1]) / 5
    assert feed(list_metric(Entropy), lists) == pytest.approx(-(p * np.log(p)).sum())
    assert feed(list_metric(AveragePopularity), lists) == pytest.approx(np.mean([9, 8, 10]))
    nov = lambda pop: -math.log2(max(pop, 1) / 20)  # noqa: E731
    assert feed(list_metric(Novelty), lists) == pytest.approx(
        np.mean([(nov(10) + nov(8)) / 2, (nov(10) + nov(6)) / 2, nov(10)])
    )
    assert feed(list_metric(TailShare), lists) == pytest.approx(np.mean([0, 0.5, 0]))


def test_beyond_accuracy_limits():
    everyone_same = [[0, 1]] * 5
    assert feed(list_metric(Entropy), everyone_same) == pytest.approx(math.log(2))
    even = [[2 * i, 2 * i + 1] for i in range(5)]  # every item exactly once
    assert feed(list_metric(Gini), even) == pytest.approx(0.0, abs=1e-12)
    assert feed(list_metric(Coverage), even) == 1.0
    one_item = [[0, -1]] * 4
    assert feed(list_metric(Gini), one_item) == pytest.approx(1 - 1 / 10)  # the maximum for 10 items


def test_list_metrics_batched_and_merged_equal_one_pass():
    rng = np.random.default_rng(0)
    scores, relevant, seen = random_case(5, n_users=60, n_items=10)
    pop = rng.integers(0, 30, 10)
    make = lambda: {  # noqa: E731
        f"{c.name}@3": c(3, item_popularity=pop, n_users=60)
        for c in (Coverage, Gini, Entropy, AveragePopularity, Novelty, TailShare)
    }
    target = RankingTarget(relevant, seen)
    one = RankingEvaluator(make(), batch_users=1024).evaluate(FixedScores(scores), target)[0]
    small = RankingEvaluator(make(), batch_users=4).evaluate(FixedScores(scores), target)[0]
    assert one == pytest.approx(small, abs=1e-12)
    a, b = RankingEvaluator(make()), RankingEvaluator(make())
    mid = len(target.users) // 2
    a.update(FixedScores(scores), target.users[:mid], target)
    b.update(FixedScores(scores), target.users[mid:], target)
    for key, ma, mb in zip(a.keys, a.metrics.values(), b.metrics.values()):
        ma.merge_state(mb)
        assert float(ma.compute()) == pytest.approx(one[key], abs=1e-12), key


def test_pointwise_metrics_against_direct_formulas_and_merge():
    g = torch.Generator().manual_seed(0)
    pred, rating = torch.rand(200, generator=g) * 5, torch.randint(1, 6, (200,), generator=g).double()
    logits, clicks = torch.randn(200, generator=g), torch.randint(0, 2, (200,), generator=g).double()
    logits[:50] = 0.0  # ties
    for cls, s, y, expected in [
        (RMSE, pred, rating, torch.sqrt(((pred.double() - rating) ** 2).mean())),
        (MAE, pred, rating, (pred.double() - rating).abs().mean()),
        (LogLoss, logits, clicks, torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits.double()), clicks)),
        (PointwiseAUC, logits, clicks, binary_auroc(logits, clicks.long())),
    ]:
        one, a, b = cls(), cls(), cls()
        one.update(s, y)
        a.update(s[:77], y[:77])
        b.update(s[77:], y[77:])
        a.merge_state(b)
        assert float(one.compute()) == pytest.approx(float(expected), abs=1e-6), cls.name
        assert float(a.compute()) == pytest.approx(float(one.compute()), abs=1e-12), cls.name


def test_pointwise_needs_ratings():
    implicit = Interactions(user=np.array([0, 1]), item=np.array([1, 0]), n_users=2, n_items=2)
    with pytest.raises(ConfigError, match="need ratings or labels but the dataset is implicit"):
        check_pointwise({"rmse": RMSE()}, implicit)
    ratings = Interactions(
        user=np.array([0, 1]), item=np.array([1, 0]), n_users=2, n_items=2, rating=np.array([4.0, 1.0])
    )
    check_pointwise({"rmse": RMSE()}, ratings)
    with pytest.raises(ConfigError, match="need 0/1 labels"):
        check_pointwise({"logloss": LogLoss()}, ratings)
    with pytest.raises(ValueError, match="labels in"):
        LogLoss().update(torch.zeros(2), torch.tensor([0.0, 3.0]))


def test_score_metrics_batched_and_merged_equal_one_pass():
    scores, relevant, seen = random_case(8, n_users=45)
    target = RankingTarget(relevant, seen)
    one = RankingEvaluator({"auc": AUC(), "gauc": GAUC()}).evaluate(FixedScores(scores), target)[0]
    small = RankingEvaluator({"auc": AUC(), "gauc": GAUC()}, batch_users=2).evaluate(FixedScores(scores), target)[0]
    assert small == pytest.approx(one, abs=1e-12)
    a, b = GAUC(), GAUC()
    ev_a, ev_b = RankingEvaluator({"gauc": a}), RankingEvaluator({"gauc": b})
    ev_a.update(FixedScores(scores), target.users[:20], target)
    ev_b.update(FixedScores(scores), target.users[20:], target)
    a.merge_state(b)
    assert float(a.compute()) == pytest.approx(one["gauc"], abs=1e-12)
