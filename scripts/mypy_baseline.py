"""mypy against a recorded baseline that may only shrink.

Usage::

    python scripts/mypy_baseline.py            # run mypy; fail on any error not in the baseline
    python scripts/mypy_baseline.py --update   # after fixing errors: rewrite the baseline (never grows)
    python scripts/mypy_baseline.py --record   # record the baseline from scratch (when checks start)

Errors are compared as ``path: error-code: message`` without line numbers (edits above an old error
move it, they do not make it new), counted with multiplicity. A new error fails with its full mypy
line; errors that disappeared are listed so the baseline can be shrunk with ``--update``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".ci" / "mypy-baseline.txt"
TARGETS = ["recframe", "plugins", "hydra_plugins"]
_ERROR = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+)(?::\d+)?: error: (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$")


def normalise(line: str) -> str | None:
    """``path: code: message`` of one mypy error line, or None for notes and summaries."""
    match = _ERROR.match(line.strip())
    if match is None:
        return None
    return f"{match['path']}: {match['code'] or 'misc'}: {match['message']}"


def run_mypy(extra: list[str]) -> list[str]:
    import importlib.util

    if importlib.util.find_spec("mypy") is None:  # `python -m mypy` would exit 1, which reads as "errors found"
        sys.exit(f"error: mypy is not installed in {sys.executable}; install it: {sys.executable} -m pip install mypy")
    done = subprocess.run([sys.executable, "-m", "mypy", *TARGETS, *extra], cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 1) or (done.returncode == 1 and not any(map(normalise, done.stdout.splitlines()))):
        # 2: mypy itself failed (bad config, crash); 1 without an error line: it failed before checking
        sys.exit(f"error: mypy failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.splitlines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the baseline (only if nothing is new)")
    parser.add_argument("--record", action="store_true", help="write the baseline from the current errors")
    parser.add_argument("--mypy-output", type=Path, help="read mypy's output from this file instead of running it")
    args, extra = parser.parse_known_args()
    lines = args.mypy_output.read_text().splitlines() if args.mypy_output else run_mypy(extra)
    current = Counter(e for e in map(normalise, lines) if e)
    recorded = Counter(e for e in BASELINE.read_text().splitlines() if e.strip()) if BASELINE.exists() else Counter()
    if args.record:
        BASELINE.write_text("".join(f"{e}\n" for e in sorted(current.elements())))
        print(f"mypy: baseline recorded with {sum(current.values())} error(s)")
        return 0
    new = current - recorded
    fixed = recorded - current
    if new:
        print(f"mypy: {sum(new.values())} error(s) not in {BASELINE.relative_to(ROOT)}:", file=sys.stderr)
        for line in lines:
            key = normalise(line)
            if key and new[key] > 0:
                print(f"  {line}", file=sys.stderr)
                new[key] -= 1
        return 1
    if args.update:
        BASELINE.write_text("".join(f"{e}\n" for e in sorted(current.elements())))
        print(f"mypy: baseline rewritten with {sum(current.values())} error(s) ({sum(fixed.values())} fewer)")
        return 0
    if fixed:
        print(f"mypy: {sum(fixed.values())} baseline error(s) are fixed; shrink the baseline with --update")
    print(f"mypy: no new errors ({sum(current.values())} in the baseline still to fix)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
