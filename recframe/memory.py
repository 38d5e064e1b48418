"""Predicting a model's dense allocations before making them, and stopping with the fix when they cannot fit.

A model with a dense ``n_items x n_items`` (EASE) or ``n_users x n_items`` table calls
:func:`check_dense_allocation` from its constructor, with the bytes its fit will hold at its peak
(computed from the data's shape and its config): a run on data too large for it ends at once, in
one line that names the model, the size and an alternative, instead of after minutes of work in
an out-of-memory kill.

The limit is the memory the system reports available (``MemAvailable`` of ``/proc/meminfo``;
physical memory where that is unknown), or ``RECFRAME_MAX_MEMORY_GB`` when set (to allow more on a
machine with swap, or less to leave room for other jobs).
"""

from __future__ import annotations

import os

from recframe.errors import ConfigError

GIB = float(1 << 30)


def available_bytes() -> int:
    """Bytes a run may allocate: ``RECFRAME_MAX_MEMORY_GB`` if set, else the system's available memory."""
    limit = os.environ.get("RECFRAME_MAX_MEMORY_GB")
    if limit:
        try:
            return int(float(limit) * GIB)
        except ValueError:
            raise ConfigError(f"RECFRAME_MAX_MEMORY_GB must be a number of GiB, got {limit!r}") from None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: no limit


def check_dense_allocation(model: str, nbytes: int, what: str, alternative: str) -> None:
    """Raise :class:`ConfigError` when ``nbytes`` (the model's predicted peak) exceeds :func:`available_bytes`.

    ``what`` describes the allocation (``"dense 27,000 x 27,000 item-item weights"``); ``alternative``
    says what to run instead.
    """
    limit = available_bytes()
    if nbytes > limit:
        source = "RECFRAME_MAX_MEMORY_GB" if os.environ.get("RECFRAME_MAX_MEMORY_GB") else "available memory"
        raise ConfigError(
            f"model '{model}' needs about {nbytes / GIB:.1f} GiB for its {what}, more than the "
            f"{limit / GIB:.1f} GiB of {source}; {alternative} (or raise RECFRAME_MAX_MEMORY_GB)"
        )
