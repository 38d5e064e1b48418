"""Safe run-folder names built from config values.

Run and sweep folders are named by ``name``, ``data.name``, ``model.name`` and the overrides
(``hydra.job.override_dirname``). Those are user strings: a ``data.path=../../x`` override or a ``name``
holding ``/`` must not place a run outside ``paths.output_dir``. :func:`folder_name` turns any string into
one path segment: separators and odd characters become ``_``, a segment made only of dots is escaped, and
an over-long name is shortened with a hash of the full text (file systems allow 255 bytes).
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+@%:\[\]{}-]")
MAX_BYTES = 200


def folder_name(text: object, empty: str = "default") -> str:
    """``text`` as one safe folder-name segment (``empty`` when it is empty)."""
    raw = "" if text is None else str(text)
    if not raw:
        return empty
    safe = _UNSAFE.sub("_", raw)
    if set(safe) <= {"."}:  # ".", "..": would name the folder itself or its parent
        safe = safe.replace(".", "_")
    if safe.startswith("."):
        safe = "_" + safe[1:]  # no hidden folders (and no "..x" surprises)
    if len(safe.encode()) > MAX_BYTES:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
        safe = safe[: MAX_BYTES - 13] + "~" + digest
    return safe
