"""Full-ranking speed of the deep CTR models: the side-split first layers vs scoring pair by pair.

Input: ML-1M (``$RECFRAME_DATA_DIR/ml-1m``) with the feature fields of ``conf/data/ml-1m.yaml`` (ten
fields), split as the default protocol does (seed 0); DeepFM, Wide&Deep and DCN-V2 with their
default configs and their own initialisation (scoring cost does not depend on the weights). For
each model, ``score_all`` (side-split) and ``score_all_pairs`` (every pair through the network) are
timed on the same users, alternately, and must agree to 1e-5; the lines print seconds per 1,000
users and the ratio measured in this run. Usage:
``python benchmarks/ctr_full_ranking.py [--users 64] [--repeats 3] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from omegaconf import OmegaConf

from recframe import config as rconfig
from recframe.data.features import build_features
from recframe.models import DatasetInfo
from recframe.runner import load_data, make_split


def ml1m_info() -> DatasetInfo:
    cfg = rconfig.compose(["data=ml-1m"])
    split = make_split(cfg, load_data(cfg), 0)
    features = build_features(OmegaConf.to_container(cfg.data.features, resolve=True), split.train)
    return DatasetInfo(
        split.n_users, split.n_items, split.train, np.bincount(split.train.item, minlength=split.n_items), features
    )


def seconds(fn, users: torch.Tensor) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    out = fn(users)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from recframe_context.dcnv2 import DCNv2
    from recframe_context.deepfm import DeepFM
    from recframe_context.widedeep import WideDeep

    info = ml1m_info()
    users = torch.arange(args.users)
    print(
        f"ML-1M: {info.n_users} users, {info.n_items} items, {info.features.n_fields} fields; "
        f"{args.users} users, {args.threads} thread(s), median of {args.repeats}"
    )
    for cls in (DeepFM, WideDeep, DCNv2):
        torch.manual_seed(0)
        model = cls(info).eval()
        split_t, pair_t = [], []
        with torch.no_grad():
            model.score_all(users[:2]), model.score_all_pairs(users[:2])  # warm-up
            for _ in range(args.repeats):
                t, fast = seconds(model.score_all, users)
                split_t.append(t)
                t, pairs = seconds(model.score_all_pairs, users)
                pair_t.append(t)
                torch.testing.assert_close(fast, pairs, rtol=1e-5, atol=1e-5)
        per_1k = 1000.0 / args.users
        a, b = float(np.median(split_t)) * per_1k, float(np.median(pair_t)) * per_1k
        print(
            f"{cls.__name__:9s} side-split {a:8.2f} s/1k users   pair by pair {b:8.2f} s/1k users   "
            f"speed-up {b / a:5.2f}x"
        )


if __name__ == "__main__":
    main()
