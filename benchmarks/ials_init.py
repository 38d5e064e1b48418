"""iALS test NDCG@10 after each iteration, per starting factors, against implicit's ALS on the same split.

Why: after 3 iterations on the ML-20M-sized log recframe's iALS (``N(0, 0.01^2)`` start) and
implicit's (``U(0, 0.01)`` start) differed by 0.006 NDCG@10 with the same solver settings. This
prints both curves and recframe's curve for each ``model.init``, so the effect of the start is
measured apart from the solver: with ``init=uniform`` and the same seed recframe starts from
implicit's exact factors.

Usage::

    RECFRAME_DATA_DIR=/work/shared/data RECFRAME_CACHE_DIR=/tmp/rfcache \\
      python benchmarks/ials_init.py --threads 1 [--iterations 15] [--at 1 2 3 5 10 15] \\
      [--inits normal uniform] [--no-implicit] [--data data=ml-1m protocol=recbole_ml1m]

The split, the evaluator (test NDCG@10, train and valid masked) and implicit's virtualenv are those
of ``benchmarks/peers.py``; the settings are its iALS settings (d 64, confidence 1 + 10, L2 100,
3 CG steps). Fit seconds are printed for information only (the evaluation runs between iterations).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (sets the thread variables from --threads before numpy and torch load)
import torch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", nargs="+", default=["data=ml-1m", "protocol=recbole_ml1m"])
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--at", nargs="+", type=int, default=[1, 2, 3, 5, 10, 15], help="iterations to evaluate at")
    parser.add_argument("--inits", nargs="+", default=["normal", "uniform"], choices=["normal", "uniform"])
    parser.add_argument("--no-implicit", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    settings = argparse.Namespace(
        threads=a.threads, data=a.data, seed=a.seed, dim=64, iterations=a.iterations, alpha=10.0, reg=100.0, cg_steps=3
    )
    bench = peers.prepare(settings)
    at = sorted(k for k in set(a.at) if 1 <= k <= a.iterations)
    curves: dict[str, dict[int, float]] = {}
    if not a.no_implicit:
        params = {
            "factors": 64,
            "regularization": 100.0,
            "alpha": 11.0,  # implicit's confidence alpha * 1 = recframe's 1 + alpha
            "iterations": a.iterations,
            "cg_steps": 3,
            "keep": at,
        }
        got = bench.peer("implicit", "implicit_als_iterations", params)
        if got is not None:
            report, arrays = got
            curves["implicit"] = {
                k: bench.ndcg(peers.factor_model(bench, arrays[f"user_{k}"], arrays[f"item_{k}"])) for k in at
            }
            print(f"implicit fit {report['seconds'][0]:.1f} s: {fmt(curves['implicit'])}", flush=True)
    for init in a.inits:
        model = peers.build_model(
            bench,
            "ials",
            embedding_dim=64,
            iterations=1,
            alpha=10.0,
            reg_weight=100.0,
            cg_steps=3,
            seed=a.seed,
            init=init,
        )
        curve, fit_seconds = {}, 0.0
        for k in range(1, a.iterations + 1):
            start = time.perf_counter()
            model.fit(bench.split.train)  # one more iteration from the current factors
            fit_seconds += time.perf_counter() - start
            if k in at:
                curve[k] = bench.ndcg(model)
        curves[f"recframe init={init}"] = curve
        print(f"recframe init={init} fit {fit_seconds:.1f} s: {fmt(curve)}", flush=True)
    print(f"\ntest NDCG@10 after iterations {at}")
    for name, curve in curves.items():
        print(f"{name:<24} " + " ".join(f"{curve[k]:.4f}" for k in at))
    if a.json:
        Path(a.json).write_text(json.dumps({"data": a.data, "threads": a.threads, "curves": curves}, indent=1))


def fmt(curve: dict[int, float]) -> str:
    return ", ".join(f"{k}: {v:.4f}" for k, v in curve.items())


if __name__ == "__main__":
    main()
