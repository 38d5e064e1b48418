"""Lightning checkpoint I/O that is atomic on every file system and never runs code when loading.

Lightning's default writes through an fsspec transaction whose temporary file lives in the system's
temporary folder: committing it is a copy when that folder is on another file system, so a kill or a
full disk during the copy leaves half a ``last.ckpt``. :class:`SafeCheckpointIO` writes beside the target
and renames (``recframe/atomic.py``), reports a full or read-only disk in one line, and loads through
:func:`recframe.checkpoints.load_checkpoint` (``weights_only=True``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from recframe.atomic import atomic_path
from recframe.checkpoints import load_checkpoint
from recframe.errors import TrainingError


def disk_error(exc: OSError, path: str | os.PathLike) -> TrainingError:
    """One line for an ``OSError`` met while writing ``path``."""
    if exc.errno == errno.ENOSPC:
        return TrainingError(
            f"no space left on the device writing {path}; free some space or point "
            f"paths.output_dir at a larger disk, then rerun with resume=true"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return TrainingError(
            f"cannot write {path} ({exc.strerror}); make the folder writable or set "
            f"paths.output_dir to a writable folder"
        )
    return TrainingError(f"cannot write {path} ({exc.strerror or exc})")


class SafeCheckpointIO(TorchCheckpointIO):
    """``torch.save`` into a temporary file beside the checkpoint, then one rename; safe loading."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        target = Path(path)
        try:
            with atomic_path(target) as tmp:
                torch.save(checkpoint, tmp)
        except OSError as exc:
            raise disk_error(exc, target) from None
        except RuntimeError as exc:  # torch's zip writer reports a failed write as a RuntimeError
            if "write" in str(exc).lower() or "file" in str(exc).lower():
                raise TrainingError(
                    f"cannot write {target} ({str(exc).splitlines()[0]}); check the free space "
                    f"and permissions of paths.output_dir"
                ) from None
            raise

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_checkpoint(path, "resume=true")
