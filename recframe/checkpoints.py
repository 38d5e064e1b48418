"""Loading checkpoints without running code from them.

A checkpoint is a pickle inside a zip file; unpickling an arbitrary file can call any function. Every
checkpoint recframe reads (``resume=true``'s ``last.ckpt``, the best checkpoint loaded back after a fit,
``compressor.from_run``) goes through :func:`load_checkpoint`, which uses ``torch.load(weights_only=True)``:
only tensors, numbers, strings and containers of them are rebuilt, and a file asking for anything else is
refused with a one-line error before any of it runs. Third-party compressors get the same loader through
``recframe.api``.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from recframe.errors import TrainingError


def load_checkpoint(path: str | os.PathLike, purpose: str = "") -> dict[str, Any]:
    """The checkpoint at ``path`` as a dict, loaded on the CPU with ``weights_only=True``.

    ``purpose`` names what the file is for in the error (e.g. ``"resume=true"``). Raises
    :class:`TrainingError` in one line naming the file and the fix when the file is missing, a
    directory, unreadable, truncated, not a checkpoint, or asks to build objects other than tensors.
    """
    path = Path(path)
    where = f" ({purpose})" if purpose else ""
    if path.is_dir():
        raise TrainingError(f"checkpoint {path}{where} is a directory, not a checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainingError(f"checkpoint {path}{where} does not exist") from None
    except PermissionError:
        raise TrainingError(
            f"checkpoint {path}{where} cannot be read (permission denied); fix its permissions (chmod u+r)"
        ) from None
    except pickle.UnpicklingError as exc:
        refused = _first_line(exc)
        raise TrainingError(
            f"checkpoint {path}{where} was refused: it asks to build objects other than tensors "
            f"({refused}); recframe never runs code from a checkpoint, so a file not written by "
            f"recframe must be deleted or re-created"
        ) from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise TrainingError(
            f"checkpoint {path}{where} is damaged or not a checkpoint ({_first_line(exc)}); "
            f"delete it and train again (without resume=true)"
        ) from None
    if not isinstance(state, dict):
        raise TrainingError(f"checkpoint {path}{where} holds a {type(state).__name__}, not a checkpoint dict")
    return state


def load_model_state(path: str | os.PathLike, purpose: str = "") -> dict[str, torch.Tensor]:
    """The model's own parameters from a recframe checkpoint: ``state_dict`` entries under ``model.``,
    with that prefix removed (what ``Recommender.load_state_dict`` takes)."""
    state = load_checkpoint(path, purpose)
    weights = state.get("state_dict")
    if not isinstance(weights, dict):
        raise TrainingError(f"checkpoint {path} has no state_dict; it was not written by recframe's training")
    return {k[len("model.") :]: v for k, v in weights.items() if k.startswith("model.")}


def _first_line(exc: BaseException) -> str:
    """The first meaningful line of an exception's message, shortened (torch's messages span many lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), lines[0] if lines else "")
    text = text or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
