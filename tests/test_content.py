"""The content plugin: representations, the embedding cache, content kNN, the cold-start guard."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

import recframe
from recframe.data.interactions import Interactions
from recframe.errors import ConfigError
from recframe.models import DatasetInfo
from recframe_content import representations as rep
from recframe_content.knn import ContentKNN

FAST = ["trainer.progress_bar=false", "logger=none"]


def test_tfidf_matches_a_hand_computation():
    texts = ["Toy Story (1995)", "Toy Soldiers", "The Story"]
    sparse, vocab = rep.tfidf(texts)
    assert sp.issparse(sparse) and sparse.dtype == np.float32 and sparse.nnz == 7
    x = sparse.toarray()
    assert vocab == ["1995", "soldiers", "story", "the", "toy"]  # one-letter tokens and punctuation dropped
    n = 3
    idf = {
        w: math.log((1 + n) / (1 + df)) + 1
        for w, df in {"1995": 1, "soldiers": 1, "story": 2, "the": 1, "toy": 2}.items()
    }
    row0 = np.array([idf["1995"], 0, idf["story"], 0, idf["toy"]])
    np.testing.assert_allclose(x[0], row0 / np.linalg.norm(row0), rtol=1e-6)
    row2 = np.array([0, 0, idf["story"], idf["the"], 0])
    np.testing.assert_allclose(x[2], row2 / np.linalg.norm(row2), rtol=1e-6)
    assert rep.tfidf(["A a", "toy TOY toy"])[0].toarray()[1].tolist() == [1.0]  # case folded, counts, unit rows


def test_attributes_are_multi_hot_genres_and_decades():
    features = pd.DataFrame(
        {
            "title": ["a", "b", "c"],
            "year": pd.array([1995, 1987, None], dtype="Int64"),
            "genres": ["Comedy|Drama", "Drama", None],
        }
    )
    x, names = rep.multi_hot(rep.attribute_lists(features))
    assert names == ["decade=1980", "decade=1990", "genre=Comedy", "genre=Drama"]
    assert x.tolist() == [[0, 1, 1, 1], [1, 0, 0, 1], [0, 0, 0, 0]]
    norm = rep.attribute_matrix(features)
    np.testing.assert_allclose(norm[0], [0, 1 / math.sqrt(3)] + [1 / math.sqrt(3)] * 2, rtol=1e-6)
    assert not norm[2].any()  # no content: a zero row, not NaN
    s3 = pd.DataFrame({"item": [0, 1], "attributes": [[3, 7], []]})
    x, names = rep.multi_hot(rep.attribute_lists(s3))
    assert names == ["attr=3", "attr=7"] and x.tolist() == [[1, 1], [0, 0]]
    with pytest.raises(ConfigError, match="genres"):
        rep.attribute_lists(pd.DataFrame({"colour": ["red"]}))


def test_embedding_cache_hits_rekeys_on_text_change_and_writes_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("RECFRAME_CACHE_DIR", str(tmp_path))
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.arange(len(texts) * 2, dtype=np.float32).reshape(len(texts), 2)

    a = rep.cached_embeddings("toy-model", ["x", "y"], encode)
    b = rep.cached_embeddings("toy-model", ["x", "y"], encode)
    assert len(calls) == 1 and np.array_equal(a, b)  # hit
    rep.cached_embeddings("toy-model", ["x", "z"], encode)
    rep.cached_embeddings("other-model", ["x", "y"], encode)
    assert len(calls) == 3  # text and model are part of the key
    files = sorted(p.name for p in (tmp_path / "embeddings").iterdir())
    assert len(files) == 3 and all(f.endswith(".npy") and not f.startswith(".") for f in files)

    def broken(texts):
        raise RuntimeError("encoder died")

    with pytest.raises(RuntimeError):
        rep.cached_embeddings("toy-model", ["new"], broken)
    assert len(list((tmp_path / "embeddings").iterdir())) == 3  # nothing half-written left behind

    from recframe import atomic

    def fail_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", fail_replace)
    with pytest.raises(OSError):
        rep.cached_embeddings("toy-model", ["again"], encode)
    assert len(list((tmp_path / "embeddings").iterdir())) == 3


def _toy_info(rng):
    n_users, n_items = 7, 9
    genres = ["A|B", "B", "C", "A|C", "B|C", "A", "C", "A|B|C", "B"]
    features = pd.DataFrame(
        {
            "item": np.arange(n_items),
            "title": [f"t{i}" for i in range(n_items)],
            "year": pd.array([1990 + i for i in range(n_items)], dtype="Int64"),
            "genres": genres,
        }
    )
    user = rng.integers(0, n_users, 30)
    item = rng.integers(0, n_items - 2, 30)  # the last two items are cold
    data = Interactions(
        user=user,
        item=item,
        n_users=n_users,
        n_items=n_items,
        user_ids=np.arange(n_users),
        item_ids=np.arange(n_items),
        item_features=features,
    )
    return DatasetInfo(n_users, n_items, data, np.bincount(item, minlength=n_items)), data


def test_content_knn_matches_brute_force():
    info, data = _toy_info(np.random.default_rng(0))
    model = ContentKNN(info, representation="attributes")
    model.fit(data)
    scores = model.score_all(torch.arange(info.n_users)).numpy()
    x = rep.attribute_matrix(data.item_features)
    for u in range(info.n_users):
        items = sorted(set(data.item[data.user == u].tolist()))
        if not items:
            assert not scores[u].any()
            continue
        profile = x[items].mean(axis=0)
        for i in range(info.n_items):
            denom = np.linalg.norm(profile) * np.linalg.norm(x[i])
            expected = 0.0 if denom == 0 else float(profile @ x[i] / denom)
            assert scores[u, i] == pytest.approx(expected, abs=1e-5)
    assert scores[:, -2:].any()  # cold items get content scores
    centred = ContentKNN(info, representation="attributes", center=True).item_vectors.numpy()
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, rtol=1e-5)
    expected = rep.l2_normalise(x - x.mean(axis=0))
    np.testing.assert_allclose(centred, expected, atol=1e-6)


def test_collaborative_model_on_a_cold_split_errors_in_one_line(ml100k):
    with pytest.raises(ConfigError) as exc:
        recframe.run(["data=ml-100k", "model=bpr", "protocol=cold_items", "trainer.max_epochs=1", *FAST])
    message = str(exc.value)
    assert "\n" not in message and "'bpr'" in message and "cold_fallback=popularity" in message


def test_declared_popularity_fallback_ranks_cold_items_last_and_is_recorded(ml100k, tmp_path):
    results = recframe.run(
        [
            "data=ml-100k",
            "model=bpr",
            "protocol=cold_items",
            "protocol.cold_fallback=popularity",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            *FAST,
        ],
        run_dir=tmp_path,
    )
    assert results["run"]["cold_fallback"] == "popularity" and results["run"]["cold_items"] > 0
    assert results["protocol"]["cold_fallback"] == "popularity"
    # every test item is cold, and cold items are ranked after all warm ones: no hits
    assert results["metrics"]["test/recall@20"] == 0.0


def test_content_knn_beats_pop_on_cold_items(ml100k, tmp_path):
    base = ["data=ml-100k", "protocol=cold_items", *FAST]
    pop = recframe.run([*base, "model=pop"], run_dir=tmp_path / "pop")
    knn = recframe.run([*base, "model=content_knn"], run_dir=tmp_path / "knn")
    text = recframe.run([*base, "model=content_knn", "model.representation=text"], run_dir=tmp_path / "text")
    assert "cold_fallback" not in knn["run"] and knn["run"]["cold_items"] > 0
    assert knn["metrics"]["test/ndcg@10"] > pop["metrics"]["test/ndcg@10"] + 0.005
    assert text["metrics"]["test/ndcg@10"] > pop["metrics"]["test/ndcg@10"]


@pytest.mark.parametrize("model", ["content_linear", "hybrid"])
def test_trained_content_models_run_and_score_cold_items(ml100k, tmp_path, model):
    results = recframe.run(
        [
            "data=ml-100k",
            f"model={model}",
            "protocol=cold_items",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=5",
            *FAST,
        ],
        run_dir=tmp_path,
    )
    assert results["metrics"]["test/recall@20"] > 0.0 and "cold_fallback" not in results["run"]
