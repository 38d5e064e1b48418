"""Fit time of the small baselines against their peers, measured in one run, printed as ratios.

* ItemKNN (cosine, top-k) against implicit's ``CosineRecommender`` and LensKit's item kNN;
* UserKNN against LensKit's user kNN (implicit has none);
* SLIM ElasticNet against scikit-learn's ``ElasticNet`` fitted per item column, the solver of the
  study's SLIM baseline (neither implicit nor LensKit ships SLIM), on the same item columns.

Each peer runs in its own virtualenv under ``$RECFRAME_CACHE_DIR/peers/<name>`` (created with pip
on first use), reading the same training matrix from an ``.npz`` (no pickles). Every fit is timed
inside its own process after the imports, on one thread (``--threads``), best of ``--repeats``.
The functions are small so a wider peer benchmark can call them one by one::

    python benchmarks/peers_baselines.py --repeats 3 --threads 1 [--only itemknn,userknn,slim]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

PEERS = {"implicit": ["implicit"], "lenskit": ["lenskit"], "sklearn": ["scikit-learn", "scipy"]}

# Each peer script gets argv: matrix.npz, JSON settings; prints one JSON line {"seconds": best fit time}.
_LOAD = """
import json, sys, time
import numpy as np, scipy.sparse as sp
z = np.load(sys.argv[1], allow_pickle=False)
x = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
opts = json.loads(sys.argv[2])
def best(fit):
    times = []
    for _ in range(opts["repeats"]):
        start = time.perf_counter(); fit(); times.append(time.perf_counter() - start)
    print(json.dumps({"seconds": min(times)}))
"""

IMPLICIT_ITEMKNN = (
    _LOAD
    + """
from implicit.nearest_neighbours import CosineRecommender
best(lambda: CosineRecommender(K=opts["k"], num_threads=opts["threads"]).fit(x, show_progress=False))
"""
)

LENSKIT_KNN = (
    _LOAD
    + """
import pandas as pd
u, i = x.nonzero()
frame = pd.DataFrame({"user_id": u, "item_id": i})
try:  # LensKit >= 2025
    from lenskit.data import from_interactions_df
    from lenskit.knn import ItemKNNScorer, UserKNNScorer
    data = from_interactions_df(frame)
    make = (lambda: ItemKNNScorer(k=opts["k"], feedback="implicit")) if opts["kind"] == "item" else (
        lambda: UserKNNScorer(k=opts["k"], feedback="implicit"))
    best(lambda: make().train(data))
except ImportError:  # LensKit 0.14
    from lenskit.algorithms.item_knn import ItemItem
    from lenskit.algorithms.user_knn import UserUser
    frame = frame.rename(columns={"user_id": "user", "item_id": "item"})
    make = (lambda: ItemItem(opts["k"], feedback="implicit")) if opts["kind"] == "item" else (
        lambda: UserUser(opts["k"], feedback="implicit"))
    best(lambda: make().fit(frame))
"""
)

SKLEARN_SLIM = (
    _LOAD
    + """
import warnings
from sklearn.linear_model import ElasticNet
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("ignore", ConvergenceWarning)
xc = sp.csc_matrix(x, dtype=np.float64)
def fit():
    model = ElasticNet(alpha=opts["alpha"], l1_ratio=opts["l1_ratio"], positive=True, fit_intercept=False,
                       copy_X=False, precompute=True, selection="cyclic", max_iter=opts["max_iter"], tol=opts["tol"])
    for j in opts["columns"]:
        y = xc[:, j].toarray().ravel()
        lo, hi = xc.indptr[j], xc.indptr[j + 1]
        saved = xc.data[lo:hi].copy()
        xc.data[lo:hi] = 0.0  # the target item may not explain itself
        model.fit(xc, y)
        xc.data[lo:hi] = saved
best(fit)
"""
)


def cache_dir() -> Path:
    root = os.environ.get("RECFRAME_CACHE_DIR")
    if not root:
        raise SystemExit("set RECFRAME_CACHE_DIR (the peers' virtualenvs are created under it)")
    return Path(root) / "peers"


def peer_python(name: str) -> Path:
    """The Python of the peer's virtualenv, created (pip, PyPI) on first use."""
    env = cache_dir() / name
    python = env / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS[name]], check=True)
    return python


