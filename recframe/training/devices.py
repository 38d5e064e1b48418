"""Where evaluation and scoring-latency measurement run: ``trainer.eval_device``.

Lightning hands a fitted module back on the CPU, so without a choice a model trained on a GPU is
evaluated (full ranking of every user) and timed on the CPU. ``trainer.eval_device`` decides:

* ``auto`` (default): the device the model was trained on (a GPU fit evaluates on that GPU;
  closed-form models and CPU fits stay on the CPU);
* ``cpu``: always the CPU (e.g. to report CPU serving latency of a GPU-trained model);
* ``cuda``, ``cuda:N`` or ``mps``: that device, for any model (a closed-form model's tables are
  moved there after its fit).

The value is checked before any data is read (:func:`check_eval_device`); the model and the
evaluator's metric states move together (:func:`place_for_evaluation`), so the score matrices,
their top-K and the metric sums stay on one device.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

from recframe.errors import ConfigError


def _setting(trainer_cfg: Any) -> str:
    return str(OmegaConf.select(trainer_cfg, "eval_device", default="auto") or "auto").lower()


def check_eval_device(trainer_cfg: Any) -> None:
    """Raise a one-line :class:`ConfigError` for a ``trainer.eval_device`` that names no usable device."""
    setting = _setting(trainer_cfg)
    if setting in ("auto", "cpu"):
        return
    try:
        device = torch.device(setting)
    except RuntimeError:
        raise ConfigError(f"trainer.eval_device must be auto, cpu, cuda, cuda:N or mps, got {setting!r}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            raise ConfigError(
                f"trainer.eval_device={setting} but this machine has {count} CUDA device(s); "
                f"use trainer.eval_device=auto or cpu"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"trainer.eval_device={setting} but MPS is not available; use trainer.eval_device=cpu")
    elif device.type != "cpu":
        raise ConfigError(f"trainer.eval_device must be auto, cpu, cuda, cuda:N or mps, got {setting!r}")


def eval_device(trainer_cfg: Any, train_device: str | None) -> torch.device:
    """The device evaluation runs on, given where the model was trained (``None``/``cpu`` for closed form)."""
    setting = _setting(trainer_cfg)
    if setting == "auto":
        return torch.device(str(train_device or "cpu"))
    return torch.device(setting)


def place_for_evaluation(model: nn.Module, evaluator: Any, device: torch.device) -> str:
    """Move ``model`` and, when it is a module (metric states), ``evaluator`` to ``device``; returns its name."""
    model.to(device)
    if isinstance(evaluator, nn.Module):
        evaluator.to(device)
    return str(device)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA/MPS kernels run asynchronously), so a wall time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
