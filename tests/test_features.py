"""Feature fields (recframe/data/features.py): exact ids on a toy table, real ML-1M counts, one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recframe.data.features import build_features, labels_from_ratings
from recframe.data.interactions import Interactions
from recframe.errors import ConfigError

SPEC = {
    "user": ["gender", {"name": "zip_prefix", "column": "zip", "prefix": 2}],
    "item": [{"name": "genres", "kind": "multi_hot"}, {"name": "year", "kind": "bucket", "boundaries": [1980, 1990]}],
    "context": ["hour", "weekday"],
}


def toy() -> Interactions:
    # 1970-01-05 is a Monday: weekday 0; + 13 h -> hour 13. 1970-01-01 (Thursday) 00:00 -> weekday 3, hour 0.
    data = Interactions(
        user=np.array([0, 1, 2, 0]),
        item=np.array([0, 1, 1, 2]),
        n_users=3,
        n_items=3,
        rating=np.array([5, 1, 4, 3], dtype=np.float32),
        timestamp=np.array([4 * 86400 + 13 * 3600, 0, 86400 * 2 + 3600 * 23, 4 * 86400]),
        user_ids=np.array([10, 20, 30]),
        item_ids=np.array([7, 8, 9]),
    )
    data.user_features = pd.DataFrame(
        {"user": [10, 20, 30], "gender": ["M", "F", None], "zip": ["48067", "02460", "48105"]}
    )
    data.item_features = pd.DataFrame(
        {
            "item": [7, 8, 9],
            "genres": ["Drama|Comedy", "Comedy", None],
            "year": pd.array([1975, 1990, None], dtype="Int64"),
        }
    )
    return data


def test_toy_table_ids_are_exact():
    t = build_features(SPEC, toy())
    names = [(f.name, f.side, f.offset, f.size, f.width) for f in t.fields]
    assert names == [
        ("user_id", "user", 0, 4, 1),
        ("gender", "user", 4, 3, 1),
        ("zip_prefix", "user", 7, 3, 1),
        ("item_id", "item", 10, 4, 1),
        ("genres", "item", 14, 3, 2),
        ("year", "item", 17, 4, 1),
        ("hour", "context", 21, 25, 1),
        ("weekday", "context", 46, 8, 1),
    ]
    assert t.vocab_size == 54 and t.pad == 54
    assert t.fields[1].values == ("F", "M") and t.fields[2].values == ("02", "48")
    assert t.fields[4].values == ("Comedy", "Drama") and t.fields[5].values == ("<1980", "[1980,1990)", ">=1990")
    # user: id, gender (0 = missing), zip prefix
    assert t.user.tolist() == [[1, 4 + 2, 7 + 2], [2, 4 + 1, 7 + 1], [3, 4 + 0, 7 + 2]]
    # item: id, genres (two slots, padded; no genres -> the missing id), year bucket (1990 is in >=1990)
    assert t.item.tolist() == [[11, 15, 16, 17 + 1], [12, 15, 54, 17 + 3], [13, 14, 54, 17 + 0]]
    assert t.slot_field["item"].tolist() == [3, 4, 4, 5]
    ctx = t.context(toy())
    assert ctx.tolist() == [
        [21 + 1 + 13, 46 + 1 + 0],
        [21 + 1 + 0, 46 + 1 + 3],
        [21 + 1 + 23, 46 + 1 + 5],
        [21 + 1 + 0, 46 + 1 + 0],
    ]
    # the latest training context per user: user 0's latest row is the first (13 h after the 4th row)
    assert t.last_context(toy()).tolist() == [ctx[0].tolist(), ctx[1].tolist(), ctx[2].tolist()]
    assert t.fixed_context({"hour": 20}).tolist() == [21 + 1 + 20, 46]


def test_no_spec_declares_the_two_id_fields_only():
    t = build_features(None, toy())
    assert [f.name for f in t.fields] == ["user_id", "item_id"] and t.context_width == 0
    assert t.item[:, 0].tolist() == [5, 6, 7]


def test_labels_drop_the_middle_rating_and_replace_ratings_by_labels():
    out = labels_from_ratings(toy(), 4, 2)
    assert out.rating.tolist() == [1.0, 0.0, 1.0] and out.user.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "spec, key",
    [
        ({"user": ["gendr"]}, "data.features.user[0]: unknown user column 'gendr'"),
        ({"item": [{"name": "genres", "kind": "multihot"}]}, "data.features.item[0].kind 'multihot'"),
        ({"users": ["gender"]}, "data.features.users is not a feature side"),
        ({"context": ["month"]}, "data.features.context[0]: unknown context field 'month'"),
        ({"item": [{"name": "year", "kind": "bucket"}]}, "data.features.item[0].boundaries"),
        (
            {"item": [{"name": "year", "kind": "bucket", "boundaries": [1990, 1980]}]},
            "data.features.item[0].boundaries",
        ),
        ({"item": [{"name": "genres", "kind": "bucket", "boundaries": [1]}]}, "column 'genres' holds non-numeric"),
        ({"user": [{"name": "zip", "sep": ","}]}, "data.features.user[0].sep applies to kind 'multi_hot'"),
        ({"user": [{"name": "zip", "prefx": 2}]}, "data.features.user[0].prefx is not a field option"),
        ({"user": ["gender", "gender"]}, "declares the field 'gender' twice"),
    ],
)
def test_bad_specs_are_one_line_errors_naming_the_key(spec, key):
    with pytest.raises(ConfigError) as err:
        build_features(spec, toy())
    assert key in str(err.value) and "\n" not in str(err.value)


def test_unknown_rank_context_field_names_the_model_key():
    t = build_features(SPEC, toy())
    with pytest.raises(
        ConfigError, match=r"model.rank_context.hours is not a declared context field.*did you mean 'hour'"
    ):
        t.fixed_context({"hours": 3})
    with pytest.raises(ConfigError, match=r"model.rank_context.weekday must be an integer in 0..6"):
        t.fixed_context({"weekday": 7})


def test_ml1m_fields_and_ctr_labels(data_dir):
    from recframe import config as rconfig
    from recframe.runner import load_data

    cfg = rconfig.compose(["data=ml-1m"])
    data = load_data(cfg)
    labelled = labels_from_ratings(data, 4, 2)
    assert len(labelled) == 1_000_209 - 261_197 == 739_012  # RecBole's ml-1m_context: 739,012 instances
    assert int(labelled.rating.sum()) == 348_971 + 226_310  # ratings 4 and 5
    spec = {**dict(cfg.data.features), "context": list(cfg.data.features.context)}
    t = build_features(spec, labelled.compact())
    sizes = {f.name: f.size - 1 for f in t.fields}
    assert sizes["user_id"] == 6040 and sizes["gender"] == 2 and sizes["age"] == 7 and sizes["occupation"] == 21
    assert sizes["genres"] == 18 and sizes["hour"] == 24 and sizes["weekday"] == 7
    assert t.item.shape == (labelled.compact().n_items, 1 + 6 + 1)  # id, up to six genres, year
    ctx = t.context(labelled)
    assert ctx.shape == (739_012, 2) and (ctx[:, 0] >= t.fields[-2].offset + 1).all()


def test_labeled_batches_cover_every_record_once_per_epoch_with_context():
    from recframe.training.batches import LabeledBatches

    data = labels_from_ratings(toy(), 4, 2)
    ctx = build_features(SPEC, data).context(data)
    stream = LabeledBatches(data, 2, seed=3, context=ctx)
    first = list(stream)
    assert [len(b["user"]) for b in first] == [2, 1] and len(stream) == 2
    rows = {
        (int(u), int(i), float(y), tuple(c.tolist()))
        for b in first
        for u, i, y, c in zip(b["user"], b["item"], b["label"], b["context"])
    }
    assert rows == {
        (int(u), int(i), float(y), tuple(c)) for u, i, y, c in zip(data.user, data.item, data.rating, ctx.tolist())
    }
    stream.set_epoch(0)
    assert [b["user"].tolist() for b in stream] == [b["user"].tolist() for b in first]  # seeded by (seed, epoch)
