"""Shared fixtures of the evaluation tests: the real datasets (a missing dataset fails, never skips)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def dataset_dir(name: str) -> Path:
    """``$RECFRAME_DATA_DIR/<name>``; fails the test when the variable or the folder is missing."""
    root = os.environ.get("RECFRAME_DATA_DIR")
    if not root:
        pytest.fail("RECFRAME_DATA_DIR is not set; point it at the staged datasets (e.g. /work/shared/data)")
    path = Path(root) / name
    if not path.is_dir():
        pytest.fail(f"dataset folder {path} is missing")
    return path


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Keep parsed-dataset caches out of the user's cache unless one is configured."""
    if not os.environ.get("RECFRAME_CACHE_DIR"):
        monkeypatch.setenv("RECFRAME_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
