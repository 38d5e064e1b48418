"""Start-up time of the ``recframe`` command: config errors, ``plugins``, ``--cfg job``.

Usage::

    python benchmarks/startup.py [--repeats 7]

Each command runs in a fresh interpreter (the installed console script, third-party plugin autoload
off) and its wall time is the median of ``--repeats`` runs. For scale, the same run times two
references: ``recframe --help`` (the interpreter and the CLI module, nothing composed) and
``python -c "import torch, lightning"`` (what a command paid when every built-in plugin imported its
models at registration). Ratios are to the torch import, measured in this run. Beside the wall time,
the child's CPU time (user + system, median) is printed: on a shared, busy machine it is the figure
that says what the command costs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS: list[tuple[str, list[str]]] = [
    ("recframe model=bprr (unknown model)", ["model=bprr"]),
    ("recframe trainer.lr=-1 (bad value)", ["trainer.lr=-1"]),
    ("recframe model.embeding_dim=8 (unknown key)", ["model.embeding_dim=8"]),
    ("recframe --cfg job", ["--cfg", "job"]),
    ("recframe plugins", ["plugins"]),
    ("recframe --help", ["--help"]),
]


def console_script() -> list[str]:
    """The ``recframe`` script beside this interpreter, else ``python -m recframe.cli``."""
    script = Path(sys.executable).with_name("recframe")
    if script.exists():
        return [str(script)]
    found = shutil.which("recframe")
    return [found] if found else [sys.executable, "-m", "recframe.cli"]


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_seconds(argv: list[str], repeats: int) -> tuple[float, float]:
    """Median wall and CPU time of ``argv`` in a fresh process, output discarded."""
    env = {**os.environ, "RECFRAME_DISABLE_PLUGIN_AUTOLOAD": "1"}
    walls, cpus = [], []
    for _ in range(repeats):
        cpu_before, start = child_cpu_seconds(), time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        walls.append(time.perf_counter() - start)
        cpus.append(child_cpu_seconds() - cpu_before)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    base = console_script()
    torch_wall, torch_cpu = median_seconds([sys.executable, "-c", "import torch, lightning"], args.repeats)
    print(f"{'command':<46} {'wall s':>8} {'cpu s':>8} {'wall / torch import':>20}")
    for label, argv in COMMANDS:
        wall, cpu = median_seconds(base + argv, args.repeats)
        print(f"{label:<46} {wall:>8.3f} {cpu:>8.3f} {wall / torch_wall:>20.2f}")
    reference = 'python -c "import torch, lightning"'
    print(f"{reference:<46} {torch_wall:>8.3f} {torch_cpu:>8.3f} {1.0:>20.2f}")
    print(f"(median of {args.repeats} runs each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
