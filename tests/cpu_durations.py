"""pytest plugin: each test's CPU time, a measure of its cost that the machine's load hardly changes.

Wall-clock durations (``--durations``) grow with whatever else the machine runs; the CPU time a test
uses (user + system, of the test process and of the child processes it waited for) stays about the
same, so the sum over the default run estimates how long ``make test`` takes on an idle machine (an
upper bound where torch runs two threads at once; sleeps while polling a server are not counted).

    pytest -p cpu_durations --cpu-durations=durations.json [paths]
    python tests/cpu_durations.py durations.json [--top 30]     # the summary again, from the file

The file gets one JSON line ``{"nodeid", "slow", "cpu_s", "wall_s"}`` per test as it ends (setup, call and
teardown together; appended, so a run cut short keeps what it measured).
Nothing here asserts a time: it only measures.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_RECORDS: list[dict[str, Any]] = []


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cpu-durations", default=None, metavar="PATH", help="write each test's CPU time to PATH (JSON)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    cpu, wall = _cpu_seconds(), time.perf_counter()
    yield
    record = {
        "nodeid": item.nodeid,
        "slow": item.get_closest_marker("slow") is not None,
        "cpu_s": round(_cpu_seconds() - cpu, 3),
        "wall_s": round(time.perf_counter() - wall, 3),
    }
    _RECORDS.append(record)
    path = item.config.getoption("--cpu-durations")
    if path:  # one JSON line per test as it ends: an interrupted run keeps what it measured
        with open(path, "a") as fh:
            fh.write(json.dumps(record) + "\n")


def summary(records: list[dict[str, Any]], top: int = 25) -> str:
    """Totals (default run, slow tests) and the ``top`` most expensive tests, as text."""
    lines = []
    for label, part in (
        ("default (not slow)", [r for r in records if not r["slow"]]),
        ("slow", [r for r in records if r["slow"]]),
    ):
        if part:
            cpu, wall = sum(r["cpu_s"] for r in part), sum(r["wall_s"] for r in part)
            lines.append(f"{label}: {len(part)} tests, CPU {cpu:.0f} s ({cpu / 60:.1f} min), wall {wall:.0f} s")
    lines.append(f"most CPU time (top {top}):")
    for r in sorted(records, key=lambda r: -r["cpu_s"])[:top]:
        lines.append(
            f"  {r['cpu_s']:8.2f} s CPU {r['wall_s']:8.2f} s wall {'slow ' if r['slow'] else '     '}{r['nodeid']}"
        )
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _RECORDS:
        return
    terminalreporter.write_sep("=", "CPU time per test (cpu_durations)")
    terminalreporter.write_line(summary(_RECORDS))
    if config.getoption("--cpu-durations"):
        terminalreporter.write_line(f"written: {config.getoption('--cpu-durations')}")


if __name__ == "__main__":
    args = sys.argv[1:]
    n = int(args[args.index("--top") + 1]) if "--top" in args else 25
    lines = Path(args[0]).read_text().splitlines()
    print(summary([json.loads(line) for line in lines if line.strip()], n))
