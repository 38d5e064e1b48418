"""Shared test setup: real data from RECFRAME_DATA_DIR (missing data fails, never skips)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _default_data_dir() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point data at the shared datasets and every cache and output at the session's temp folder."""
    os.environ.setdefault("RECFRAME_DATA_DIR", str(_default_data_dir()))
    os.environ["RECFRAME_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["RECFRAME_OUTPUT_DIR"] = str(tmp_path_factory.mktemp("outputs"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The datasets folder; a missing folder or dataset fails the test with the fix."""
    path = Path(os.environ.get("RECFRAME_DATA_DIR", _default_data_dir()))
    if not path.is_dir():
        pytest.fail(f"RECFRAME_DATA_DIR={path} does not exist: point it at the shared datasets folder")
    return path


@pytest.fixture(scope="session")
def ml100k(data_dir: Path) -> Path:
    path = data_dir / "ml-100k"
    if not (path / "u.data").is_file():
        pytest.fail(f"{path}/u.data is missing: the ML-100K files must be in RECFRAME_DATA_DIR")
    return path
