"""Runs one peer library's side of a ``benchmarks/peers.py`` comparison, inside that peer's virtualenv.

Usage (by peers.py, with the peer's python): ``python peer_driver.py TASK SPLIT.npz OUT.npz PARAMS_JSON``.
``SPLIT.npz`` holds recframe's split as plain arrays (``train_user``, ``train_item``, ``test_user``,
``test_item``, ``n_users``, ``n_items``; read with ``allow_pickle=False``); ``OUT.npz`` gets what the
peer learned (factors or a similarity matrix) so recframe's evaluator can score it; the last line of
stdout is a JSON object with the timings (``seconds``: wall seconds of each timed repetition) and
whatever the peer reports itself. The driver imports only numpy, scipy and the peer, never recframe.
Thread counts come from the environment peers.py sets (``OMP_NUM_THREADS`` and friends) and the
``threads`` parameter.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

TASKS: dict[str, Callable[[dict[str, np.ndarray], dict[str, Any]], tuple[dict[str, Any], dict[str, np.ndarray]]]] = {}


def task(name: str) -> Callable:
    def register(fn: Callable) -> Callable:
        TASKS[name] = fn
        return fn

    return register


def csr(split: dict[str, np.ndarray], part: str) -> sp.csr_matrix:
    """``n_users x n_items`` float32 ones for the ``part`` (train/test) pairs."""
    u, i = split[f"{part}_user"], split[f"{part}_item"]
    m = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(int(split["n_users"]), int(split["n_items"])))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return seconds, result


# ---- implicit ---------------------------------------------------------------------------------------------


def new_implicit_als(p: dict[str, Any], **extra: Any) -> Any:
    """implicit's CPU ALS with the comparison's settings (factors, L2, alpha, iterations, threads, CG steps)."""
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=p["factors"],
        regularization=p["regularization"],
        alpha=p["alpha"],
        iterations=p["iterations"],
        num_threads=p["threads"],
        random_state=p["seed"],
        **extra,
    )
    model.cg_steps = p["cg_steps"]
    return model


@task("implicit_als")
def implicit_als(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    train = csr(split, "train")

    def fit() -> Any:
        model = new_implicit_als(p, calculate_training_loss=False)
        model.fit(train, show_progress=False)
        return model

    cpu_start = time.process_time()
    seconds, model = timed(fit, p["repeats"])
    cpu = (time.process_time() - cpu_start) / p["repeats"]  # every thread of this process
    return {"seconds": seconds, "cpu_seconds": [cpu] * p["repeats"]}, {
        "user_factors": model.user_factors,
        "item_factors": model.item_factors,
    }


@task("implicit_als_iterations")
def implicit_als_iterations(
    split: dict[str, np.ndarray], p: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One implicit ALS fit; the factors after each iteration listed in ``keep`` (``user_<k>``, ``item_<k>``)."""
    model = new_implicit_als(p)
    keep, kept = set(p["keep"]), {}

    def after(iteration: int, _seconds: float, _loss: Any) -> None:
        if iteration + 1 in keep:
            kept[f"user_{iteration + 1}"] = model.user_factors.copy()
            kept[f"item_{iteration + 1}"] = model.item_factors.copy()

    seconds, _ = timed(lambda: model.fit(csr(split, "train"), show_progress=False, callback=after), 1)
    return {"seconds": seconds}, kept


