"""Speed of recframe vs RecBole 1.2.1 on RecBole's ML-1M general benchmark protocol, same machine, same run.

Protocol (both sides): ``ml-1m/ratings.dat``, ratings >= 3, 10-core users and items, per-user random
8:1:1 split, full ranking over all items with train and valid items masked, BPR-MF with embedding
64 and batch 4,096 (Adam, one uniform negative per positive), EASE with ``reg_weight`` 1000, CPU.

Measured (medians of a few repetitions, each short):

* BPR training epoch, no evaluation: recframe through ``recframe.run`` (Lightning, what a user gets;
  epoch = time from one epoch's start to the next, checkpointing included) and through a bare loop
  over ``InteractionBatches`` with the same model, loss and optimizer; RecBole's
  ``Trainer._train_epoch``.
* One full evaluation of the test set (all test users, every item ranked, seen items masked) of the
  BPR model: ``RankingEvaluator.evaluate`` vs ``Trainer.evaluate``.
* EASE fit: ``EASE.fit`` vs RecBole's ``EASE.__init__`` (which solves the closed form).
* Accuracy checks: test NDCG@10 of BPR after the same number of epochs, and of EASE.

RecBole lives in its own virtualenv, ``$RECFRAME_CACHE_DIR/bench/recbole-venv`` (created and filled on
first use: RecBole 1.2.1 needs numpy < 2, scipy < 1.12 and friends, which recframe's environment does
not have), and is driven by ``benchmarks/recbole_driver.py`` in a subprocess that prints JSON. The
ratings are converted once to RecBole atomic files under ``$RECFRAME_CACHE_DIR/bench/recbole-data``.

Both sides run with the same number of torch threads, ``--threads`` (default 1): on a shared,
oversubscribed machine torch's OpenMP threads make small CPU ops many times slower (a BPR step took
~33x the CPU time with 2 threads as with 1 while other jobs used the cores), on either framework.

Usage: ``python benchmarks/cf_vs_recbole.py [--epochs 5] [--repeats 5] [--lr 1e-3] [--threads 1]``. The last lines
print the ratios (RecBole seconds / recframe seconds; > 1 means recframe is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _threads_from_argv(default: int = 1) -> int:
    """``--threads`` read before numpy and torch load, so their BLAS pools start with that many threads."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
    return default


if _threads_from_argv() > 0:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(_threads_from_argv())

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
RECBOLE_PACKAGES = [
    "torch==2.13.0",  # the same torch as recframe's environment (CPU wheel)
    "recbole==1.2.1",
    "numpy<2",  # RecBole 1.2.1 uses np.float / np.int aliases and numpy-1 behaviour
    "scipy<1.12",  # ... and scipy.sparse APIs removed later
    "pandas<3",
    "setuptools<81",  # pkg_resources, imported by RecBole's dependencies
    "ray==2.6.3",  # imported by recbole.quick_start (hyper-parameter tuning); has a cp311 wheel
    "thop",
    "tabulate",
    "colorlog==4.7.2",
    "colorama==0.4.4",
    "texttable",
    "tensorboard",
]


def cache_dir() -> Path:
    return Path(os.environ.get("RECFRAME_CACHE_DIR", Path.home() / ".cache" / "recframe")) / "bench"


def data_dir() -> Path:
    return Path(os.environ.get("RECFRAME_DATA_DIR", "/work/shared/data"))


