"""Fidelity by deletion: the area between curves against a hand computation, the deletion curve against
a brute-force re-ranking, the run's ``explain`` block, ``recframe report`` columns and bad config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import recframe
from recframe.errors import ConfigError
from recframe.explain.choose import choose_explainer
from recframe.explain.fidelity import FidelityProtocol, area_between, deletion_curve, rank_of

RECFRAME = str(Path(sys.executable).parent / "recframe")


def test_area_between_curves_is_the_trapezoid_rule():
    # gaps 0 (r=0), 2 (r=1), 4 (r=3), 10 (r=5): (1*(0+2)/2 + 2*(2+4)/2 + 2*(4+10)/2) / 5
    assert area_between([1, 3, 5], [3, 5, 11], [1, 1, 1]) == pytest.approx((1 + 6 + 14) / 5)
    assert area_between([1, 3, 5], [1, 1, 1], [1, 1, 1]) == 0.0


def test_rank_counts_strictly_higher_unmasked_items():
    scores = torch.tensor([0.9, 0.5, 0.7, 0.5, 0.1])
    assert rank_of(scores, 1, np.array([0])) == 2  # item 2 above it; item 0 masked; the tie at 0.5 not counted
    assert rank_of(scores, 4, np.array([], dtype=np.int64)) == 5


def test_deletion_curve_equals_a_brute_force_rerank(closed_form_run):
    handle = recframe.load(closed_form_run("ease"))
    m = handle.model
    _, explainer = choose_explainer(m, "ease")
    w = m.item_weights.double().numpy()
    seen = handle.seen
    users = np.array([3, 11, 60])
    protocol = FidelityProtocol(sample_users=3, seed=5, cutoffs=(1, 3), random_draws=2)
    curve = deletion_curve(explainer, m, users, seen, protocol)
    for n, user in enumerate(users.tolist()):
        x = m.history[user].toarray()[0].astype(np.float64)
        masked = seen[user].indices
        scores = x @ w
        scores[masked] = -np.inf
        item = int(np.argmax(scores))
        contrib = x * w[:, item]
        order = np.argsort(-contrib[x > 0], kind="stable")
        hist = np.nonzero(x)[0][order]
        for r in (1, 3):
            x2 = x.copy()
            x2[hist[:r]] = 0.0
            s2 = x2 @ w
            s2[masked] = -np.inf
            assert curve.reasons[r][n] == float((s2 > s2[item]).sum())  # old rank is 1
    summary = curve.summary()
    assert summary["users"] == 3 and set(summary) >= {"rank_drop@1", "random_drop@3", "area"}


def test_the_run_stores_fidelity_under_explain_with_its_protocol(closed_form_run):
    results = json.loads((closed_form_run("ease") / "results.json").read_text())
    block = results["explain"]
    assert block["explainer"] == "item_weights" and block["exact"] is True and block["unit"] == "history_item"
    assert block["protocol"] == {
        "sample_users": 40,
        "seed": 0,
        "cutoffs": [1, 3, 5],
        "random_draws": 3,
        "item": "top-1 recommendation, history masked",
    }
    fid = block["fidelity"]
    assert fid["users"] + fid["skipped_users"] == 40
    # exact reasons must hurt the recommendation more than random history items (ML-100K, EASE)
    assert fid["rank_drop@5"] > fid["random_drop@5"] and fid["area"] > 0
    assert fid["rank_drop@1"] <= fid["rank_drop@3"] <= fid["rank_drop@5"]


def test_report_shows_the_explain_columns(closed_form_run, tmp_path):
    from recframe.sweeps.report import build_report, to_markdown

    sweep = tmp_path / "sweep"
    for n, model in enumerate(["ease", "itemknn"]):
        job = sweep / str(n)
        job.mkdir(parents=True)
        (job / "results.json").write_text((closed_form_run(model) / "results.json").read_text())
        (job / ".hydra").mkdir()
        (job / ".hydra" / "overrides.yaml").write_text(f"- model={model}\n")
    report = build_report(sweep)
    assert "explain.fidelity.area" in report.columns and "explain.fidelity.rank_drop@5" in report.columns
    area = json.loads((closed_form_run("itemknn") / "results.json").read_text())["explain"]["fidelity"]["area"]
    assert report.cell(1, "explain.fidelity.area") == pytest.approx(area)
    assert "explain.fidelity.area" in to_markdown(report)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("explain.fidelity.sample_users=0", "explain.fidelity.sample_users"),
        ("explain.fidelity.cutoffs=[0,2]", "explain.fidelity.cutoffs"),
        ("+explain.fidelity.sample_user=3", "explain.fidelity.sample_user"),
    ],
)
def test_bad_fidelity_config_is_one_line_naming_the_key(ml100k, tmp_path, override, key):
    with pytest.raises(ConfigError) as err:
        recframe.run(["data=ml-100k", "model=pop", "logger=none", "explain=fidelity", override], run_dir=tmp_path)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_an_unsupported_explainer_fails_before_fitting(ml100k, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError) as err:
        recframe.run(
            ["data=ml-100k", "model=ease", "logger=none", "explain=fidelity", "explain.explainer=fm_fields"],
            run_dir=run_dir,
        )
    assert "'fm_fields' does not support model 'ease'" in str(err.value)
    assert not (run_dir / "results.json").exists()


def test_recframe_explain_prints_reasons_with_titles(closed_form_run):
    run_dir = closed_form_run("ease")
    out = subprocess.run(
        [RECFRAME, "explain", str(run_dir), "--user", "1", "--k", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    answer = json.loads(out)
    handle = recframe.load(run_dir)
    assert [e["item"] for e in answer["items"]] == handle.recommend([1], k=3)["item"].tolist()
    seen = set(handle.saved.train.item_ids[handle.saved.train.to_csr()[handle.users.internal([1], "u")[0]].indices])
    for entry in answer["items"]:
        assert entry["title"] and len(entry["reasons"]) == 5
        assert all(r["kind"] == "history_item" and r["item"] in seen and r["title"] for r in entry["reasons"])
    text = subprocess.run(
        [RECFRAME, "explain", str(run_dir), "--user", "1", "--k", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert answer["items"][0]["title"] in text and answer["items"][0]["reasons"][0]["title"] in text
