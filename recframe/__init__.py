"""recframe: a plugin-based experiment framework for recommender systems.

Measure what a bigger, deeper recommender buys (accuracy) and what it costs (parameters, bytes,
fit time, scoring latency) under one declared protocol. ``recframe.run(overrides=[...])`` runs one
experiment from Python and returns its results; the ``recframe`` command does the same from the
shell. Heavy modules (torch, Lightning, Hydra) are imported only when used.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from recframe.hookspecs import hookimpl  # noqa: E402  (light: only pluggy)


def run(overrides: list[str] | tuple[str, ...] = (), data: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Run one experiment; see :func:`recframe.runner.run`. ``data``: a pandas DataFrame (or a dict of
    train/valid/test DataFrames) instead of a ``data=`` config (:mod:`recframe.experiment`)."""
    if data is not None:
        from recframe.experiment import run_frames

        return run_frames(data, overrides, **kwargs)[0]
    from recframe.runner import run as _run

    return _run(overrides, **kwargs)


def __getattr__(name: str) -> Any:
    """``recframe.Experiment``, imported on first use (PEP 562)."""
    if name == "Experiment":
        from recframe.experiment import Experiment

        return Experiment
    raise AttributeError(f"module 'recframe' has no attribute {name!r}")


def load(run_dir: Any, **kwargs: Any) -> Any:
    """The model a run saved, ready to recommend; see :func:`recframe.serving.handle.load` (docs/serving.md)."""
    from recframe.serving.handle import load as _load

    return _load(run_dir, **kwargs)


__all__ = ["Experiment", "__version__", "hookimpl", "load", "run"]
