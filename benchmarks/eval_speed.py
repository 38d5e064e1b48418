"""Evaluation speed: recframe's batched full ranking vs torchmetrics' retrieval classes.

Input: ML-1M (``$RECFRAME_DATA_DIR/ml-1m/ratings.dat``), split per user 8:1:1 at random (seed 0), a
6,040 x 3,706 score matrix (a random model: each user's scores are a random permutation of 0..3705,
so no ties), and the test items as relevant with train and valid items masked. Metrics: HR, Recall,
NDCG, MRR and Precision at 10 and 20. Both libraries get the same inputs (torchmetrics receives
only the unmasked items of each user) and must give the same values; the last line prints the
speed-up. Usage: ``python benchmarks/eval_speed.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchmetrics.retrieval as tmr

from recframe.data.interactions import Interactions
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.models import DatasetInfo, Recommender
from recframe_datasets.splitters import random_ratio
from recframe_metrics.ranking import MRR, NDCG, HitRate, Precision, Recall

CUTOFFS = (10, 20)
OURS = {"hr": HitRate, "recall": Recall, "ndcg": NDCG, "mrr": MRR, "precision": Precision}
THEIRS = {
    "hr": tmr.RetrievalHitRate,
    "recall": tmr.RetrievalRecall,
    "ndcg": tmr.RetrievalNormalizedDCG,
    "mrr": tmr.RetrievalMRR,
    "precision": tmr.RetrievalPrecision,
}


class ScoreTable(Recommender):
    """Rows of a fixed score matrix."""

    def __init__(self, scores: torch.Tensor) -> None:
        super().__init__(DatasetInfo(scores.shape[0], scores.shape[1], None, None))
        self.register_buffer("table", scores)

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return self.table[users]  # a copy (advanced indexing); the evaluator masks it in place


def load_ml1m(path: Path) -> Interactions:
    df = pd.read_csv(path, sep=":", header=None, usecols=[0, 2, 4, 6], names=["u", "i", "r", "t"], engine="c")
    return Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), rating=df.r.to_numpy(), timestamp=df.t.to_numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-users", type=int, default=1024)
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    data = load_ml1m(Path(os.environ.get("RECFRAME_DATA_DIR", "/work/shared/data")) / "ml-1m" / "ratings.dat")
    split = random_ratio(data, (0.8, 0.1, 0.1), "user", seed=0)
    seen = (split.train.to_csr() + split.valid.to_csr()).tocsr()
    seen.data[:] = 1.0
    target = RankingTarget(split.test.to_csr(), seen)
    g = torch.Generator().manual_seed(0)
    scores = torch.argsort(torch.rand(data.n_users, data.n_items, generator=g), dim=1).float()
    print(
        f"ML-1M: {data.n_users} users x {data.n_items} items, {len(split.test):,} test items "
        f"for {len(target.users):,} users, {seen.nnz:,} masked"
    )

    model = ScoreTable(scores)
    evaluator = RankingEvaluator(
        {f"{n}@{k}": c(k) for n, c in OURS.items() for k in CUTOFFS}, batch_users=args.batch_users
    )
    evaluator.evaluate(model, target)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = evaluator.evaluate(model, target)[0]
        times.append(time.perf_counter() - start)
    t_ours = float(np.median(times))
    print(f"recframe: {t_ours:.4f} s (median of {args.repeats}; min {min(times):.4f} s)")

    start = time.perf_counter()
    users = target.users
    keep = np.ones((len(users), data.n_items), dtype=bool)
    r, c = seen[users].nonzero()
    keep[r, c] = False
    rel = target.relevant[users].toarray() > 0
    keep_t = torch.from_numpy(keep)
    preds = scores[torch.as_tensor(users)][keep_t]
    labels = torch.from_numpy(rel)[keep_t]
    indexes = torch.arange(len(users)).unsqueeze(1).expand(-1, data.n_items)[keep_t]
    t_prep = time.perf_counter() - start
    theirs, t_theirs = {}, 0.0
    for name, cls in THEIRS.items():
        for k in CUTOFFS:
            metric = cls(top_k=k)
            start = time.perf_counter()
            metric.update(preds, labels, indexes=indexes)
            theirs[f"{name}@{k}"] = float(metric.compute())
            t_theirs += time.perf_counter() - start
            del metric
    print(
        f"torchmetrics: {t_theirs:.2f} s for update + compute of {len(theirs)} retrieval metrics "
        f"(input preparation {t_prep:.2f} s not counted)"
    )
    diff = max(abs(ours[k] - theirs[k]) for k in ours)
    for k in ours:
        print(f"  {k:13s} recframe {ours[k]:.6f}  torchmetrics {theirs[k]:.6f}")
    print(f"max abs difference: {diff:.2e}")
    assert diff < 1e-5, f"values differ by {diff}"
    print(
        f"speed-up: recframe is {t_theirs / t_ours:.0f}x faster than torchmetrics ({t_ours:.3f} s vs {t_theirs:.2f} s)"
    )


if __name__ == "__main__":
    main()
