"""Trained ML-100K runs shared by the serving tests (few epochs: the tests compare lists, not accuracy)."""

from __future__ import annotations

from pathlib import Path

import pytest

import recframe

FAST = ["data=ml-100k", "trainer.progress_bar=false", "logger=none"]
RUNS = {
    "ease": ["model=ease"],
    "itemknn": ["model=itemknn"],
    "bpr": ["model=bpr", "trainer.max_epochs=2"],
    "sasrec": ["model=sasrec", "protocol=leave_one_out", "trainer.max_epochs=1"],
}


@pytest.fixture(scope="session")
def trained_runs(ml100k: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run folders by model name, trained once per session on demand (see :func:`run_for`)."""
    return {}


@pytest.fixture(scope="session")
def run_for(trained_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """``run_for(name) -> run folder`` of the ML-100K run ``RUNS[name]``, trained the first time it is asked."""

    def get(name: str) -> Path:
        if name not in trained_runs:
            run_dir = tmp_path_factory.mktemp(f"run-{name}")
            recframe.run([*FAST, *RUNS[name]], run_dir=run_dir)
            trained_runs[name] = run_dir
        return trained_runs[name]

    return get
