"""ItemKNN's dot products by the dense-block and by the co-occurrence (sparse x sparse) product.

``topk_similarity`` forms each block of target items' dot products one of two ways
(``plugins/recframe_cf/similarity.py``, :func:`block_dots`); ``product="auto"`` picks by counted work
(:func:`choose_product`). This script times both on the first ``--blocks`` blocks of a real
user-item matrix (binary, as cosine ItemKNN on implicit data sees it), in one process and
alternately, and prints the two work counts beside the times, so the cost constant behind
``SPARSE_PRODUCT_COST`` can be re-measured on another machine.

Data: ``ml-1m`` (``$RECFRAME_DATA_DIR/ml-1m/ratings.dat``) or ``ml-20m-sized`` (the 12M-interaction
log of ``benchmarks/scale_data.py``, generated under ``$RECFRAME_CACHE_DIR/scale`` when absent).
Usage: ``python benchmarks/similarity_product.py [--data ml-1m ml-20m-sized] [--blocks 3] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent


def user_item_matrix(name: str) -> sp.csr_matrix:
    """``float32[n_users, n_items]`` with a 1 for every (user, item) pair of the dataset."""
    if name == "ml-1m":
        path = Path(os.environ.get("RECFRAME_DATA_DIR", "data")) / "ml-1m" / "ratings.dat"
        frame = pd.read_csv(path, sep="::", engine="python", names=["user_id", "item_id", "rating", "timestamp"])
    else:
        sys.path.insert(0, str(HERE))
        from scale_data import ml20m_sized

        frame = pd.read_parquet(ml20m_sized() / "interactions.parquet", columns=["user_id", "item_id"])
    users = np.unique(frame["user_id"].to_numpy(), return_inverse=True)[1]
    items = np.unique(frame["item_id"].to_numpy(), return_inverse=True)[1]
    x = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["ml-1m", "ml-20m-sized"], choices=["ml-1m", "ml-20m-sized"])
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from recframe_cf.similarity import BLOCK_VALUES, block_dots, choose_product

    for name in args.data:
        x = user_item_matrix(name)
        xt, xc, n = sp.csr_matrix(x.T), sp.csc_matrix(x), x.shape[1]
        block = max(1, min(n, BLOCK_VALUES // n))
        stop = min(n, args.blocks * block)
        seconds: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for sparse_product in (False, True):
                start = time.perf_counter()
                for first in range(0, stop, block):
                    block_dots(x, xt, xc, first, min(first + block, n), sparse_product)
                seconds[sparse_product].append(time.perf_counter() - start)
        row_counts = np.diff(x.indptr).astype(np.float64)
        dense, sparse = min(seconds[False]), min(seconds[True])
        print(
            f"{name}: {x.shape[0]:,} x {n:,}, {x.nnz:,} pairs; {stop:,} target items in blocks of {block:,}: "
            f"dense {dense:.2f} s, sparse {sparse:.2f} s, dense/sparse {dense / sparse:.2f}; whole fit: "
            f"dense work {x.nnz * n:.2e}, co-occurrences {row_counts @ row_counts:.2e}; auto: {choose_product(x)}"
        )


if __name__ == "__main__":
    main()
