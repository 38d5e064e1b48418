"""``recframe.run(data=df)`` and ``recframe.Experiment`` on ml-100k DataFrames.

Oracles: the same data through its built-in source gives the same metrics; the loaded model's lists are
recomputed from the training frame with pandas; nothing lands in the parsed-data cache.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import recframe
from recframe import paths
from recframe.errors import ConfigError

TAB = "\t"
COLUMNS = ["user", "item", "rating", "timestamp"]


@pytest.fixture(scope="module")
def ratings(ml100k) -> pd.DataFrame:
    return pd.read_csv(ml100k / "u.data", sep=TAB, names=COLUMNS)


@pytest.mark.slow  # two runs, about 25 s on a loaded two-core machine
def test_a_dataframe_run_matches_the_builtin_source(tmp_path, ratings):
    from_frame = recframe.run(["model=pop", "protocol=random_811"], data=ratings, run_dir=tmp_path / "frame")
    builtin = recframe.run(["data=ml-100k", "model=pop", "protocol=random_811"], run_dir=tmp_path / "builtin")
    assert from_frame["metrics"] == builtin["metrics"]
    assert from_frame["data"]["interactions"] == len(ratings) == 100_000
    written = pd.read_parquet(tmp_path / "frame" / "input" / "all.parquet")
    pd.testing.assert_frame_equal(written, ratings)
    assert json.loads((tmp_path / "frame" / "results.json").read_text())["metrics"] == from_frame["metrics"]


def test_experiment_fit_on_train_and_test_frames_returns_the_loadable_model(ml100k):
    train = pd.read_csv(ml100k / "u1.base", sep=TAB, names=["uid", "sku", "stars", "ts"])
    test = pd.read_csv(ml100k / "u1.test", sep=TAB, names=["uid", "sku", "stars", "ts"])
    cache = paths.cache_dir()
    before = set(cache.rglob("*")) if cache.exists() else set()
    exp = recframe.Experiment(
        {"train": train, "test": test}, model="pop", columns={"user": "uid", "item": "sku", "rating": "stars"}
    )
    fitted = exp.fit()
    assert fitted.run_dir.parts[-3].startswith("dataframe-")  # the CLI's folder, the frames' digest as data
    assert (set(cache.rglob("*")) if cache.exists() else set()) == before  # the frames went nowhere else
    assert fitted.results["protocol"]["split"]["name"] == "predefined"
    kept = test[test.uid.isin(train.uid) & test.sku.isin(train.sku)]
    assert fitted.results["data"]["test"] == len(kept)
    recs = fitted.model.recommend([1], k=5)
    counts = train.sku.value_counts()
    unseen = counts[~counts.index.isin(train.sku[train.uid == 1])]
    assert sorted(counts[recs["item"]].tolist(), reverse=True) == unseen.iloc[:5].tolist()
    assert not set(recs["item"]) & set(train.sku[train.uid == 1])


@pytest.mark.slow  # a full run: about 35 s on a loaded two-core machine
def test_feature_frames_join_onto_users_and_reach_the_saved_model(tmp_path, ml100k, ratings):
    users = pd.read_csv(ml100k / "u.user", sep="|", names=["user", "age", "gender", "occupation", "zip"])
    shuffled = users.sample(frac=1.0, random_state=0)  # the join is by id, not by row order
    fitted = recframe.Experiment(
        ratings,
        model="pop",
        protocol="random_811",
        user_features=shuffled,
        overrides=["+data.features={user: [gender, occupation]}"],
        run_dir=tmp_path / "run",
    ).fit()
    saved = pd.read_parquet(fitted.run_dir / "model" / "users.parquet")
    ids = saved.columns[0]
    joined = saved.set_index(ids).loc[users["user"]]
    assert joined["gender"].tolist() == users["gender"].tolist()
    assert joined["occupation"].tolist() == users["occupation"].tolist()


def test_bad_frames_are_one_line_errors(ratings, ml100k, tmp_path):
    users = pd.read_csv(ml100k / "u.user", sep="|", names=["uid", "age", "gender", "occupation", "zip"])
    with pytest.raises(ConfigError, match="user_features: no 'user' column"):
        recframe.Experiment(ratings, user_features=users, run_dir=tmp_path / "never").fit()
    assert not (tmp_path / "never").exists()  # refused before anything was written
    with pytest.raises(ConfigError, match="no user column"):
        recframe.Experiment(ratings.rename(columns={"user": "who"}))
    with pytest.raises(ConfigError, match="needs 'test'"):
        recframe.Experiment({"train": ratings})
    with pytest.raises(ConfigError, match=r"columns\['item'\]: the DataFrame has no column 'sku'"):
        recframe.Experiment(ratings, columns={"user": "user", "item": "sku"})
    with pytest.raises(ConfigError, match="drop the data overrides"):
        recframe.run(["data=ml-1m"], data=ratings)
