"""How recframe's cost grows with the data: 1M, 10M, 100M synthetic interactions, one table.

For each size the log is generated once under ``$RECFRAME_CACHE_DIR/scale`` (``benchmarks/scale_data.py``:
power-law popularity, ML-20M's shape scaled), then a child process (so each size's peak memory is
its own) measures, in order:

* load, cold: the Parquet file parsed through ``data=table`` into an empty parsed-data cache;
* load, cached: the same again, served from the cache;
* split: per-user random 8:1:1 (``protocol=random_811``);
* BPR-MF epoch (embedding 64, batch 4,096, one uniform negative), once per ``--bpr-optimizers``
  entry: ``sgd_compiled``, the compiled BPR-SGD epoch (``trainer.optimizer=sgd_compiled``: the loop
  its Lightning module runs, one kernel call per slice of 16 batches, the whole epoch timed);
  ``sparse_adam`` or ``adam`` (dense), a bare loop over recframe's mini-batches with that optimiser:
  the epoch's setup (permutation and negatives) timed once, the steps bounded by ``--max-batches``
  and scaled to the whole epoch when the bound cuts them (marked ``*``); ``--bpr-only`` stops here,
  and ``--bpr-optimizers`` with no names skips these epochs;
* iALS: one ALS iteration (both half-steps, embedding 64, 3 CG steps), ``--threads`` threads;
* ItemKNN fit (k 100);
* full test evaluation of the iALS factors (every item ranked, train+valid masked, metrics at 10),
  bounded by ``--max-eval-users`` test users and scaled when the bound cuts it (marked ``*``);
* peak resident memory of the child (``ru_maxrss``).

Usage::

    RECFRAME_CACHE_DIR=/tmp/rfcache python benchmarks/scale.py [--sizes 1e6 1e7 1e8] [--threads 1]
        [--bpr-optimizers [sgd_compiled sparse_adam adam]] [--bpr-only] [--json out.json]

Times are wall seconds, one run each; the last columns are seconds per million interactions, so
linear cost shows as a flat column.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BPR_OPTIMIZERS = ("sgd_compiled", "sparse_adam", "adam")
FIXED_STEPS = ["load_cold", "load_cached", "split", "ials_iteration", "itemknn_fit", "full_eval"]


def steps(bpr_optimizers: list[str]) -> list[str]:
    """The table's columns: the fixed steps with one ``bpr_<optimizer>`` column each after the split."""
    return FIXED_STEPS[:3] + [f"bpr_{name}" for name in bpr_optimizers] + FIXED_STEPS[3:]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Child side: every step on one size; returns seconds per step, notes and peak memory."""
    os.environ["RECFRAME_CACHE_DIR"] = str(Path(args.cache) / f"rf-{size}")
    shutil.rmtree(os.environ["RECFRAME_CACHE_DIR"], ignore_errors=True)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE))
    from scale_data import data_overrides, generate

    from recframe import config as rconfig
    from recframe.evaluation.ranking import RankingEvaluator
    from recframe.models import DatasetInfo
    from recframe.plugins import registries
    from recframe.runner import build, build_metrics, derive_seeds, load_data, make_split, ranking_targets

    folder = generate(size, seed=args.seed)
    cfg = rconfig.compose(
        [*data_overrides(folder), "protocol=random_811", "protocol.cutoffs=[10]", "logger=none", f"seed={args.seed}"]
    )
    out: dict[str, Any] = {"size": size, "seconds": {}, "scaled": [], "threads": args.threads}
    clock = time.perf_counter
    t = clock()
    data = load_data(cfg)
    out["seconds"]["load_cold"] = clock() - t
    t = clock()
    data = load_data(cfg)
    out["seconds"]["load_cached"] = clock() - t
    out["counts"] = {"users": int(data.n_users), "items": int(data.n_items), "interactions": len(data)}
    t = clock()
    split = make_split(cfg, data, derive_seeds(cfg.seed, 4)[0])
    out["seconds"]["split"] = clock() - t
    del data
    info = DatasetInfo(
        split.n_users, split.n_items, split.train, np.bincount(split.train.item, minlength=split.n_items)
    )
    regs = registries()

    def model(name: str, **params: Any) -> Any:
        return build(regs.model.get(name), "model", name, params, info)

    for name in args.bpr_optimizers:
        if name == "sgd_compiled":
            out["seconds"]["bpr_sgd_compiled"] = compiled_bpr_epoch(model("bpr", embedding_dim=64), split.train, args)
        else:
            seconds, setup, bounded = minibatch_bpr_epoch(model("bpr", embedding_dim=64), split.train, name, args)
            out["seconds"][f"bpr_{name}"] = seconds
            out.setdefault("bpr_epoch_setup", {})[name] = setup
            if bounded:
                out["scaled"].append(f"bpr_{name}")
    if args.bpr_only:
        out["peak_rss_gib"] = peak_rss_gib()
        return out

    ials = model("ials", embedding_dim=64, iterations=1)
    ials.fit(split.train.subset(np.arange(len(split.train)) < 10_000))  # untimed warm-up (compiled kernel)
    ials = model("ials", embedding_dim=64, iterations=1)
    t = clock()
    ials.fit(split.train)
    out["seconds"]["ials_iteration"] = clock() - t

    knn = model("itemknn", k=100)
    t = clock()
    knn.fit(split.train)
    out["seconds"]["itemknn_fit"] = clock() - t
    del knn

    targets = ranking_targets(split, True)
    test = targets["test"]
    evaluator = RankingEvaluator(build_metrics(cfg, info), batch_users=2048, ties="torch.topk")
    users = test.users if hasattr(test, "users") else None
    n_test = len(users) if users is not None else split.n_users
    if users is not None and len(users) > args.max_eval_users:
        test = subset_target(test, args.max_eval_users)
        out["scaled"].append("full_eval")
    ials.eval()
    t = clock()
    evaluator.evaluate(ials, test)
    elapsed = clock() - t
    used = len(test.users) if hasattr(test, "users") else n_test
    out["seconds"]["full_eval"] = elapsed * n_test / used
    out["eval_users"] = {"timed": int(used), "test": int(n_test)}
    out["peak_rss_gib"] = peak_rss_gib()
    return out


def minibatch_bpr_epoch(
    bpr: Any, train: Any, optimizer_name: str, args: argparse.Namespace
) -> tuple[float, float, bool]:
    """``(epoch seconds, setup seconds, bounded)``: one BPR-MF epoch of mini-batches under
    ``optimizer_name`` (``adam`` or ``sparse_adam``).

    The epoch's setup (its permutation and every negative, drawn when the first batch is asked for)
    is timed on its own and counted once; after three untimed warm-up steps, at most
    ``--max-batches`` steps are timed and their mean is scaled to the epoch's batches. (Scaling the
    setup with the steps would count it once per ``--max-batches`` slice.)
    """
    from recframe.plugins import registries
    from recframe.runner import build
    from recframe.training.batches import InteractionBatches
    from recframe.training.module import RecframeModule
    from recframe.training.sampling import NegativeSampler

    loss = build(registries().loss.get("bpr"), "loss", "bpr", {})
    sampler = NegativeSampler(train, distribution="uniform")
    batches = InteractionBatches(train, bpr.batch_kind, 4096, 1, sampler, args.seed)
    optim = {"optimizer": optimizer_name, "lr": 1e-3, "weight_decay": 0.0}
    optimizer = RecframeModule(bpr, loss, optim, None, None).configure_optimizers()
    bpr.train()

    def step(batch: dict[str, Any]) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss(bpr(batch), batch).backward()
        optimizer.step()

    stream = iter(batches)
    start = time.perf_counter()
    pending = next(stream, None)
    setup = time.perf_counter() - start
    for _ in range(3):  # untimed: loads the compiled kernels, first allocations
        if pending is not None:
            step(pending)
            pending = next(stream, None)
    start, done = time.perf_counter(), 0
    while pending is not None and done < args.max_batches:
        step(pending)
        done += 1
        pending = next(stream, None)
    elapsed, total = time.perf_counter() - start, len(batches)
    per_step = elapsed / max(done, 1)
    return setup + per_step * total, setup, pending is not None


def compiled_bpr_epoch(bpr: Any, train: Any, args: argparse.Namespace) -> float:
    """Seconds of one whole ``trainer.optimizer=sgd_compiled`` epoch (its permutation included): one
    :class:`CompiledBPRSGD` step per slice of 16 batches of 4,096, as its Lightning module runs it."""
    import numpy as np

    from recframe.training.compiled_epoch import CompiledBPRSGD, CompiledPairs, embedding_tables
    from recframe.training.sampling import NegativeSampler

    pairs = CompiledPairs(train, 4096 * 16, NegativeSampler(train, distribution="uniform"), args.seed)
    optimizer = CompiledBPRSGD(list(embedding_tables(bpr)), pairs.sampler, pairs.cdf, "sgd", lr=0.01, weight_decay=0.0)
    warm = CompiledPairs(train.subset(np.arange(len(train)) < 1000), 1000, pairs.sampler, args.seed)
    optimizer.pending = next(iter(warm))  # untimed: loads the compiled kernel
    optimizer.step()
    start = time.perf_counter()
    for batch in pairs:
        optimizer.pending = batch
        optimizer.step()
    return time.perf_counter() - start


def subset_target(target: Any, n: int) -> Any:
    """The same ranking target restricted to its first ``n`` users (same masks, same relevant items)."""
    import numpy as np
    import scipy.sparse as sp

    keep = np.zeros(target.relevant.shape[0], dtype=np.float32)
    keep[target.users[:n]] = 1.0
    relevant = (sp.diags(keep) @ target.relevant).tocsr()
    relevant.eliminate_zeros()
    return type(target)(relevant, target.seen, target.history)


def table(results: list[dict[str, Any]], columns: list[str]) -> str:
    head = (
        f"{'interactions':>13} {'users':>8} {'items':>7} " + " ".join(f"{s:>14}" for s in columns) + f" {'peak GiB':>9}"
    )
    lines = [head]
    for r in results:
        cells = " ".join(
            f"{r['seconds'][s]:>13.2f}{'*' if s in r['scaled'] else ' '}" if s in r["seconds"] else f"{'-':>14}"
            for s in columns
        )
        c = r["counts"]
        lines.append(f"{c['interactions']:>13,} {c['users']:>8,} {c['items']:>7,} {cells} {r['peak_rss_gib']:>9.2f}")
    lines.append("seconds per million interactions:")
    for r in results:
        per = r["counts"]["interactions"] / 1e6
        lines.append(
            f"{r['counts']['interactions']:>13,} {'':>8} {'':>7} "
            + " ".join(f"{r['seconds'][s] / per:>14.3f}" if s in r["seconds"] else f"{'-':>14}" for s in columns)
        )
    lines.append("* scaled from a bounded part (--max-batches, --max-eval-users)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7, 1e8])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-batches", type=int, default=300)
    parser.add_argument("--max-eval-users", type=int, default=20_000)
    parser.add_argument(
        "--bpr-optimizers",
        nargs="*",
        choices=BPR_OPTIMIZERS,
        default=["sgd_compiled", "sparse_adam", "adam"],
        help="BPR-MF epochs to time; none (the flag alone) skips them",
    )
    parser.add_argument("--cache", default=str(Path(os.environ.get("RECFRAME_CACHE_DIR", "/tmp/rfcache")) / "scale"))
    parser.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)  # child: one size, JSON out
    parser.add_argument("--bpr-only", action="store_true", help="stop after the BPR-MF epochs")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(int(args.one), args)))
        return
    results = []
    for size in args.sizes:
        child = [
            sys.executable,
            __file__,
            "--one",
            str(size),
            "--threads",
            str(args.threads),
            "--seed",
            str(args.seed),
            "--max-batches",
            str(args.max_batches),
            "--max-eval-users",
            str(args.max_eval_users),
            "--bpr-optimizers",
            *args.bpr_optimizers,
            *(["--bpr-only"] if args.bpr_only else []),
            "--cache",
            args.cache,
        ]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
        done = subprocess.run(child, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"{int(size):,} interactions failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(table(results, steps(args.bpr_optimizers)), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
