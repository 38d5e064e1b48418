"""``data=table`` with the user's own train/valid/test files and user/item feature files (ml-100k's u1 fold).

The oracle is pandas reading the same files: the split must hold exactly the files' rows, less the rows
the unseen policy drops, counted independently here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recframe import config as rconfig
from recframe.errors import ConfigError, DataError
from recframe.runner import load_data, make_split

TAB = "\t"
COLUMNS = ["user", "item", "rating", "ts"]


def write_fold(tmp_path, ml100k, *, valid: bool = True):
    """u1.base cut into train/valid (every 10th row valid) and u1.test, as headed CSVs."""
    base = pd.read_csv(ml100k / "u1.base", sep=TAB, names=COLUMNS)
    test = pd.read_csv(ml100k / "u1.test", sep=TAB, names=COLUMNS)
    is_valid = (np.arange(len(base)) % 10 == 0) if valid else np.zeros(len(base), bool)
    base[~is_valid].to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    parts = {"train": base[~is_valid], "test": test}
    if valid:
        base[is_valid].to_csv(tmp_path / "valid.csv", index=False)
        parts["valid"] = base[is_valid]
    return parts


def overrides(tmp_path, *extra: str) -> list[str]:
    return [
        "data=table",
        f"data.path={tmp_path}",
        "data.train=train.csv",
        "data.test=test.csv",
        "data.columns.user=user",
        "data.columns.item=item",
        "data.columns.rating=rating",
        "data.columns.timestamp=ts",
        "protocol=presplit",
        "data_cache=false",
        *extra,
    ]


def pairs(part) -> set[tuple[int, int]]:
    return set(zip(part.user_ids[part.user].tolist(), part.item_ids[part.item].tolist(), strict=False))


def test_split_files_are_kept_as_given_and_unseen_rows_dropped(tmp_path, ml100k):
    files = write_fold(tmp_path, ml100k)
    cfg = rconfig.compose(overrides(tmp_path, "data.valid=valid.csv"))
    split = make_split(cfg, load_data(cfg), seed=0)
    train = files["train"]
    expected = {}
    for name in ("valid", "test"):
        frame = files[name]
        seen = frame["user"].isin(train["user"]) & frame["item"].isin(train["item"])
        expected[name] = set(zip(frame["user"][seen], frame["item"][seen], strict=False))
        assert (~seen).sum() > 0 or name == "valid"  # u1.test holds items absent from u1.base
    assert pairs(split.train) == set(zip(train["user"], train["item"], strict=False))
    assert pairs(split.valid) == expected["valid"]
    assert pairs(split.test) == expected["test"]
    data = load_data(cfg)
    n_unseen = int((~(files["test"]["user"].isin(train["user"]) & files["test"]["item"].isin(train["item"]))).sum())
    assert data.meta["unseen_dropped"].get("test", 0) == n_unseen
    assert len(split.test) == len(files["test"]) - n_unseen


def test_unseen_error_names_the_file_and_line(tmp_path, ml100k):
    files = write_fold(tmp_path, ml100k, valid=False)
    cfg = rconfig.compose(overrides(tmp_path, "data.unseen=error"))
    with pytest.raises(DataError) as err:
        load_data(cfg)
    msg = str(err.value)
    assert "\n" not in msg and "test.csv, line " in msg and "data.unseen=drop" in msg
    line = int(msg.split("line ")[1].split(",")[0])
    side = msg.split(", ")[2].split(" ")[0]
    row = files["test"].iloc[line - 2]  # line 1 is the header
    assert row[side] not in set(files["train"][side]) and f"{side} {row[side]} is not in the train file" in msg


def test_another_splitter_on_presplit_files_is_refused(tmp_path, ml100k):
    write_fold(tmp_path, ml100k, valid=False)
    cfg = rconfig.compose([*overrides(tmp_path)[:-2], "protocol=random_811", "data_cache=false"])
    with pytest.raises(ConfigError, match="protocol=presplit"):
        make_split(cfg, load_data(cfg), seed=0)


def test_bad_lines_and_options_are_one_line_errors(tmp_path, ml100k):
    write_fold(tmp_path, ml100k, valid=False)
    with open(tmp_path / "test.csv", "a") as fh:
        fh.write("1,2,3,4,5\n")
    n_lines = sum(1 for _ in open(tmp_path / "test.csv"))
    with pytest.raises(DataError, match=rf"test\.csv, line {n_lines}: malformed line"):
        load_data(rconfig.compose(overrides(tmp_path)))
    with pytest.raises(ConfigError, match="data.file or data.train"):
        load_data(rconfig.compose([*overrides(tmp_path), "data.file=events.csv"]))
    with pytest.raises(ConfigError, match="data.test is missing"):
        load_data(rconfig.compose([*overrides(tmp_path), "data.test=null"]))


def write_user_features(tmp_path, ml100k) -> pd.DataFrame:
    users = pd.read_csv(ml100k / "u.user", sep="|", names=["user_id", "age", "gender", "occupation", "zip"])
    users.to_csv(tmp_path / "users.csv", index=False)
    return users


def test_feature_files_join_onto_users_and_feed_feature_fields(tmp_path, ml100k):
    write_fold(tmp_path, ml100k, valid=False)
    users = write_user_features(tmp_path, ml100k)
    cfg = rconfig.compose(
        overrides(
            tmp_path,
            "+data.user_features={file: users.csv, id: user_id}",
            "+data.features={user: [gender, occupation]}",
        )
    )
    data = load_data(cfg)
    table = data.user_features
    assert len(table) == data.n_users
    by_id = users.set_index("user_id")
    for dense in (0, 100, data.n_users - 1):
        raw = int(data.user_ids[dense])
        assert table["gender"].iloc[dense] == by_id.loc[raw, "gender"]
        assert table["occupation"].iloc[dense] == by_id.loc[raw, "occupation"]
    from recframe.stages.split import dataset_info

    info = dataset_info(cfg, make_split(cfg, data, seed=0))
    names = [f.name for f in info.features.fields]
    assert names == ["user_id", "gender", "occupation", "item_id"]
    gender = info.features.fields[1]
    assert sorted(gender.values) == ["F", "M"]


def test_repeated_feature_id_names_both_lines(tmp_path, ml100k):
    write_fold(tmp_path, ml100k, valid=False)
    users = write_user_features(tmp_path, ml100k)
    pd.concat([users, users.iloc[[4]]]).to_csv(tmp_path / "users.csv", index=False)
    cfg = rconfig.compose(overrides(tmp_path, "+data.user_features={file: users.csv, id: user_id}"))
    with pytest.raises(
        DataError, match=rf"users\.csv, line {len(users) + 2}: user '5' is repeated \(first on line 6\)"
    ):
        load_data(cfg)


def test_item_feature_file_feeds_a_content_model(tmp_path, ml100k):
    """ContentKNN's attribute vectors, built from a joined item file, hold each item's own genres."""
    from recframe.plugins import registries
    from recframe.stages.split import dataset_info

    write_fold(tmp_path, ml100k, valid=False)
    genres = [line.split("|")[0] for line in (ml100k / "u.genre").read_text().splitlines() if line]
    raw = pd.read_csv(ml100k / "u.item", sep="|", header=None, encoding="latin-1")
    flags = raw.iloc[:, 5 : 5 + len(genres)].to_numpy()
    items = pd.DataFrame(
        {
            "item_id": raw[0],
            "title": raw[1],
            "genres": ["|".join(g for g, f in zip(genres, row, strict=True) if f) for row in flags],
        }
    )
    items.to_csv(tmp_path / "items.csv", index=False)
    cfg = rconfig.compose(overrides(tmp_path, "+data.item_features={file: items.csv, id: item_id}"))
    info = dataset_info(cfg, make_split(cfg, load_data(cfg), seed=0))
    model = registries().model.get("content_knn")(info, representation="attributes")
    vectors = model.item_vectors.numpy()
    by_id = items.set_index("item_id")
    for dense in (0, 500, info.n_items - 1):
        expected = set(by_id.loc[int(info.train.item_ids[dense]), "genres"].split("|"))
        assert int((vectors[dense] > 0).sum()) == len(expected)
    same = [
        d for d in range(info.n_items) if by_id.loc[int(info.train.item_ids[d]), "genres"] == by_id.iloc[0]["genres"]
    ]
    assert len(same) > 1 and np.allclose(vectors[same[0]], vectors[same[1]])  # equal genres, equal vectors