@task("implicit_bpr")
def implicit_bpr(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    train = csr(split, "train")
    seconds = []
    model = None
    for _ in range(p["repeats"]):  # each repetition trains `epochs` epochs from scratch; time per epoch
        model = BayesianPersonalizedRanking(
            factors=p["factors"],
            learning_rate=p["lr"],
            regularization=p["reg"],
            iterations=p["epochs"],
            num_threads=p["threads"],
            random_state=p["seed"],
        )
        start = time.perf_counter()
        model.fit(train, show_progress=False)
        seconds.append((time.perf_counter() - start) / p["epochs"])
    # implicit's BPR adds a bias column to each side: user factors end in 1, items in the bias
    return {"seconds": seconds}, {"user_factors": model.user_factors, "item_factors": model.item_factors}


@task("implicit_cosine")
def implicit_cosine(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from implicit.nearest_neighbours import CosineRecommender

    train = csr(split, "train")

    def fit() -> Any:
        model = CosineRecommender(K=p["k"], num_threads=p["threads"])
        model.fit(train, show_progress=False)
        return model

    seconds, model = timed(fit, p["repeats"])
    w = model.similarity.tocsr()
    return {"seconds": seconds}, {"w_indptr": w.indptr, "w_indices": w.indices, "w_data": w.data.astype(np.float32)}


@task("implicit_eval")
def implicit_eval(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``ranking_metrics_at_k`` of given factors (``user_factors``, ``item_factors`` in the split file)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.evaluation import ranking_metrics_at_k

    model = AlternatingLeastSquares(factors=split["user_factors"].shape[1], num_threads=p["threads"])
    model.user_factors = np.ascontiguousarray(split["user_factors"], dtype=np.float32)
    model.item_factors = np.ascontiguousarray(split["item_factors"], dtype=np.float32)
    train, test = csr(split, "train"), csr(split, "test")
    ranking_metrics_at_k(model, train, test, K=p["k"], show_progress=False, num_threads=p["threads"])  # warm-up
    seconds, metrics = timed(
        lambda: ranking_metrics_at_k(model, train, test, K=p["k"], show_progress=False, num_threads=p["threads"]),
        p["repeats"],
    )
    return {"seconds": seconds, "metrics": {k: float(v) for k, v in metrics.items()}}, {}


# ---- Cornac -----------------------------------------------------------------------------------------------


def cornac_train_set(split: dict[str, np.ndarray]) -> Any:
    from cornac.data import Dataset

    pairs = zip(split["train_user"].tolist(), split["train_item"].tolist(), strict=True)
    triples = [(str(u), str(i), 1.0) for u, i in pairs]
    return Dataset.from_uir(triples, seed=0)


def cornac_order(train_set: Any, n: int, mapping: dict[str, int]) -> np.ndarray:
    """Cornac's inner index of each recframe id ``0..n-1`` (-1 when absent from training)."""
    return np.array([mapping.get(str(x), -1) for x in range(n)], dtype=np.int64)


@task("cornac_bpr")
def cornac_bpr(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from cornac.models import BPR

    train_set = cornac_train_set(split)
    seconds, model = [], None
    for _ in range(p["repeats"]):
        model = BPR(
            k=p["factors"],
            max_iter=p["epochs"],
            learning_rate=p["lr"],
            lambda_reg=p["reg"],
            seed=p["seed"],
            verbose=False,
        )
        start = time.perf_counter()
        model.fit(train_set)
        seconds.append((time.perf_counter() - start) / p["epochs"])
    users = cornac_order(train_set, int(split["n_users"]), train_set.uid_map)
    items = cornac_order(train_set, int(split["n_items"]), train_set.iid_map)
    u = np.where(users[:, None] >= 0, model.u_factors[users.clip(min=0)], 0.0)
    v = np.where(items[:, None] >= 0, model.i_factors[items.clip(min=0)], 0.0)
    bias = np.where(items >= 0, model.i_biases[items.clip(min=0)], -1e9)
    # score = u . v + b_i: append a ones column to users and the bias to items
    return (
        {"seconds": seconds},
        {
            "user_factors": np.hstack([u, np.ones((len(u), 1))]).astype(np.float32),
            "item_factors": np.hstack([v, bias[:, None]]).astype(np.float32),
        },
    )


@task("cornac_ease")
def cornac_ease(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from cornac.models import EASE

    train_set = cornac_train_set(split)

    def fit() -> Any:
        model = EASE(lamb=p["reg_weight"], posB=False, verbose=False, seed=0)
        model.fit(train_set)
        return model

    seconds, model = timed(fit, p["repeats"])
    items = cornac_order(train_set, int(split["n_items"]), train_set.iid_map)
    inner = np.asarray(model.B, dtype=np.float32)
    w = np.zeros((len(items), len(items)), np.float32)
    present = items >= 0
    w[np.ix_(present, present)] = inner[np.ix_(items[present], items[present])]
    return {"seconds": seconds}, {"weights": w}


# ---- LensKit -----------------------------------------------------------------------------------------------


def lenskit_dataset(split: dict[str, np.ndarray]) -> Any:
    import pandas as pd
    from lenskit.data import from_interactions_df

    return from_interactions_df(pd.DataFrame({"user_id": split["train_user"], "item_id": split["train_item"]}))


def lenskit_to_recframe(vocabulary: Any, n: int) -> np.ndarray:
    """recframe item id of each LensKit item number."""
    return np.asarray(vocabulary.ids(), dtype=np.int64)


@task("lenskit_itemknn")
def lenskit_itemknn(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Implicit-feedback item kNN keeping each item's ``k`` most similar neighbours (``save_nbrs``)."""
    from lenskit.knn import ItemKNNScorer

    data = lenskit_dataset(split)

    def fit() -> Any:
        model = ItemKNNScorer(max_nbrs=p["k"], save_nbrs=p["k"], feedback="implicit")
        model.train(data)
        return model

    seconds, model = timed(fit, p["repeats"])
    sim = model.sim_matrix.to_scipy().tocoo()  # row: target item, column: neighbour
    ids = lenskit_to_recframe(model.items, int(split["n_items"]))
    n = int(split["n_items"])
    # recframe's W[neighbour, target]
    w = sp.csr_matrix((sim.data.astype(np.float32), (ids[sim.col], ids[sim.row])), shape=(n, n))
    return {"seconds": seconds}, {"w_indptr": w.indptr, "w_indices": w.indices, "w_data": w.data}


@task("lenskit_ease")
def lenskit_ease(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from lenskit.knn import EASEScorer
    from lenskit.training import TrainingOptions

    data = lenskit_dataset(split)

    def fit() -> Any:
        model = EASEScorer(regularization=p["reg_weight"])
        model.train(data, TrainingOptions(device="cpu"))
        return model

    seconds, model = timed(fit, p["repeats"])
    ids = lenskit_to_recframe(model.items, int(split["n_items"]))
    n = int(split["n_items"])
    w = np.zeros((n, n), np.float32)
    w[np.ix_(ids, ids)] = np.asarray(model.weights, dtype=np.float32)
    return {"seconds": seconds}, {"weights": w}


@task("lenskit_eval")
def lenskit_eval(split: dict[str, np.ndarray], p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """LensKit's own top-N evaluation of given factors: ``ImplicitMFScorer`` holding ``user_factors`` and
    ``item_factors`` (its training skipped), ``topn_pipeline`` (candidates: training items the user has
    not seen), ``batch.recommend`` for every test user and ``RunAnalysis`` with ``NDCG(n=k)``."""
    import pandas as pd
    from lenskit.als import ImplicitMFScorer
    from lenskit.batch import recommend
    from lenskit.data import ItemListCollection
    from lenskit.metrics import NDCG, RunAnalysis
    from lenskit.pipeline import topn_pipeline
    from lenskit.training import TrainingOptions

    data = lenskit_dataset(split)
    scorer = ImplicitMFScorer(embedding_size=split["user_factors"].shape[1], user_embeddings="prefer")
    scorer.users, scorer.items = data.users, data.items  # stored user vectors, no fold-in from history
    scorer.user_embeddings = np.ascontiguousarray(split["user_factors"][np.asarray(data.users.ids())], np.float32)
    scorer.item_embeddings = np.ascontiguousarray(split["item_factors"][np.asarray(data.items.ids())], np.float32)
    scorer.trained_epochs = 1  # already trained: TrainingOptions(retrain=False) keeps these factors
    pipe = topn_pipeline(scorer, n=p["k"])
    pipe.train(data, TrainingOptions(retrain=False))
    test = pd.DataFrame({"user_id": split["test_user"], "item_id": split["test_item"]})
    truth = ItemListCollection.from_df(test, ["user_id"])
    users = np.unique(split["test_user"])

    def evaluate() -> Any:
        recs = recommend(pipe, users, n=p["k"], n_jobs=p["threads"])
        analysis = RunAnalysis()
        analysis.add_metric(NDCG(n=p["k"]))
        return analysis.measure(recs, truth).list_summary()

    seconds, summary = timed(evaluate, p["repeats"])
    return {"seconds": seconds, "metrics": {"ndcg": float(summary.loc[f"NDCG@{p['k']}", "mean"])}}, {}


def main() -> None:
    name, split_path, out_path, params = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    with np.load(split_path, allow_pickle=False) as f:
        split = {k: f[k] for k in f.files}
    report, arrays = TASKS[name](split, params)
    np.savez(out_path, **arrays)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
