"""``recframe explain RUN_DIR --fidelity``: the post-hoc deletion test of a trained ML-100K run equals the
in-run ``explain=fidelity`` numbers, lands in ``results.json`` under ``explain`` keeping every other key,
refuses to replace a block without ``--overwrite``, and shows in ``recframe report``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import recframe
from recframe.cli import main
from recframe.explain.choose import choose_explainer
from recframe.explain.fidelity import FidelityProtocol, deletion_curve, sample_users

FAST = ["data=ml-100k", "trainer.progress_bar=false", "logger=none", "print_table=false"]


@pytest.fixture(scope="module")
def multvae_run(ml100k: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained ML-100K Mult-VAE run without an explain block (3 epochs)."""
    run_dir = tmp_path_factory.mktemp("posthoc") / "multvae"
    recframe.run([*FAST, "model=multvae", "trainer.max_epochs=3"], run_dir=run_dir)
    return run_dir


def read(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def test_fidelity_of_a_trained_run_is_stored_with_every_other_key_kept(multvae_run, capsys):
    before = read(multvae_run)
    assert "explain" not in before
    assert main(["explain", str(multvae_run), "--fidelity", "--users", "20", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    after = read(multvae_run)
    block = after.pop("explain")
    assert after == before  # nothing else changed
    assert block["explainer"] == "row_gradient_input" and block["unit"] == "history_item"
    assert block["protocol"]["sample_users"] == 20 and block["protocol"]["seed"] == 1
    assert "20 sampled test users (seed 1)" in printed and "row_gradient_input" in printed
    assert f"area {block['fidelity']['area']:.3f}" in printed

    # an independent recomputation on the loaded model: the same sample of the run's test users
    handle = recframe.load(multvae_run)
    with np.load(multvae_run / "per_user.npz", allow_pickle=False) as per_user:
        tested = per_user["test/users"]
    users = sample_users(tested, 20, 1)
    assert len(users) == 20 and set(users.tolist()) <= set(tested.tolist())
    _, explainer = choose_explainer(handle.model, "multvae")
    curve = deletion_curve(explainer, handle.model, users, handle.seen, FidelityProtocol(sample_users=20, seed=1))
    assert block["fidelity"] == curve.summary()

    # a second measurement is refused (one line, nothing written) unless --overwrite
    text = (multvae_run / "results.json").read_bytes()
    assert main(["explain", str(multvae_run), "--fidelity", "--users", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "already has an 'explain' block" in err and "--overwrite" in err
    assert (multvae_run / "results.json").read_bytes() == text
    assert main(["explain", str(multvae_run), "--fidelity", "--users", "5", "--seed", "2", "--overwrite"]) == 0
    replaced = read(multvae_run)
    assert replaced["explain"]["protocol"]["sample_users"] == 5 and replaced["explain"]["fidelity"]["users"] == 5
    assert {k: v for k, v in replaced.items() if k != "explain"} == before


def test_post_hoc_fidelity_equals_the_in_run_numbers(closed_form_run, tmp_path):
    """The EASE run measured its fidelity in the run (40 users, seed 0); the post-hoc path on a copy of the
    folder, with the same protocol, gives the same numbers."""
    from recframe.explain.posthoc import posthoc_fidelity

    original = closed_form_run("ease")
    copy = tmp_path / "ease"
    shutil.copytree(original, copy)
    in_run = read(original)["explain"]
    block = posthoc_fidelity(copy, sample=40, seed=0, overwrite=True)
    assert block["fidelity"] == in_run["fidelity"] and block["protocol"] == in_run["protocol"]
    assert read(copy)["explain"]["fidelity"] == in_run["fidelity"]


def test_report_shows_post_hoc_fidelity(multvae_run, tmp_path):
    from recframe.sweeps.report import build_report

    if "explain" not in read(multvae_run):
        assert main(["explain", str(multvae_run), "--fidelity", "--users", "5"]) == 0
    job = tmp_path / "sweep" / "0"
    job.mkdir(parents=True)
    (job / "results.json").write_text((multvae_run / "results.json").read_text())
    (job / ".hydra").mkdir()
    (job / ".hydra" / "overrides.yaml").write_text("- model=multvae\n")
    report = build_report(tmp_path / "sweep")
    assert "explain.fidelity.area" in report.columns
    assert report.cell(0, "explain.fidelity.area") == pytest.approx(read(multvae_run)["explain"]["fidelity"]["area"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fidelity", "--users", "0"], "explain.fidelity.sample_users must be a positive integer"),
        (["--fidelity", "--explainer", "fm_fields"], "'fm_fields' does not support model 'multvae'"),
    ],
)
def test_bad_post_hoc_requests_are_one_line(multvae_run, tmp_path, capsys, argv, message):
    copy = tmp_path / "run"
    shutil.copytree(multvae_run, copy)
    (copy / "results.json").write_text(json.dumps({k: v for k, v in read(copy).items() if k != "explain"}))
    text = (copy / "results.json").read_bytes()
    assert main(["explain", str(copy), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err
    assert (copy / "results.json").read_bytes() == text
