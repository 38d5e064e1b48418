"""``recframe report``: the table's rows are the jobs' results; best row, protocol, Pareto front."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sweeps_helpers import FAST, recframe_cli

from recframe.sweeps.objectives import COST_KEYS
from recframe.sweeps.pareto import pareto_mask


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A real multirun on the synthetic data: 4 jobs, of which bpr with optimizer 'bogus' fails."""
    out = tmp_path_factory.mktemp("report")
    code, _ = recframe_cli(
        ["-m", *FAST, "name=rep", f"paths.output_dir={out}", "model=bpr,pop", "trainer.optimizer=adam,bogus"]
    )
    assert code == 2  # one job failed; the others ran
    return out / "multiruns" / "rep"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_rows_are_the_jobs_results(sweep, capsys):
    capsys.readouterr()
    code, _ = recframe_cli(["report", str(sweep)])
    assert code == 0
    rows = _rows(sweep / "report.csv")
    job_dirs = sorted(p.parent.parent for p in sweep.rglob(".hydra/overrides.yaml"))
    assert sorted(r["job"] for r in rows) == sorted(str(d.relative_to(sweep)) for d in job_dirs)
    assert {r["status"] for r in rows} == {"ok", "failed"}
    for row in rows:
        job = sweep / row["job"]
        assert row["model"] == job.parts[-2] and row["trainer.optimizer"] in ("adam", "bogus")
        if row["status"] == "failed":
            assert (row["model"], row["trainer.optimizer"]) == ("bpr", "bogus")
            assert not (job / "results.json").exists() and row["valid/ndcg@10"] == ""
            continue
        results = json.loads((job / "results.json").read_text())
        for key, value in results["metrics"].items():
            assert float(row[key]) == value
        numeric = {k for k, v in results["cost"].items() if isinstance(v, int | float) and not isinstance(v, bool)}
        assert numeric - set(COST_KEYS) <= {"train_flops_per_epoch"}  # every cost number is a column
        for key in numeric & set(COST_KEYS):
            assert float(row[f"cost.{key}"]) == results["cost"][key]
    ok = [r for r in rows if r["status"] == "ok"]
    best = max(ok, key=lambda r: float(r["valid/ndcg@10"]))
    assert [r["job"] for r in rows if r["best"] == "1"] == [best["job"]]
    md = (sweep / "report.md").read_text()
    assert md.count("protocol: random_811") == 1 and "| protocol |" not in md
    assert "data=synthetic" in md  # the shared overrides are listed once above the table
    assert "| data |" not in md and len(md.splitlines()) >= len(rows) + 2
    printed = capsys.readouterr().out
    assert best["job"] in printed and "protocol: random_811" in printed


def test_pareto_front_and_plot(sweep):
    code, _ = recframe_cli(["report", str(sweep), "--objectives", "valid/ndcg@10:max", "cost.params:min"])
    assert code == 0
    rows = [r for r in _rows(sweep / "report.csv")]
    ok = [r for r in rows if r["status"] == "ok"]
    points = [(float(r["valid/ndcg@10"]), float(r["cost.params"])) for r in ok]
    expected = {
        r["job"] for r, p in zip(ok, points) if not any(q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)
    }
    assert {r["job"] for r in rows if r["pareto"] == "1"} == expected and expected
    assert (sweep / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_best_by_another_metric(sweep):
    assert recframe_cli(["report", str(sweep), "--metric", "cost.fit_seconds", "--no-plot"])[0] == 0
    ok = [r for r in _rows(sweep / "report.csv") if r["status"] == "ok"]
    assert [r["job"] for r in ok if r["best"] == "1"] == [min(ok, key=lambda r: float(r["cost.fit_seconds"]))["job"]]


def test_jobs_with_different_protocols_get_a_protocol_column(tmp_path):
    assert recframe_cli(["-m", *FAST, "name=proto", f"paths.output_dir={tmp_path}", "model=pop", "seed=0,1"])[0] == 0
    sweep = tmp_path / "multiruns" / "proto"
    assert recframe_cli(["report", str(sweep)])[0] == 0
    rows = _rows(sweep / "report.csv")
    assert len(rows) == 2 and len({r["protocol"] for r in rows}) == 2
    assert "differ in protocol" in (sweep / "report.md").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metric", "valid/ndcg@11"], "did you mean 'valid/ndcg@10'"),
        (["--objectives", "valid/ndcg@10:max"], "needs two or more"),
        (["--objectives", "valid/ndcg@10:max", "cost.params:smallest"], "direction 'smallest'"),
    ],
)
def test_bad_report_arguments_are_one_line(sweep, capsys, args, message):
    code, err = recframe_cli(["report", str(sweep), *args], capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_report_on_a_missing_folder(tmp_path, capsys):
    code, err = recframe_cli(["report", str(tmp_path / "nope")], capsys)
    assert code == 2 and "does not exist" in err


def test_pareto_mask():
    points = [(0.3, 10.0), (0.2, 5.0), (0.1, 20.0), None, (0.3, 10.0), (0.25, 5.0)]
    assert pareto_mask(points, ["maximize", "minimize"]) == [True, False, False, False, True, True]
    assert pareto_mask([(1.0, 1.0), (2.0, 2.0)], ["minimize", "minimize"]) == [True, False]
