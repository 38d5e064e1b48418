"""Time of a DP-SGD training step against an ordinary one, on the privacy frontier's ML-1M jobs.

For BPR-MF (interaction level) and Mult-VAE (user level) with the settings of
``experiment=balance/privacy_ml1m``, trains a bounded number of batches three ways in one process:
without privacy, with DP-SGD through the compiled clipping kernels (:mod:`recframe.kernels.clip_rows`)
and with DP-SGD through the torch path (``RECFRAME_KERNELS=0``), and prints the median wall time of
a batch (forward, backward, clipping, noise, optimizer step; the first batch, which also checks the
per-sample gradients against autograd, is left out) with the ratios measured in this run.

    RECFRAME_DATA_DIR=... python benchmarks/dp_epoch.py [--bpr-batches 60] [--multvae-batches 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

MODES = (("ordinary", "inf", "1"), ("dp compiled", "4", "1"), ("dp torch", "4", "0"))


def batch_times(family: str, epsilon: str, batches: int) -> list[float]:
    """Wall seconds of each training batch of one bounded run (``batches`` batches, one epoch)."""
    import recframe.training.module as module
    from recframe.runner import run

    times: list[float] = []
    start = [0.0]

    def on_start(self: Any, batch: Any, idx: int) -> None:
        start[0] = time.perf_counter()

    def on_end(self: Any, out: Any, batch: Any, idx: int) -> None:
        times.append(time.perf_counter() - start[0])

    cls = module.RecframeModule
    saved = cls.on_train_batch_start, cls.on_train_batch_end
    cls.on_train_batch_start, cls.on_train_batch_end = on_start, on_end  # type: ignore[method-assign,assignment]
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            run(
                [
                    "experiment=balance/privacy_ml1m",
                    "hydra.mode=RUN",
                    f"privacy_family={family}",
                    f"trainer.privacy.epsilon={epsilon}",
                    "trainer.max_epochs=1",
                    f"trainer.limit_train_batches={batches}",
                    "trainer.limit_val_batches=1",
                    "trainer.progress_bar=false",
                    "membership_inference.enabled=false",
                    *(["explain.fidelity.sample_users=1"] if family == "bpr_ml1m" else []),  # BPR-MF's fidelity: short
                    "print_table=false",
                ],
                run_dir=run_dir,
            )
    finally:
        cls.on_train_batch_start, cls.on_train_batch_end = saved  # type: ignore[method-assign]
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bpr-batches", type=int, default=60, help="BPR-MF batches of 4,096 pairs per mode")
    parser.add_argument("--multvae-batches", type=int, default=10, help="Mult-VAE batches of 512 users per mode")
    parser.add_argument("--only", choices=["bpr_ml1m", "multvae_ml1m"], help="one family only")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f}")
    for family, batches in (("bpr_ml1m", args.bpr_batches), ("multvae_ml1m", args.multvae_batches)):
        if args.only not in (None, family):
            continue
        medians: dict[str, float] = {}
        for label, epsilon, kernels in MODES:
            os.environ["RECFRAME_KERNELS"] = kernels
            medians[label] = statistics.median(batch_times(family, epsilon, batches)) * 1e3
        os.environ.pop("RECFRAME_KERNELS", None)
        base = medians["ordinary"]
        cells = ", ".join(f"{k} {v:.1f} ms ({v / base:.2f}x)" for k, v in medians.items())
        speedup = medians["dp torch"] / medians["dp compiled"]
        print(f"{family}: median ms/batch: {cells}; torch path / compiled {speedup:.2f}x")


if __name__ == "__main__":
    main()
