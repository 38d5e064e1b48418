"""Random search of the small baselines on NCF's ML-1M split, selected on validation only.

The study's ranges (Ferrari Dacrema et al., RecSys 2019, the same as ``conf/hparams_search/*_ncf.yaml``)
drawn with a seeded generator; each setting is fitted on the training file minus each user's latest
training rating and scored on that held-out rating against the user's 99 fixed NCF negatives (HR@10,
NDCG@10, NCF's tie rule: an equal-scored distinct candidate ranks above). The data are loaded once,
so a trial costs a fit and a scoring pass (``recframe -m hparams_search=<model>_ncf`` runs the same
search through Optuna, one process per trial). The test part is never read here.

    python benchmarks/ncf_baselines_search.py itemknn --trials 35 --seed 0
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

from recframe import config as rconfig
from recframe.models import DatasetInfo
from recframe.plugins import registries
from recframe.runner import load_data, make_split


def draw(model: str, rng: np.random.Generator) -> dict[str, Any]:
    """One setting from the study's search space of ``model``."""
    log = lambda lo, hi: float(np.exp(rng.uniform(np.log(lo), np.log(hi))))  # noqa: E731
    if model in ("itemknn", "userknn"):
        similarity = str(rng.choice(["cosine", "jaccard", "asymmetric", "dice", "tversky"]))
        params: dict[str, Any] = {
            "k": int(rng.integers(5, 1001)),
            "shrink": float(rng.integers(0, 1001)),
            "similarity": similarity,
            "normalize": bool(rng.integers(0, 2)),
        }
        if similarity == "cosine":
            params["feature_weighting"] = str(rng.choice(["none", "tfidf", "bm25"]))
        if similarity == "asymmetric":
            params["asymmetric_alpha"] = float(rng.uniform(0, 2))
        if similarity == "tversky":
            params["tversky_alpha"], params["tversky_beta"] = float(rng.uniform(0, 2)), float(rng.uniform(0, 2))
        return params
    if model == "p3alpha":
        return {
            "k": int(rng.integers(5, 1001)),
            "alpha": float(rng.uniform(0, 2)),
            "normalize_similarity": bool(rng.integers(0, 2)),
        }
    if model == "rp3beta":
        return {
            "k": int(rng.integers(5, 1001)),
            "alpha": float(rng.uniform(0, 2)),
            "beta": float(rng.uniform(0, 2)),
            "normalize_similarity": bool(rng.integers(0, 2)),
        }
    if model == "puresvd":
        return {"num_factors": int(rng.integers(1, 351))}
    if model == "slim":
        return {"k": int(rng.integers(5, 1001)), "l1_ratio": log(1e-5, 1.0), "alpha": log(1e-3, 1.0)}
    raise SystemExit(f"unknown model {model}")


def sampled_hr_ndcg(scores: np.ndarray, positives: np.ndarray, candidates: np.ndarray) -> tuple[float, float]:
    """HR@10 and NDCG@10 of one held-out item per row among its distinct candidates (NCF's ties)."""
    hits, gains = [], []
    for row, pos, cand in zip(scores, positives, candidates, strict=True):
        cand = np.unique(cand[(cand >= 0) & (cand != pos)])
        rank = int(np.count_nonzero(row[cand] >= row[pos]))
        hits.append(rank < 10)
        gains.append(1.0 / np.log2(rank + 2) if rank < 10 else 0.0)
    return float(np.mean(hits)), float(np.mean(gains))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--trials", type=int, default=35)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", default="", help="JSON parameters (or a list of them) to evaluate instead of drawing")
    args = parser.parse_args()
    cfg = rconfig.compose(["data=ncf-ml-1m", "protocol=ncf_loo", "data.valid=latest"])
    split = make_split(cfg, load_data(cfg), seed=0)
    train, valid = split.train, split.valid
    info = DatasetInfo(train.n_users, train.n_items, train, np.bincount(train.item, minlength=train.n_items))
    users, positives = valid.user, valid.item
    candidates = split.candidates[users]
    rng = np.random.default_rng(args.seed)
    given = json.loads(args.set) if args.set else None
    settings = (
        (given if isinstance(given, list) else [given])
        if given
        else [draw(args.model, rng) for _ in range(args.trials)]
    )
    best = None
    for n, params in enumerate(settings):
        start = time.perf_counter()
        model = registries().model.get(args.model)(info, **params)
        model.fit(train)
        fit_s = time.perf_counter() - start
        scores = np.concatenate(
            [model.score_all(torch.from_numpy(users[i : i + 1024])).numpy() for i in range(0, len(users), 1024)]
        )
        hr, ndcg = sampled_hr_ndcg(scores, positives, candidates)
        row = {
            "trial": n,
            "valid/hr@10": round(hr, 4),
            "valid/ndcg@10": round(ndcg, 4),
            "fit_s": round(fit_s, 1),
            "params": params,
        }
        print(json.dumps(row), flush=True)
        if best is None or ndcg > best["valid/ndcg@10"]:
            best = row
    print("BEST", json.dumps(best), flush=True)


if __name__ == "__main__":
    main()
