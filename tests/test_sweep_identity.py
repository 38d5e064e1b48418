"""Sweeps get their own folders and studies; ``report`` refuses to mix sweeps and shows chosen columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sweeps_helpers import FAST, load_study, recframe_cli

from recframe.sweeps.identity import MARKER, sweep_id


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _summary(out: str) -> str:
    return [ln for ln in out.splitlines() if ln.startswith("sweep: ")][-1]


def test_sweep_id_ignores_display_flags_and_order():
    a = sweep_id(["model=bpr,pop", "seed=0,1", "print_table=false"])
    assert a == sweep_id(["seed=0,1", "model=bpr,pop", "paths.output_dir=/x", "hydra/launcher=joblib"])
    assert a != sweep_id(["model=bpr,pop", "seed=0,1,2"]) and len(a) == 8


@pytest.mark.slow  # three sweeps
def test_unnamed_sweeps_get_distinct_folders_and_the_same_command_finds_its_own(tmp_path, capsys):
    base = ["-m", *FAST, "name=default", f"paths.output_dir={tmp_path}"]
    assert recframe_cli([*base, "model=pop", "seed=0,1"])[0] == 0
    first = _summary(capsys.readouterr().out)
    assert recframe_cli([*base, "model=pop", "seed=2,3"])[0] == 0
    second = _summary(capsys.readouterr().out)
    folders = sorted(p.name for p in (tmp_path / "multiruns").iterdir())
    assert len(folders) == 2 and all(f.startswith("default-") for f in folders)
    assert first != second
    assert recframe_cli([*base, "seed=0,1", "model=pop"])[0] == 0  # the same sweep, overrides reordered
    assert _summary(capsys.readouterr().out) == first
    assert len(list((tmp_path / "multiruns").iterdir())) == 2
    for folder in folders:  # every job says which sweep ran it
        markers = [json.loads(p.read_text()) for p in (tmp_path / "multiruns" / folder).rglob(MARKER)]
        assert len(markers) == 2 and {m["id"] for m in markers} == {folder.removeprefix("default-")}


@pytest.mark.slow  # two sweeps
def test_report_refuses_to_mix_two_sweeps_in_one_named_folder(tmp_path, capsys):
    base = ["-m", *FAST, "name=shared", f"paths.output_dir={tmp_path}"]
    assert recframe_cli([*base, "model=pop", "seed=0,1"])[0] == 0
    assert recframe_cli([*base, "model=bpr", "seed=0"])[0] == 0
    sweep = tmp_path / "multiruns" / "shared"
    capsys.readouterr()
    code, err = recframe_cli(["report", str(sweep), "--no-plot"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "holds jobs of 2 different sweeps" in err and "--mix" in err and "--sweep ID" in err
    assert not (sweep / "report.csv").exists()
    ids = {json.loads(p.read_text())["id"] for p in sweep.rglob(MARKER)}
    pop_id = sweep_id(["model=pop", "seed=0,1", *FAST, "name=shared"])
    assert pop_id in ids
    assert recframe_cli(["report", str(sweep), "--sweep", pop_id, "--no-plot"])[0] == 0
    _, rows = _rows(sweep / "report.csv")
    assert sorted(r["job"].split("/")[1] for r in rows) == ["pop", "pop"]
    assert recframe_cli(["report", str(sweep), "--mix", "--no-plot"])[0] == 0
    _, rows = _rows(sweep / "report.csv")
    assert sorted(r["job"].split("/")[1] for r in rows) == ["bpr", "pop", "pop"]


def test_report_columns_and_metrics_choose_what_is_shown(tmp_path, capsys):
    assert recframe_cli(["-m", *FAST, "name=cols", f"paths.output_dir={tmp_path}", "model=pop", "seed=0,1"])[0] == 0
    sweep = tmp_path / "multiruns" / "cols"
    assert recframe_cli(["report", str(sweep), "--metrics", "test/ndcg@*", "--no-plot"])[0] == 0
    cols, rows = _rows(sweep / "report.csv")
    metric_cols = [c for c in cols if "/" in c]
    # the chosen metrics, then the key that marks the best row
    assert metric_cols == ["test/ndcg@5", "test/ndcg@10", "test/ndcg@20", "valid/ndcg@10"]
    assert "cost.params" in cols  # --metrics leaves the other columns
    assert (
        recframe_cli(["report", str(sweep), "--columns", "seed", "test/recall@*", "cost.params", "--no-plot"])[0] == 0
    )
    cols, rows = _rows(sweep / "report.csv")
    assert cols[0] == "job" and cols[1] == "seed" and cols[-1] == "cost.params"
    assert all(c.startswith("test/recall@") for c in cols[2:-1]) and len(cols) > 3
    assert sorted(r["seed"] for r in rows) == ["0", "1"]
    out = capsys.readouterr().out
    for row in rows:  # the printed table keeps each job's folder whole
        assert row["job"] in out.replace("\n", "") or all(part in out for part in row["job"].split("/"))
    code, err = recframe_cli(["report", str(sweep), "--columns", "tset/ndcg@10", "--no-plot"], capsys)
    assert code == 2 and "no such column" in err and "test/ndcg@10" in err


@pytest.mark.slow  # an Optuna study of two trials
def test_optuna_study_carries_metric_names_and_a_distinct_default_name(tmp_path, capsys):
    args = [
        "-m",
        "hydra/sweeper=optuna",
        *FAST,
        "name=default",
        f"paths.output_dir={tmp_path}",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler=random",
        "hydra.sweeper.seed=0",
        "trainer.lr=interval(0.001,0.1)",
    ]
    assert recframe_cli(args)[0] == 0
    (folder,) = list((tmp_path / "multiruns").iterdir())
    assert folder.name.startswith("default-")
    study = load_study(folder, folder.name)
    assert study.metric_names == ["valid/ndcg@10"]
    assert len(study.trials) == 2
