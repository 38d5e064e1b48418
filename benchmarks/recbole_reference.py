"""RecBole 1.2.1's own number for a reproduction row, measured on this machine and this data.

``python benchmarks/recbole_reference.py MultiVAE [--lr 0.001] [--seed 2020] [--threads 1]
[--set '{"dropout_prob": 0.5}']`` trains one RecBole model under the ML-1M general benchmark protocol
of ``recbole_ml1m`` (ratings >= 3, 10-core, per-user random 8:1:1, full ranking, NDCG@10 on
validation, batch 4,096, embedding 64) with RecBole's own trainer and early stopping, and prints its
best validation NDCG@10, the test metrics and the wall time, to set beside ``recframe repro
recbole_ml1m/<model>``: when both frameworks run the same configuration here, a gap between them
is ours to explain, while a gap to the published row may also be a hyper-parameter the published
table does not state. RecBole runs in its own virtualenv (created once, see ``cf_vs_recbole.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from cf_vs_recbole import HERE, cache_dir, data_dir, recbole_atomic_files, recbole_python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="RecBole's model name, e.g. MultiVAE, NeuMF, LightGCN")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=2020, help="RecBole's default seed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--set", default="{}", help="JSON object of RecBole config keys to override")
    parser.add_argument("--recbole-venv", default=str(cache_dir() / "recbole-venv"))
    args = parser.parse_args()
    try:
        overrides = json.loads(args.set)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--set: not a JSON object ({exc}); e.g. --set '{{\"dropout_prob\": 0.5}}'") from None
    py = recbole_python(Path(args.recbole_venv))
    atomic = recbole_atomic_files(data_dir() / "ml-1m" / "ratings.dat", cache_dir() / "recbole-data")
    work = cache_dir() / "work" / f"fit-{args.model}"
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [
        str(py),
        str(HERE / "recbole_driver.py"),
        "fit",
        args.model,
        str(atomic),
        str(work),
        str(args.lr),
        str(args.seed),
        str(args.threads),
        json.dumps(overrides),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"the RecBole run failed (exit {proc.returncode})")
    result = json.loads(lines[-1][len("RESULT ") :])
    print(
        f"RecBole 1.2.1 {args.model}: best valid NDCG@10 {result['best_valid']:.4f}, "
        f"test NDCG@10 {result['test']['ndcg@10']:.4f}, {result['seconds']:.0f} s"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
