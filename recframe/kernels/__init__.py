"""Compiled CPU kernels for the hot loops torch runs as many small passes (optional: ``recframe[fast]``).

With `numba <https://numba.pydata.org>`_ installed, a few inner loops that torch can only express
as several memory passes over ``[B, k, d]`` temporaries are compiled once into one loop each:
pairwise inner products with their gradient (:mod:`recframe.kernels.dot_rows`) and the top-``K``
of a full ranking (:mod:`recframe.kernels.topk`). Every caller keeps its torch path and uses a
kernel only when :func:`available` says so, so results never depend on whether numba is installed
beyond float rounding. Compiled code is cached on disk (numba's ``cache=True``: next to the
module, or under ``NUMBA_CACHE_DIR`` when that folder is not writable).

``RECFRAME_KERNELS=0`` turns the kernels off (for A/B measurements and to rule them out when
debugging).
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache


@lru_cache(maxsize=1)
def _numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def available() -> bool:
    """Whether the compiled kernels may be used: numba importable and ``RECFRAME_KERNELS`` not ``0``."""
    return os.environ.get("RECFRAME_KERNELS", "1") != "0" and _numba_installed()
