"""recframe recommend from the shell, with no access to the dataset files (RECFRAME_DATA_DIR points nowhere)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import recframe
from recframe.cli import main


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def recommend_cli(monkeypatch, capsys):
    def run(args: list[str], tmp_path) -> Done:
        monkeypatch.setenv("RECFRAME_DATA_DIR", str(tmp_path / "no-data-here"))
        capsys.readouterr()
        code = main(["recommend", *args])
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return run


@pytest.mark.slow  # two CLI processes writing every user's lists (~25 s CPU); the API's lists are tested by default
def test_all_users_to_parquet_and_csv_equal_the_api(run_for, tmp_path, recommend_cli):
    run_dir = run_for("sasrec")
    handle = recframe.load(run_dir)
    out = tmp_path / "recs.parquet"
    done = recommend_cli([str(run_dir), "--all", "--k", "20", "--out", str(out), "--batch-users", "300"], tmp_path)
    assert done.returncode == 0, done.stderr
    recs = pd.read_parquet(out)
    assert len(recs) == 943 * 20 and recs["user"].nunique() == 943
    expected = handle.recommend(handle.saved.user_ids.tolist(), k=20)
    assert np.array_equal(recs["item"].to_numpy(), expected["item"].to_numpy())
    assert np.array_equal(recs["user"].to_numpy(), expected["user"].to_numpy())
    topk = np.load(run_dir / "topk.npz")
    test_users = set(handle.saved.user_ids[topk["users"]].tolist())
    first = recs[recs["user"].isin(test_users)]["item"].to_numpy().reshape(len(test_users), 20)
    assert np.array_equal(first, handle.saved.item_ids[topk["items"]])
    csv = tmp_path / "few.csv"
    done = recommend_cli([str(run_dir), "--users", "1,2,3", "--k", "4", "--out", str(csv)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(csv)["item"].tolist() == handle.recommend([1, 2, 3], k=4)["item"].tolist()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary files left


def test_table_and_one_line_errors(run_for, tmp_path, recommend_cli):
    run_dir = run_for("ease")
    done = recommend_cli([str(run_dir), "--users", "1,2", "--k", "3", "--metadata"], tmp_path)
    assert done.returncode == 0, done.stderr
    titles = recframe.load(run_dir).recommend([1], k=1, metadata=True)["title"].iloc[0]
    assert titles.split(" (")[0][:10] in done.stdout
    for args, message in [
        (["--users", "1,77777"], "unknown user id '77777'"),
        (["--users", "1", "--k", "0"], "k must be a positive integer"),
        (["--all"], "add --out recs.parquet"),
        (["--all", "--out", "x.txt"], "must end in .parquet or .csv"),
    ]:
        done = recommend_cli([str(run_dir), *args], tmp_path)
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = recommend_cli([str(tmp_path), "--users", "1"], tmp_path)
    assert done.returncode == 2 and "has no saved model" in done.stderr
