"""Which sweep a job belongs to, so that sweeps never share a folder or a study by accident.

A sweep is identified by its command line: the sorted overrides that shape it (the search space, the
fixed values, the ``hparams_search`` config), hashed to eight hex digits (:func:`sweep_id`). The
``recframe`` command puts the id in ``RECFRAME_SWEEP_ID`` before Hydra starts, so every job (launched
in this process or another) sees the same one.

* A sweep without ``name=`` runs in ``multiruns/default-<id>`` and its Optuna study is
  ``default-<id>``: two different sweeps get two folders and two studies, and the same command run
  again (after a kill) finds its folder, its checkpoints and its study (resolver
  ``recframe_sweep_name``).
* Each job folder gets ``.recframe_sweep.json`` (``{"id", "command"}``); ``recframe report`` reads it
  and refuses to tabulate jobs of different sweeps together unless asked (``--mix``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from recframe.atomic import write_text

ENV_ID = "RECFRAME_SWEEP_ID"
ENV_COMMAND = "RECFRAME_SWEEP_COMMAND"
MARKER = ".recframe_sweep.json"
DEFAULT_NAME = "default"
#: Overrides that do not change what a sweep computes (display, resumption, where it runs).
_NEUTRAL = (
    "print_table",
    "resume",
    "trainer.progress_bar",
    "progress",
    "hydra.launcher",
    "hydra/launcher",
    "hydra.verbose",
    "hydra.job_logging",
    "hydra/job_logging",
    "paths.output_dir",
)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def sweep_id(overrides: Sequence[str]) -> str:
    """Eight hex digits of SHA-256 over the sweep's sorted, identity-relevant overrides."""
    kept = sorted(o for o in overrides if not _key(o).startswith(_NEUTRAL))
    return hashlib.sha256("\n".join(kept).encode("utf-8")).hexdigest()[:8]


def sweep_name(name: str) -> str:
    """The sweep's folder and study name: ``name`` when the user chose one, else ``default-<id>``."""
    if str(name) != DEFAULT_NAME:
        return str(name)
    sid = os.environ.get(ENV_ID)
    return f"{DEFAULT_NAME}-{sid}" if sid else DEFAULT_NAME


@contextmanager
def announced(overrides: Sequence[str], command: str, active: bool = True) -> Iterator[str | None]:
    """While open, this sweep's id and command are in the environment (the jobs read them); yields the id."""
    if not active:
        yield None
        return
    saved = {k: os.environ.get(k) for k in (ENV_ID, ENV_COMMAND)}
    sid = sweep_id(overrides)
    os.environ[ENV_ID] = sid
    os.environ[ENV_COMMAND] = command
    try:
        yield sid
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def write_marker(job_dir: Path) -> None:
    """Record in ``job_dir`` which sweep ran it (only when the command announced one)."""
    sid = os.environ.get(ENV_ID)
    if not sid:
        return
    job_dir.mkdir(parents=True, exist_ok=True)
    from recframe.redact import redact

    command = redact(os.environ.get(ENV_COMMAND, ""))  # a storage URL's password never reaches a file
    write_text(job_dir / MARKER, json.dumps({"id": sid, "command": command}) + "\n")


def read_marker(job_dir: Path) -> dict[str, str] | None:
    """``{"id", "command"}`` of the sweep that ran ``job_dir``, or None (older runs, other tools)."""
    try:
        data = json.loads((job_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("id"), str) else None


def register_resolver() -> None:
    """``${recframe_sweep_name:${name}}`` in the config tree (idempotent)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("recframe_sweep_name"):
        OmegaConf.register_new_resolver("recframe_sweep_name", sweep_name)
