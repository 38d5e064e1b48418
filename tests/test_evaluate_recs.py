"""``recframe evaluate --recs`` and ``model=precomputed`` on ml-100k.

The oracle is a real run: its saved test top-K lists, written as a CSV in raw ids, must reproduce its test
metrics exactly, through the ``evaluate`` command and through the model inside a normal run.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import recframe
from recframe import config as rconfig
from recframe.cli import main
from recframe.errors import DataError
from recframe.evaluation.recs import order_levels, read_recs
from recframe.runner import derive_seeds, load_data, make_split

RUN = ["data=ml-100k", "model=itemknn", "protocol=random_811"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, ml100k):
    """A real ItemKNN run and its test lists as ``user,item,rank`` in the data's raw ids."""
    folder = tmp_path_factory.mktemp("reference")
    results = recframe.run(RUN, run_dir=folder / "run")
    cfg = rconfig.compose(RUN)
    split = make_split(cfg, load_data(cfg), seed=0)
    saved = np.load(folder / "run" / "topk.npz")
    users, items = saved["users"], saved["items"]
    rows = [
        (split.train.user_ids[u], split.train.item_ids[i], r + 1)
        for u, row in zip(users, items, strict=True)
        for r, i in enumerate(row)
        if i >= 0
    ]
    lists = folder / "lists.csv"
    pd.DataFrame(rows, columns=["user", "item", "rank"]).to_csv(lists, index=False)
    return results, lists, folder


def test_evaluate_reproduces_the_runs_test_metrics(reference, capsys):
    results, lists, folder = reference
    out = folder / "evaluated"
    assert main(["evaluate", "--recs", str(lists), "--run-dir", str(out), "data=ml-100k", "protocol=random_811"]) == 0
    on_disk = json.loads((out / "results.json").read_text())
    tests = {k: v for k, v in results["metrics"].items() if k.startswith("test/")}
    assert {"test/ndcg@10", "test/recall@20", "test/hr@5"} <= set(tests)
    assert {k: on_disk["metrics"][k] for k in tests} == tests
    counts = on_disk["recs"]["counts"]
    assert counts["users_without_list"] == 0 and counts["lists_shorter_than_20_after_masking"] == 0
    assert counts["rows"] == sum(1 for _ in open(lists)) - 1
    assert on_disk["run"]["model"] == "precomputed" and on_disk["protocol"] == results["protocol"]
    assert "users without list: 0" in capsys.readouterr().out
    # the saved model serves the lists without the file
    frame = pd.read_csv(lists)
    lists.rename(lists.with_suffix(".moved"))
    try:
        served = recframe.load(out).recommend([frame["user"].iloc[0]], k=5)
    finally:
        lists.with_suffix(".moved").rename(lists)
    first = frame[frame["user"] == frame["user"].iloc[0]].sort_values("rank")["item"].head(5).tolist()
    assert served["item"].tolist() == first


def test_precomputed_model_in_a_run_matches_and_shorter_lists_lose_hits(reference):
    results, lists, folder = reference
    same = recframe.run(
        ["data=ml-100k", "protocol=random_811", "model=precomputed", f"model.recs={lists}"], run_dir=folder / "model"
    )
    assert {k: v for k, v in same["metrics"].items() if k.startswith("test/")} == {
        k: v for k, v in results["metrics"].items() if k.startswith("test/")
    }
    # the first 5 of each list: @5 unchanged; past the lists' end nothing is a hit, under every tie rule
    frame = pd.read_csv(lists)
    frame[frame["rank"] <= 5].to_csv(folder / "top5.csv", index=False)
    for ties in ("torch.topk", "optimistic"):
        short = recframe.run(
            ["data=ml-100k", "protocol=random_811", f"protocol.ties={ties}", "model=precomputed"]
            + [f"model.recs={folder / 'top5.csv'}"],
            run_dir=folder / f"short-{ties}",
        )
        assert short["metrics"]["test/hr@5"] == results["metrics"]["test/hr@5"]
        assert short["metrics"]["test/hr@20"] == short["metrics"]["test/hr@5"]
        assert short["metrics"]["test/precision@10"] == pytest.approx(short["metrics"]["test/precision@5"] / 2)


def test_bad_lists_are_one_line_errors(tmp_path, reference):
    cfg = rconfig.compose(RUN)
    data = load_data(cfg)
    good = pd.read_csv(reference[1]).head(30)
    cases = {
        "unknown": (good.assign(item=good["item"].where(good.index != 3, 99999)), r"line 5, column item: item '99999'"),
        "repeat": (
            pd.concat([good, good.iloc[[7]]]),
            r"line 32: user '\d+' item '\d+' is listed twice \(first on line 9\)",
        ),
        "no item": (good.rename(columns={"item": "movie"}), r"line 1: no 'item' column"),
        "bad rank": (good.astype({"rank": str}).assign(rank=lambda f: f["rank"].where(f.index != 2, "x")), r"line 4"),
    }
    for name, (frame, pattern) in cases.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        with pytest.raises(DataError, match=pattern) as err:
            read_recs(path, data.user_ids, data.item_ids)
        assert "\n" not in str(err.value)
    frame, _ = cases["unknown"]
    frame.to_csv(tmp_path / "drop.csv", index=False)
    dropped = read_recs(tmp_path / "drop.csv", data.user_ids, data.item_ids, unknown="drop")
    assert dropped.counts["unknown_item_rows"] == 1 and len(dropped.user) == 29


def test_order_levels_against_a_brute_force_ranking():
    rng = np.random.default_rng(0)
    user = rng.integers(0, 7, 300)
    value = rng.integers(0, 5, 300).astype(float)
    levels = order_levels(user, value)
    for u in range(7):
        mine = value[user == u]
        distinct = sorted(set(mine))
        assert levels[user == u].tolist() == [distinct.index(v) + 1 for v in mine]


@pytest.mark.slow  # two runs
def test_a_score_matrix_reproduces_the_model_that_made_it(tmp_path):
    """Pop's popularity row for every user, as ``scores.npz`` in raw ids (items in shuffled order)."""
    run = ["data=ml-100k", "protocol=random_811", "protocol.ties=pessimistic"]
    pop = recframe.run([*run, "model=pop"], run_dir=tmp_path / "pop")
    cfg = rconfig.compose(run)
    split = make_split(cfg, load_data(cfg), seed=derive_seeds(0, 4)[0])  # the run's split seed
    counts = np.bincount(split.train.item, minlength=split.n_items).astype(np.float32)
    order = np.random.default_rng(1).permutation(split.n_items)
    np.savez(
        tmp_path / "scores.npz",
        users=split.train.user_ids,
        items=split.train.item_ids[order],
        scores=np.tile(counts[order], (split.n_users, 1)),
    )
    same = recframe.run([*run, "model=precomputed", f"model.scores={tmp_path / 'scores.npz'}"], run_dir=tmp_path / "m")
    assert same["metrics"] == pop["metrics"]
