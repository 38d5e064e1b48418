"""Where recframe looks for data and keeps its caches.

``RECFRAME_DATA_DIR`` names the folder holding one sub-folder per dataset (``ml-100k/``, ...); by
default it is ``<cache>/data``, where downloads land. ``RECFRAME_CACHE_DIR`` names the cache
(parsed datasets, embeddings); by default ``$XDG_CACHE_HOME/recframe`` or ``~/.cache/recframe``.
Read-only data folders are fine: nothing is ever written next to the source files.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of recframe's caches."""
    env = os.environ.get("RECFRAME_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "recframe"


def data_dir() -> Path:
    """The folder holding one sub-folder per dataset."""
    env = os.environ.get("RECFRAME_DATA_DIR")
    return Path(env).expanduser() if env else cache_dir() / "data"
