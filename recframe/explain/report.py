"""The explanation columns of ``recframe report``: fidelity numbers of the jobs that measured them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SHOWN = ("area", "rank_drop@1", "random_drop@1", "rank_drop@5", "random_drop@5")


def explain_columns(jobs: Sequence[Any]) -> list[str]:
    """``explain.fidelity.<key>`` for the keys of :data:`SHOWN` that some job's ``results.json`` has."""
    present: set[str] = set()
    for job in jobs:
        fidelity = ((job.results or {}).get("explain") or {}).get("fidelity") or {}
        present.update(k for k in SHOWN if isinstance(fidelity.get(k), (int, float)))
    return [f"explain.fidelity.{k}" for k in SHOWN if k in present]