def ncf_training_matrix() -> sp.csr_matrix:
    """The binary ``users x items`` matrix of NCF's ML-1M training file (``$RECFRAME_DATA_DIR``)."""
    path = Path(os.environ.get("RECFRAME_DATA_DIR", "")) / "ncf-ml-1m" / "ml-1m.train.rating"
    if not path.is_file():
        raise SystemExit(f"{path}: missing; set RECFRAME_DATA_DIR to the folder holding ncf-ml-1m/")
    table = np.loadtxt(path, dtype=np.int64, usecols=(0, 1))
    users, items = table[:, 0], table[:, 1]
    x = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(users.max() + 1, items.max() + 1))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def _run_peer(name: str, script: str, x: sp.csr_matrix, opts: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.npz"
        np.savez(path, data=x.data, indices=x.indices, indptr=x.indptr, shape=np.array(x.shape))
        env = {**os.environ, **_thread_env(opts["threads"])}
        out = subprocess.run(
            [str(peer_python(name)), "-c", script, str(path), json.dumps(opts)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def _thread_env(threads: int) -> dict[str, str]:
    return {
        key: str(threads) for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    }


def _best(fit, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    return min(times)


def _info(x: sp.csr_matrix):
    from recframe.api import DatasetInfo, Interactions

    users, items = x.nonzero()
    train = Interactions(
        user=users.astype(np.int64), item=items.astype(np.int64), n_users=x.shape[0], n_items=x.shape[1]
    )
    return train, DatasetInfo(x.shape[0], x.shape[1], train, np.bincount(items, minlength=x.shape[1]))


def recframe_knn_fit(x: sp.csr_matrix, kind: str, k: int, repeats: int) -> float:
    """Best fit time of recframe's ItemKNN (``kind='item'``) or UserKNN, cosine, top ``k``."""
    from recframe_cf.itemknn import ItemKNN
    from recframe_cf.userknn import UserKNN

    train, info = _info(x)
    cls = ItemKNN if kind == "item" else UserKNN
    return _best(lambda: cls(info, k=k).fit(train), repeats)


def implicit_itemknn_fit(x: sp.csr_matrix, k: int, repeats: int, threads: int) -> float:
    return _run_peer("implicit", IMPLICIT_ITEMKNN, x, {"k": k, "repeats": repeats, "threads": threads})


def lenskit_knn_fit(x: sp.csr_matrix, kind: str, k: int, repeats: int, threads: int) -> float:
    return _run_peer("lenskit", LENSKIT_KNN, x, {"k": k, "kind": kind, "repeats": repeats, "threads": threads})


def slim_columns(n_items: int, n_columns: int) -> list[int]:
    return np.linspace(0, n_items - 1, n_columns).astype(int).tolist()


def recframe_slim_fit(x: sp.csr_matrix, columns: list[int], alpha: float, l1_ratio: float, repeats: int) -> float:
    """Best time of recframe's SLIM solver on ``columns`` (the CSC conversion included, as in a fit)."""
    from recframe_cf.slim import elasticnet_columns

    n_users = x.shape[0]
    cols = np.asarray(columns, dtype=np.int64)
    tiny = sp.csc_matrix(np.eye(2))
    elasticnet_columns(tiny, np.zeros(1, np.int64), 0.1, 0.1, True, 1, 1e-4)  # compile outside the timing

    def fit() -> None:
        xc = sp.csc_matrix(x, dtype=np.float64)
        xc.sort_indices()
        elasticnet_columns(xc, cols, n_users * alpha * l1_ratio, n_users * alpha * (1 - l1_ratio), True, 100, 1e-4)

    return _best(fit, repeats)


def sklearn_slim_fit(
    x: sp.csr_matrix, columns: list[int], alpha: float, l1_ratio: float, repeats: int, threads: int
) -> float:
    return _run_peer(
        "sklearn",
        SKLEARN_SLIM,
        x,
        {
            "columns": columns,
            "alpha": alpha,
            "l1_ratio": l1_ratio,
            "max_iter": 100,
            "tol": 1e-4,
            "repeats": repeats,
            "threads": threads,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--slim-columns", type=int, default=200, help="item columns both SLIM solvers fit")
    parser.add_argument("--only", default="itemknn,userknn,slim")
    args = parser.parse_args()
    os.environ.update(_thread_env(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    x = ncf_training_matrix()
    only = set(args.only.split(","))
    rows = []
    if "itemknn" in only:
        ours = recframe_knn_fit(x, "item", args.k, args.repeats)
        rows.append(
            (
                "itemknn fit",
                "implicit CosineRecommender",
                ours,
                implicit_itemknn_fit(x, args.k, args.repeats, args.threads),
            )
        )
        rows.append(
            ("itemknn fit", "lenskit item kNN", ours, lenskit_knn_fit(x, "item", args.k, args.repeats, args.threads))
        )
    if "userknn" in only:
        ours = recframe_knn_fit(x, "user", args.k, args.repeats)
        rows.append(
            ("userknn fit", "lenskit user kNN", ours, lenskit_knn_fit(x, "user", args.k, args.repeats, args.threads))
        )
    if "slim" in only:
        columns = slim_columns(x.shape[1], args.slim_columns)
        ours = recframe_slim_fit(x, columns, 1e-3, 0.1, args.repeats)
        rows.append(
            (
                f"slim fit, {len(columns)} columns",
                "scikit-learn ElasticNet per column",
                ours,
                sklearn_slim_fit(x, columns, 1e-3, 0.1, args.repeats, args.threads),
            )
        )
    print(
        f"NCF ML-1M training file: {x.shape[0]} users, {x.shape[1]} items, {x.nnz} pairs; "
        f"{args.threads} thread(s), best of {args.repeats}"
    )
    print(f"{'task':<28} {'peer':<36} {'recframe s':>10} {'peer s':>10} {'peer/recframe':>14}")
    for task, peer, ours, theirs in rows:
        print(f"{task:<28} {peer:<36} {ours:>10.2f} {theirs:>10.2f} {theirs / ours:>13.2f}x")


if __name__ == "__main__":
    main()