def recbole_python(venv_dir: Path) -> Path:
    """The RecBole virtualenv's python, creating and filling the virtualenv if needed."""
    py = venv_dir / "bin" / "python"
    check = [str(py), "-c", "import recbole, ray, tensorboard; assert recbole.__version__ == '1.2.1'"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    print(f"installing RecBole 1.2.1 into {venv_dir} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *RECBOLE_PACKAGES], check=True)
    subprocess.run(check, check=True)
    return py


def recbole_atomic_files(ratings: Path, out: Path) -> Path:
    """``out/ml-1m/ml-1m.inter`` (``user_id:token item_id:token rating:float timestamp:float``)."""
    inter = out / "ml-1m" / "ml-1m.inter"
    if inter.is_file() and inter.stat().st_mtime >= ratings.stat().st_mtime:
        return out
    import pandas as pd

    df = pd.read_csv(ratings, sep=":", header=None, usecols=[0, 2, 4, 6], engine="c")
    inter.parent.mkdir(parents=True, exist_ok=True)
    tmp = inter.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        fh.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        df.to_csv(fh, sep="\t", header=False, index=False)
    tmp.replace(inter)
    return out


def now() -> tuple[float, float]:
    """(wall, process CPU) clocks; CPU time is less disturbed by other jobs on a shared machine."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> list[float]:
    wall, cpu = now()
    return [wall - start[0], cpu - start[1]]


class EpochClock:
    """A Lightning callback: [wall, CPU] time from each training epoch's start to the next (or to the end)."""

    def __init__(self) -> None:
        from lightning.pytorch.callbacks import Callback

        clock = self

        class _Callback(Callback):
            def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
                clock.marks.append(now())

            def on_train_end(self, trainer: Any, module: Any) -> None:
                clock.marks.append(now())

        self.marks: list[tuple[float, float]] = []
        self.callback = _Callback()

    @property
    def epochs(self) -> list[list[float]]:
        return [[b[0] - a[0], b[1] - a[1]] for a, b in zip(self.marks, self.marks[1:])]


def run_recframe_bpr(overrides: list[str], run_dir: Path) -> tuple[dict[str, Any], list[float]]:
    """``recframe.run`` with a clock added to the Lightning trainer that ``fit_torch_model`` builds."""
    import lightning.pytorch as pl

    from recframe.runner import run

    clock, original = EpochClock(), pl.Trainer

    class ClockedTrainer(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, callbacks: list | None = None, **kwargs: Any) -> None:
            super().__init__(*args, callbacks=[*(callbacks or []), clock.callback], **kwargs)

    pl.Trainer = ClockedTrainer
    try:
        results = run(overrides, run_dir=run_dir)
    finally:
        pl.Trainer = original
    return results, clock.epochs


def recframe_side(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from recframe import config as rconfig
    from recframe.evaluation.ranking import RankingEvaluator
    from recframe.models import DatasetInfo
    from recframe.plugins import registries
    from recframe.runner import (
        _group_params,
        build,
        build_metrics,
        derive_seeds,
        load_data,
        make_split,
        ranking_targets,
    )
    from recframe.training.batches import InteractionBatches
    from recframe.training.module import RecframeModule
    from recframe.training.sampling import NegativeSampler

    common = [
        f"seed={args.seed}",
        "protocol.cutoffs=[10]",
        "logger=none",
        "print_table=false",
        "trainer.progress_bar=false",
    ]
    bpr = [
        "experiment=repro/recbole_ml1m/bpr",
        *common,
        f"trainer.lr={args.lr}",
        f"trainer.max_epochs={args.epochs}",
        f"trainer.eval_every={args.epochs + 1}",
    ]  # no validation
    from recframe import kernels

    out: dict[str, Any] = {
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "kernels": kernels.available(),
    }

    # (a) BPR epochs as a user runs them: recframe.run -> Lightning; then test NDCG@10 of the last epoch.
    results, epochs = run_recframe_bpr(bpr, work / "bpr-run")
    out["torch_threads_after_fit"] = torch.get_num_threads()
    out["counts"] = results["data"]["filtered"]
    out["bpr_epoch_seconds"] = epochs
    out["bpr_test"] = {k.split("/", 1)[1]: v for k, v in results["metrics"].items() if k.startswith("test/")}

    # The same pieces by hand: split, model, loss, optimizer and a bare loop over InteractionBatches.
    cfg = rconfig.compose(bpr)
    regs = registries()
    split_seed, sampler_seed, init_seed, _ = derive_seeds(cfg.seed, 4)
    data = load_data(cfg)
    split = make_split(cfg, data, split_seed)
    info = DatasetInfo(
        split.n_users, split.n_items, split.train, np.bincount(split.train.item, minlength=split.n_items)
    )
    torch.manual_seed(init_seed)
    model_name, model_params = _group_params(cfg.model)
    model = build(regs.model.get(model_name), "model", model_name, model_params, info)
    loss_name, loss_params = _group_params(cfg.loss)
    loss = build(regs.loss.get(loss_name), "loss", loss_name, loss_params)
    t = cfg.trainer
    batches = InteractionBatches(
        split.train,
        model.batch_kind,
        t.batch_size,
        t.num_negatives,
        NegativeSampler(split.train, distribution=str(t.negative_sampling)),
        sampler_seed,
    )
    optim = {"optimizer": t.optimizer, "lr": t.lr, "weight_decay": t.weight_decay}
    optimizer = RecframeModule(model, loss, optim, None, None).configure_optimizers()  # as fit_torch_model's
    raw = []
    model.train()
    for _ in range(args.epochs):
        start = now()
        for batch in batches:
            optimizer.zero_grad(set_to_none=True)
            value = loss(model(batch), batch)
            value.backward()
            optimizer.step()
        raw.append(since(start))
    out["bpr_raw_epoch_seconds"] = raw

    # (b) Full evaluation of the test set with the BPR model just trained.
    model.eval()
    evaluator = RankingEvaluator(
        build_metrics(cfg, info), batch_users=int(t.eval_batch_users), ties=str(cfg.protocol.ties)
    )
    targets = ranking_targets(split, bool(cfg.protocol.filter_seen))
    evals = []
    evaluator.evaluate(model, targets["test"])  # warm-up, untimed (as RecBole's): loads compiled kernels
    for _ in range(args.repeats):
        start = now()
        evaluator.evaluate(model, targets["test"])
        evals.append(since(start))
    out["eval_seconds"] = evals
    out["eval_batch_users"] = int(t.eval_batch_users)

    # (c) EASE (reg_weight 1000): fit, then test NDCG@10.
    ecfg = rconfig.compose(["experiment=repro/recbole_ml1m/ease", *common])
    name, params = _group_params(ecfg.model)
    fits = []
    for _ in range(args.repeats):
        ease = build(regs.model.get(name), "model", name, params, info)
        start = now()
        ease.fit(split.train)
        fits.append(since(start))
    out["ease_fit_seconds"] = fits
    out["ease_reg_weight"] = float(OmegaConf.select(ecfg, "model.reg_weight"))
    start = now()
    out["ease_test"] = evaluator.evaluate(ease, targets["test"])[0]
    out["ease_eval_seconds"] = [since(start)]
    return out


def recbole_side(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    py = recbole_python(Path(args.recbole_venv))
    atomic = recbole_atomic_files(data_dir() / "ml-1m" / "ratings.dat", cache_dir() / "recbole-data")
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [
        str(py),
        str(HERE / "recbole_driver.py"),
        str(atomic),
        str(work / "recbole"),
        str(args.epochs),
        str(args.repeats),
        str(args.lr),
        str(args.seed),
        str(args.threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"the RecBole driver failed (exit {proc.returncode})")
    return json.loads(lines[-1][len("RESULT ") :])


def med(values: list[list[float]], which: int = 0) -> float:
    """Median wall (``which=0``) or CPU (``which=1``) seconds."""
    return float(statistics.median(v[which] for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs",
        type=int,
        default=5,
        help="BPR epochs timed (and trained before the accuracy check); the first includes "
        "one-off warm-up (numba loading its compiled kernels), so medians want several",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="repetitions of the evaluation (after one untimed warm-up on each side) and the EASE fit",
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="BPR learning rate (both sides)")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--recbole-venv", default=str(cache_dir() / "recbole-venv"))
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads on both sides (0: torch's default, one per core)"
    )
    parser.add_argument("--json", default=None, help="also write all timings to this file")
    args = parser.parse_args()
    if args.threads > 0:  # the environment (for numpy's BLAS and the RecBole process) is set at import
        torch.set_num_threads(args.threads)
    work = cache_dir() / "work"
    work.mkdir(parents=True, exist_ok=True)

    ours = recframe_side(args, work)
    theirs = recbole_side(args, work)

    keys = [
        ("BPR epoch (Lightning, recframe.run)", "bpr_epoch_seconds", "bpr_epoch_seconds"),
        ("BPR epoch (bare loop)", "bpr_raw_epoch_seconds", "bpr_epoch_seconds"),
        ("full test evaluation (BPR)", "eval_seconds", "eval_seconds"),
        ("EASE fit (reg_weight 1000)", "ease_fit_seconds", "ease_fit_seconds"),
        ("EASE test evaluation", "ease_eval_seconds", "ease_eval_seconds"),
    ]
    rows = [(name, med(ours[a]), med(theirs[b]), med(ours[a], 1), med(theirs[b], 1)) for name, a, b in keys]
    c_ours, c_theirs = ours["counts"], theirs["counts"]
    print(
        f"\nfiltered ML-1M: recframe {c_ours['users']:,} users / {c_ours['items']:,} items / "
        f"{c_ours['interactions']:,} interactions; RecBole {c_theirs['users']:,} / {c_theirs['items']:,} / "
        f"{c_theirs['interactions']:,} (RecBole counts a padding user and item)"
    )
    print(
        f"recframe's numba kernels (recframe[fast]): {'on' if ours['kernels'] else 'off'}; "
        f"first BPR epoch (with warm-up): recframe {ours['bpr_epoch_seconds'][0][0]:.3f} s, "
        f"RecBole {theirs['bpr_epoch_seconds'][0][0]:.3f} s"
    )
    print(
        f"torch {ours['torch']}, threads: recframe {ours['torch_threads']}, RecBole {theirs['torch_threads']}; "
        f"RecBole {theirs['recbole']}; {args.epochs} BPR epochs, {args.repeats} repeats; medians; "
        f"ratio = RecBole / recframe (> 1: recframe faster)\n"
    )
    width = max(len(r[0]) for r in rows)
    print(
        f"{'measurement':<{width}}  {'recframe s':>10}  {'RecBole s':>10}  {'ratio':>7}  "
        f"{'recframe CPU s':>14}  {'RecBole CPU s':>13}  {'CPU ratio':>9}"
    )
    for name, a, b, ca, cb in rows:
        print(f"{name:<{width}}  {a:>10.3f}  {b:>10.3f}  {b / a:>6.2f}x  {ca:>14.3f}  {cb:>13.3f}  {cb / ca:>8.2f}x")
    print()
    bpr_a, bpr_b = ours["bpr_test"]["ndcg@10"], theirs["bpr_test"]["ndcg@10"]
    ease_a, ease_b = ours["ease_test"]["ndcg@10"], theirs["ease_test"]["ndcg@10"]
    print(f"BPR test NDCG@10 after {args.epochs} epochs (lr {args.lr:g}): recframe {bpr_a:.4f}, RecBole {bpr_b:.4f}")
    print(f"EASE test NDCG@10: recframe {ease_a:.4f}, RecBole {ease_b:.4f} (RecBole's published 0.2865)")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "args": vars(args),
                    "recframe": ours,
                    "recbole": theirs,
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                },
                indent=2,
                default=float,
            )
        )
    goals = {0: " (goal >= 5x)", 2: " (goal >= 10x)"}
    for k, (name, a, b, ca, cb) in enumerate(rows[:4]):
        print(f"ratio {name}: {b / a:.2f}x wall, {cb / ca:.2f}x CPU{goals.get(k, '')}")


if __name__ == "__main__":
    main()
