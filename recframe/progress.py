"""Progress bars (rich) for long steps outside training: evaluation, downloads.

Shown only when stderr is a terminal and progress is not turned off (``progress=false`` in the
config, or ``RECFRAME_PROGRESS=0``), so logs, pipes, CI and tests stay free of control characters.
Training has Lightning's own bar (``trainer.progress_bar``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

ENV = "RECFRAME_PROGRESS"


class Advance(Protocol):
    def __call__(self, amount: float = 1) -> None: ...


def enabled(setting: Any = None) -> bool:
    """Whether to draw bars: stderr is a terminal, ``setting`` is not false and ``RECFRAME_PROGRESS`` not 0."""
    if setting is not None and str(setting).lower() in ("false", "0", "no", "off"):
        return False
    if os.environ.get(ENV, "").lower() in ("0", "false", "no", "off"):
        return False
    return sys.stderr.isatty()


progress_enabled = enabled  # the name plugins import from recframe.api


def set_enabled(setting: Any) -> None:
    """Apply a run's ``progress`` config key to the whole process (the evaluators read the environment)."""
    if setting is not None and str(setting).lower() in ("false", "0", "no", "off"):
        os.environ[ENV] = "0"


def _noop(amount: float = 1) -> None:
    return None


@contextmanager
def task(description: str, total: float | None, unit: str = "", show: bool = True) -> Iterator[Advance]:
    """A bar for one step; yields ``advance(amount)``. Silent (a no-op) unless ``show`` and :func:`enabled`."""
    if not show or not enabled():
        yield _noop
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn()]
    if unit == "bytes":
        columns.append(DownloadColumn())
    columns.append(TimeRemainingColumn())
    with Progress(*columns, transient=True, console=_stderr_console()) as bar:
        handle = bar.add_task(description, total=total)
        yield lambda amount=1: bar.advance(handle, amount)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
