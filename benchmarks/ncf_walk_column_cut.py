"""What the graph walks' column cut is worth on NCF's ML-1M test split, measured in one process.

P3alpha and RP3beta keep the top ``k`` of each row of the walk matrix, optionally rescale the rows,
then keep the top ``k`` of each column (the order of Ferrari Dacrema et al.'s code). This fits each
setting once and scores the test item against its 99 fixed negatives (NCF's tie rule, as
``recframe repro ncf_ml1m/*``) with the full weights and with the first stage alone::

    RECFRAME_DATA_DIR=... python benchmarks/ncf_walk_column_cut.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recframe.api import DatasetInfo
from recframe.evaluation.sampled import SampledRankingEvaluator, SampledTarget
from recframe_cf.p3alpha import P3alpha, row_walk_weights
from recframe_cf.rp3beta import RP3beta
from recframe_datasets.ncf import NCFLeaveOneOut, ncf_loo
from recframe_metrics.ranking import NDCG, HitRate

SETTINGS = [
    ("P3alpha, k 464, alpha 1.5511, normalised (the study's)", P3alpha, {"k": 464, "alpha": 1.5511}, True),
    ("P3alpha, k 100, alpha 1.0, not normalised", P3alpha, {"k": 100, "alpha": 1.0}, False),
    (
        "RP3beta, k 494, alpha 1.1468, beta 0.5613, normalised (the study's)",
        RP3beta,
        {"k": 494, "alpha": 1.1468, "beta": 0.5613},
        True,
    ),
    ("RP3beta, k 800, alpha 0.6, beta 0.6, normalised", RP3beta, {"k": 800, "alpha": 0.6, "beta": 0.6}, True),
]


def main() -> None:
    path = Path(os.environ.get("RECFRAME_DATA_DIR", "")) / "ncf-ml-1m"
    if not (path / "ml-1m.train.rating").is_file():
        raise SystemExit(f"{path}: missing; set RECFRAME_DATA_DIR to the folder holding ncf-ml-1m/")
    split = ncf_loo(NCFLeaveOneOut(path, valid="none").load())
    counts = np.bincount(split.train.item, minlength=split.n_items)
    info = DatasetInfo(split.n_users, split.n_items, split.train, counts)
    evaluator = SampledRankingEvaluator({"hr@10": HitRate(10), "ndcg@10": NDCG(10)}, ties="ncf")
    target = SampledTarget(split.test.to_csr(), split.candidates)
    print(f"{'setting':<70} {'row cut only':>16} {'both cuts':>16}")
    for label, cls, params, normalize in SETTINGS:
        model = cls(info, normalize_similarity=normalize, **params)
        model.fit(split.train)
        both = evaluator.evaluate(model, target)[0]
        x = model.history
        model.weights = sp.csr_matrix(
            row_walk_weights(x, params["k"], params["alpha"], params.get("beta", 0.0), normalize), dtype=np.float32
        )
        rows = evaluator.evaluate(model, target)[0]
        print(
            f"{label:<70} {rows['hr@10']:.4f} / {rows['ndcg@10']:.4f} {both['hr@10']:.4f} / {both['ndcg@10']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
