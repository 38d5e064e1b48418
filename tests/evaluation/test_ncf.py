"""NCF ML-1M leave-one-out: Pop under each tie rule, against the published ItemPop numbers."""

from __future__ import annotations

import numpy as np
import pytest

from recframe.evaluation.sampled import SampledRankingEvaluator, SampledTarget
from recframe.models import DatasetInfo
from recframe_cf.pop import Pop
from recframe_datasets.ncf import NCFLeaveOneOut, ncf_loo
from recframe_metrics.ranking import NDCG, HitRate

from .conftest import dataset_dir


@pytest.fixture(scope="module")
def ncf_split():
    return ncf_loo(NCFLeaveOneOut(dataset_dir("ncf-ml-1m"), valid="none").load())


def pop_scores(split, ties):
    info = DatasetInfo(
        split.n_users, split.n_items, split.train, np.bincount(split.train.item, minlength=split.n_items)
    )
    model = Pop(info)
    model.fit(split.train)
    evaluator = SampledRankingEvaluator({"hr@10": HitRate(10), "ndcg@10": NDCG(10)}, ties=ties)
    return evaluator.evaluate(model, SampledTarget(split.test.to_csr(), split.candidates))[0]


def test_ncf_files_parse_to_the_documented_counts(ncf_split):
    assert ncf_split.counts() == {"train": 994169, "valid": 0, "test": 6040}
    assert (ncf_split.n_users, ncf_split.n_items) == (6040, 3706)
    assert ncf_split.candidates.shape == (6040, 99)
    # the quirk the NCF rule exists for: 156 users have their held-out item among their negatives
    # (once each); duplicates collapse under NCF's dict, so only pessimistic-without-dedup sees them
    same = ncf_split.candidates == ncf_split.test.item[np.argsort(ncf_split.test.user)][:, None]
    assert same.sum() == 156 and same.any(axis=1).sum() == 156


def test_pop_under_ncf_rule_matches_published_itempop(ncf_split):
    # He et al. 2017 report ItemPop HR@10 0.4531, NDCG@10 0.2542 on these files
    values = pop_scores(ncf_split, "ncf")
    assert round(values["hr@10"], 4) == 0.4531
    assert abs(values["ndcg@10"] - 0.2542) < 2e-4


def test_tie_rules_order_the_results(ncf_split):
    ncf = pop_scores(ncf_split, "ncf")
    opt = pop_scores(ncf_split, "optimistic")
    pes = pop_scores(ncf_split, "pessimistic")
    assert pes["hr@10"] < ncf["hr@10"] < opt["hr@10"]
    assert pes["ndcg@10"] < ncf["ndcg@10"] < opt["ndcg@10"]


def test_latest_validation_rule_holds_out_one_training_row_per_user():
    data = NCFLeaveOneOut(dataset_dir("ncf-ml-1m"), valid="latest").load()
    split = ncf_loo(data)
    assert len(split.valid) == 6040 and np.array_equal(np.sort(split.valid.user), np.arange(6040))
    # the validation row is each user's latest training timestamp
    latest = np.full(6040, -1)
    np.maximum.at(latest, split.train.user, split.train.timestamp)
    assert (split.valid.timestamp[np.argsort(split.valid.user)] >= latest).all()
    assert len(split.train) == 994169 - 6040


def write_toy(folder, negatives="(0,3)\t1\t2\n(1,0)\t2\t3\n"):
    folder.mkdir(exist_ok=True)
    # user 0: items 0 (t=5), 1 (t=9), 2 (t=9) -> latest is the last line with t=9: item 2
    (folder / "toy.train.rating").write_text("0\t0\t4\t5\n0\t1\t3\t9\n0\t2\t5\t9\n1\t1\t2\t7\n1\t3\t1\t3\n")
    (folder / "toy.test.rating").write_text("0\t3\t5\t10\n1\t0\t4\t8\n")
    (folder / "toy.test.negative").write_text(negatives)
    return folder


def test_toy_ncf_files(tmp_path):
    data = NCFLeaveOneOut(write_toy(tmp_path / "toy"), prefix="toy").load()
    split = ncf_loo(data)
    assert (data.n_users, data.n_items) == (2, 4)
    assert sorted(zip(split.valid.user.tolist(), split.valid.item.tolist())) == [(0, 2), (1, 1)]
    assert sorted(zip(split.test.user.tolist(), split.test.item.tolist())) == [(0, 3), (1, 0)]
    assert split.candidates.tolist() == [[1, 2], [2, 3]]
    assert len(split.train) == 3


def test_ncf_negatives_must_match_the_test_pairs(tmp_path):
    from recframe.errors import DataError

    folder = write_toy(tmp_path / "bad", negatives="(0,2)\t1\t2\n(1,0)\t2\t3\n")
    with pytest.raises(DataError, match="do not match"):
        NCFLeaveOneOut(folder, prefix="toy").load()


def test_unknown_validation_rule_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="valid must be one of"):
        NCFLeaveOneOut(tmp_path, valid="test")
