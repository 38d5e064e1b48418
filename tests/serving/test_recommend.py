"""recframe.load: the saved model's lists equal the run's own evaluation, fold-in, similar items,
pair scores, candidates, the cold-user fallback and one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import recframe
from recframe.errors import ConfigError, RecframeError
from recframe.serving.artifact import load_saved_run
from recframe.serving.foldin import least_squares_user
from recframe.serving.handle import LoadedModel, RequestError


@pytest.mark.parametrize("name", ["ease", "itemknn", "bpr", "sasrec"])
def test_recommend_equals_the_runs_test_lists(run_for, name):
    run_dir = run_for(name)
    topk = np.load(run_dir / "topk.npz", allow_pickle=False)
    handle = recframe.load(run_dir)
    item_ids = np.load(run_dir / "model" / "data.npz", allow_pickle=False)["item_ids"]
    user_ids = np.load(run_dir / "model" / "data.npz", allow_pickle=False)["user_ids"]
    k = topk["items"].shape[1]
    recs = handle.recommend(user_ids[topk["users"]].tolist(), k=k)
    assert (recs["source"] == "model").all()
    got = recs["item"].to_numpy().reshape(len(topk["users"]), k)
    assert np.array_equal(got, item_ids[topk["items"]])
    assert np.array_equal(recs["user"].to_numpy().reshape(-1, k)[:, 0], user_ids[topk["users"]])
    ranks = recs["rank"].to_numpy().reshape(-1, k)
    assert (ranks == np.arange(1, k + 1)).all()
    scores = recs["score"].to_numpy().reshape(-1, k)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_saved_folder_is_plain_data(run_for):
    run_dir = run_for("itemknn")
    folder = run_dir / "model"
    meta = json.loads((folder / "format.json").read_text())
    assert meta["format"] == "recframe-model" and meta["model"] == "itemknn"
    tensors = load_file(str(folder / "weights.safetensors"))
    # ItemKNN keeps its similarity as a scipy CSR attribute: saved by the attribute walk, not by the model
    assert {"attr/:weights.data", "attr/:weights.indices", "attr/:weights.indptr"} <= set(tensors)
    with np.load(folder / "data.npz", allow_pickle=False) as data:
        assert len(data["user_ids"]) == 943 and len(data["item_ids"]) == 1682
        train_pairs = len(data["train/user"])
    results = json.loads((run_dir / "results.json").read_text())
    assert train_pairs == results["data"]["train"]
    import pandas as pd

    items = pd.read_parquet(folder / "items.parquet")
    assert len(items) == 1682 and "title" in items.columns
    assert items.loc[items["recframe_id"] == 50, "title"].item() == "Star Wars (1977)"


def test_recommend_restricted_to_candidates_keeps_the_full_order(run_for):
    handle = recframe.load(run_for("ease"))
    full = handle.recommend([7], k=handle.n_items - 200, exclude_seen=False)
    candidates = full["item"].iloc[::37].tolist()[:12]
    shuffled = list(reversed(candidates))
    restricted = handle.recommend([7], k=5, exclude_seen=False, items=shuffled)
    assert restricted["item"].tolist() == candidates[:5]
    with pytest.raises(RequestError, match="k=13 is larger than the 12 candidate items"):
        handle.recommend([7], k=13, items=candidates)


def test_exclude_seen_masks_train_and_validation(run_for):
    run_dir = run_for("ease")
    handle = recframe.load(run_dir)
    saved = handle.saved
    user = int(saved.user_ids[3])
    seen = set(saved.item_ids[saved.train.item[saved.train.user == 3]]) | set(
        saved.item_ids[saved.valid.item[saved.valid.user == 3]]
    )
    masked = handle.recommend([user], k=50)
    assert not seen & set(masked["item"])
    unmasked = handle.recommend([user], k=50, exclude_seen=False)
    assert seen & set(unmasked["item"])  # EASE ranks a user's own items high


def test_score_matches_recommend(run_for):
    handle = recframe.load(run_for("bpr"))
    recs = handle.recommend([1, 1, 2], k=5).iloc[:10]
    scored = handle.score(recs["user"].tolist(), recs["item"].tolist())
    assert np.allclose(scored["score"].to_numpy(), recs["score"].to_numpy(), atol=1e-5)
    one_user = handle.score(1, recs["item"].tolist()[:5])
    assert np.allclose(one_user["score"].to_numpy(), recs["score"].to_numpy()[:5], atol=1e-5)
    with pytest.raises(RequestError, match="items: 2 ids for 3 users"):
        handle.score([1, 2, 3], [1, 2])


@pytest.mark.parametrize("name", ["ease", "itemknn"])
def test_fold_in_of_a_known_history_gives_the_models_own_scores(run_for, name):
    handle = recframe.load(run_for(name))
    saved = handle.saved
    u = 11
    history = saved.item_ids[saved.train.item[saved.train.user == u]].tolist()  # these models score from train
    folded = handle.recommend_for_history(history, k=30)
    assert not set(history) & set(folded["item"])
    own = handle.score(int(saved.user_ids[u]), folded["item"].tolist())
    assert np.allclose(own["score"].to_numpy(), folded["score"].to_numpy(), atol=1e-6)
    assert (np.diff(folded["score"].to_numpy()) <= 0).all()


def test_sasrec_fold_in_of_a_users_sequence_equals_their_recommendations(run_for):
    from recframe.data.sequences import time_ordered

    handle = recframe.load(run_for("sasrec"))
    items, starts, counts = time_ordered(handle.saved.history)
    for u in (0, 17, 400):
        sequence = handle.saved.item_ids[items[starts[u] : starts[u] + counts[u]]].tolist()
        folded = handle.recommend_for_history(sequence, k=10)
        known = handle.recommend([int(handle.saved.user_ids[u])], k=10)
        assert folded["item"].tolist() == known["item"].tolist()
        assert np.allclose(folded["score"].to_numpy(), known["score"].to_numpy(), atol=1e-5)


def test_least_squares_fold_in_solves_the_weighted_ridge_problem(run_for):
    handle = recframe.load(run_for("bpr"))
    q = handle.model.item_embedding.weight.detach().double()
    history = np.array([4, 99, 170, 171, 500])
    alpha, reg = 10.0, 0.37
    p = least_squares_user(q, history, alpha, reg).numpy()
    # oracle: the same objective as an ordinary least-squares problem on stacked rows
    c = np.ones(len(q))
    c[history] += alpha
    y = np.zeros(len(q))
    y[history] = 1.0
    a = np.vstack([np.sqrt(c)[:, None] * q.numpy(), np.sqrt(reg) * np.eye(q.shape[1])])
    b = np.concatenate([np.sqrt(c) * y, np.zeros(q.shape[1])])
    expected = np.linalg.lstsq(a, b, rcond=None)[0]
    assert np.allclose(p, expected, atol=1e-8)
    folded = handle.recommend_for_history(handle.saved.item_ids[history].tolist(), k=10)
    assert len(folded) == 10 and not set(handle.saved.item_ids[history]) & set(folded["item"])


def test_similar_items_follow_item_weights_and_vectors(run_for):
    ease = recframe.load(run_for("ease"))
    b = load_file(str(run_for("ease") / "model" / "weights.safetensors"))["state/item_weights"].numpy()
    i = int(np.flatnonzero(ease.saved.item_ids == 50)[0])
    row = b[i].copy()
    row[i] = -np.inf
    expected = ease.saved.item_ids[np.argsort(-row, kind="stable")[:5]]
    assert ease.similar_items(50, k=5)["item"].tolist() == expected.tolist()
    bpr = recframe.load(run_for("bpr"))
    q = bpr.model.item_embedding.weight.detach().numpy().astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    cos = q @ q[i]
    cos[i] = -np.inf
    got = bpr.similar_items(50, k=5)
    assert got["item"].tolist() == bpr.saved.item_ids[np.argsort(-cos)[:5]].tolist()
    assert 50 not in got["item"].tolist()


def test_bad_requests_are_one_line_errors_naming_the_argument(run_for):
    handle = recframe.load(run_for("ease"))
    cases = [
        (lambda: handle.recommend([1, 999999]), "user", "unknown user id 999999"),
        (lambda: handle.recommend([]), "users", "empty"),
        (lambda: handle.recommend([1], k=0), "k", "positive integer"),
        (lambda: handle.recommend([1], k="ten"), "k", "must be an integer"),
        (lambda: handle.recommend([1], k=handle.n_items + 1), "k", "larger than the 1682 candidate items"),
        (lambda: handle.recommend_for_history([]), "items", "history is empty"),
        (lambda: handle.recommend_for_history([1, "nope"]), "items", "unknown item id 'nope'"),
        (lambda: handle.similar_items(123456), "item", "unknown item id 123456"),
    ]
    for call, field, text in cases:
        with pytest.raises(RequestError) as err:
            call()
        assert err.value.field == field and text in str(err.value) and "\n" not in str(err.value)


def test_a_cold_user_gets_the_protocols_fallback(run_for):
    saved = load_saved_run(run_for("bpr"))
    u = 25
    saved.train = saved.train.subset(saved.train.user != u)  # as if the user had no training interactions
    saved.valid = saved.valid.subset(saved.valid.user != u)
    handle = LoadedModel(saved)
    user = int(saved.user_ids[u])
    recs = handle.recommend([user, int(saved.user_ids[0])], k=5)
    cold, warm = recs[recs["user"] == user], recs[recs["user"] != user]
    assert (cold["source"] == "popularity (cold user)").all() and (warm["source"] == "model").all()
    order = np.argsort(-saved.item_popularity, kind="stable")
    assert set(cold["item"]) <= set(saved.item_ids[order[:20]])
    assert np.array_equal(np.sort(cold["score"].to_numpy())[::-1], np.sort(saved.item_popularity)[::-1][:5])
    handle.protocol["cold_fallback"] = "error"
    with pytest.raises(RequestError, match="protocol.cold_fallback is 'error'"):
        handle.recommend([user])


def test_old_foreign_or_damaged_folders_are_one_line_errors(run_for, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_for("ease"), copy)
    meta_path = copy / "model" / "format.json"
    meta = json.loads(meta_path.read_text())
    config = (copy / "model" / "config.yaml").read_text()
    (copy / "model" / "config.yaml").write_text(config.replace("name: ease", "name: ease_from_elsewhere", 1))
    with pytest.raises(ConfigError, match="no installed plugin registers the model 'ease_from_elsewhere'"):
        recframe.load(copy)
    (copy / "model" / "config.yaml").write_text(config)
    meta_path.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ConfigError, match="model format 99"):
        recframe.load(copy)
    meta_path.write_text(json.dumps(meta))
    (copy / "model" / "weights.safetensors").unlink()
    with pytest.raises(ConfigError, match="weights.safetensors is missing"):
        recframe.load(copy)
    shutil.rmtree(copy / "model")
    with pytest.raises(ConfigError, match="did not save models") as err:
        recframe.load(copy)
    assert "\n" not in str(err.value)
    with pytest.raises(RecframeError, match="no such run folder"):
        recframe.load(tmp_path / "missing")


def test_loaded_model_is_the_trained_one(run_for):
    handle = recframe.load(run_for("bpr"))
    ckpt = torch.load(run_for("bpr") / "checkpoints" / "best.ckpt", weights_only=True, map_location="cpu")
    state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    assert torch.equal(handle.model.user_embedding.weight, state["user_embedding.weight"])


def test_saving_again_replaces_the_folder_and_a_failed_save_keeps_the_old_one(run_for, tmp_path, monkeypatch):
    import pandas as pd
    from omegaconf import OmegaConf

    from recframe.data.split import Split
    from recframe.serving.artifact import save_model

    copy = tmp_path / "run"
    shutil.copytree(run_for("itemknn"), copy)
    saved = load_saved_run(copy)
    before = recframe.load(copy).recommend([3, 9], k=10)
    split = Split(saved.train, saved.valid, saved.valid.subset(np.zeros(len(saved.valid), dtype=bool)))
    cfg = OmegaConf.create(saved.config)
    assert save_model(copy, saved.model, split, cfg) == copy / "model"
    assert recframe.load(copy).recommend([3, 9], k=10).equals(before)
    weights = (copy / "model" / "weights.safetensors").read_bytes()

    def broken(*args, **kwargs):
        raise ValueError("cannot convert this column")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    assert save_model(copy, saved.model, split, cfg) is None
    assert (copy / "model" / "weights.safetensors").read_bytes() == weights
    assert sorted(p.name for p in copy.iterdir() if p.name.startswith(".model")) == []
