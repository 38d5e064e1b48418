"""recframe repro: reproductions by name, our number beside the paper's."""

from __future__ import annotations

from recframe.cli import main
from recframe.repro import Reproduction, compare, reproductions


def test_reproductions_are_discovered_with_their_targets():
    found = reproductions()
    pop = found["ncf_ml1m/pop"]
    assert pop.targets["test/hr@10"]["published"] == 0.4531
    assert "Neural Collaborative Filtering" in pop.source


def test_compare_passes_within_tolerance_and_fails_outside():
    repro = Reproduction(
        "x",
        None,
        "paper",
        {
            "test/ndcg@10": {"published": 0.30, "tolerance": 0.01},
            "test/hr@10": {"published": 0.50, "tolerance": 0.01},
            "test/mrr@10": {"published": 0.1},
        },
    )
    rows = {
        r["metric"]: r for r in compare({"metrics": {"test/ndcg@10": 0.295, "test/hr@10": 0.52}, "cost": {}}, repro)
    }
    assert rows["test/ndcg@10"]["pass"] and abs(rows["test/ndcg@10"]["difference"] + 0.005) < 1e-12
    assert not rows["test/hr@10"]["pass"]
    assert rows["test/mrr@10"]["ours"] is None and not rows["test/mrr@10"]["pass"]


def test_unknown_reproduction_is_one_line(capsys):
    assert main(["repro", "ncf_ml1m/popp"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown reproduction 'ncf_ml1m/popp'") and "did you mean 'ncf_ml1m/pop'" in err


def test_ncf_pop_reproduces_through_the_command(capsys, data_dir):
    assert main(["repro", "ncf_ml1m/pop", "logger=none"]) == 0
    out = capsys.readouterr().out
    assert "0.4531" in out and "pass" in out and "FAIL" not in out


def test_recbole_pop_reproduces_with_recboles_batch_count(capsys, data_dir, tmp_path):
    assert main(["repro", "recbole_ml1m/pop", "logger=none", f"hydra.run.dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "0.1006" in out and "pass" in out and "FAIL" not in out


def test_one_sided_and_reported_targets():
    repro = Reproduction(
        "x",
        None,
        "paper",
        {
            "test/pointwise_auc": {"published": 0.8935, "tolerance": 0.005, "bound": "lower"},
            "test/logloss": {"published": 0.3262, "tolerance": 0.01, "bound": "upper"},
            "valid/pointwise_auc": {"published": 0.8960, "reported": True},
        },
    )
    rows = lambda auc, ll: {  # noqa: E731
        r["metric"]: r
        for r in compare(
            {"metrics": {"test/pointwise_auc": auc, "test/logloss": ll, "valid/pointwise_auc": 0.5}, "cost": {}}, repro
        )
    }
    high = rows(0.9100, 0.2000)  # far better than published: one-sided targets pass
    assert high["test/pointwise_auc"]["pass"] and high["test/logloss"]["pass"]
    low = rows(0.8880, 0.3400)
    assert not low["test/pointwise_auc"]["pass"] and not low["test/logloss"]["pass"]
    assert rows(0.8886, 0.3361)["test/pointwise_auc"]["pass"]
    assert high["valid/pointwise_auc"]["reported"] and high["valid/pointwise_auc"]["pass"]  # never fails


def test_ctr_reproductions_are_listed_with_recboles_numbers():
    found = reproductions()
    assert found["recbole_ml1m_ctr/fm"].targets["test/pointwise_auc"] == {
        "published": 0.8935,
        "tolerance": 0.005,
        "bound": "lower",
    }
    assert {"recbole_ml1m_ctr/deepfm", "recbole_ml1m_ctr/widedeep", "recbole_ml1m_ctr/dcnv2"} <= set(found)
