"""Trainer and protocol values checked before any data is read, in one line each.

Lightning accepts some of these only deep inside ``Trainer(...)`` (with a multi-line traceback) or not at
all for the machine at hand (an accelerator it lacks); ``trainer.batches_per_step`` was once silently
replaced by 1 when 0. Checking them here costs nothing and no loading time.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from recframe.errors import ConfigError

PRECISIONS = (
    "64-true",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
    "transformer-engine",
    "transformer-engine-float16",
    "64",
    "32",
    "16",
    "bf16",
    64,
    32,
    16,
)
NEGATIVE_SAMPLING = ("uniform", "popularity")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "tpu", "auto")


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_sampled_cutoffs(num_candidates: int, cutoffs: Any, where: str = "protocol.num_candidates") -> None:
    """Sampled ranking ranks the held-out item(s) among ``num_candidates`` others: a cut-off above that
    count puts every held-out item in the list (HR@k = 1 whatever the model)."""
    largest = max(int(k) for k in cutoffs)
    if int(num_candidates) < largest:
        raise ConfigError(
            f"{where} is {num_candidates}, fewer than the largest cut-off {largest}: every held-out "
            f"item would be in the top {largest} (HR@{largest} = 1 for any model); use at least "
            f"{largest} candidates or smaller protocol.cutoffs"
        )


def check_protocol(cfg: DictConfig) -> None:
    """``protocol.num_candidates`` against the cut-offs (sampled ranking)."""
    if str(OmegaConf.select(cfg, "protocol.ranking", default="full")) != "sampled":
        return
    num = OmegaConf.select(cfg, "protocol.num_candidates", default=None)
    cutoffs = OmegaConf.select(cfg, "protocol.cutoffs", default=None)
    if num is None or not cutoffs:
        return
    if not _integer(num) or num < 1:
        raise ConfigError(f"protocol.num_candidates must be an integer >= 1 or null, got {num!r}")
    check_sampled_cutoffs(num, cutoffs)


def check_trainer(cfg: DictConfig) -> None:
    """Raise a one-line :class:`ConfigError` for an invalid ``trainer.batches_per_step``, ``precision``,
    ``accelerator`` (including one this machine lacks) or ``devices``."""
    t = OmegaConf.select(cfg, "trainer", default=None)
    if not isinstance(t, DictConfig):
        return
    per_step = t.get("batches_per_step")
    if per_step is not None and (not _integer(per_step) or per_step < 1):
        raise ConfigError(
            f"trainer.batches_per_step must be an integer >= 1 (1: one optimizer step per "
            f"training_step), got {per_step!r}"
        )
    sampling = t.get("negative_sampling")
    if sampling is not None and sampling not in NEGATIVE_SAMPLING:
        raise ConfigError(f"trainer.negative_sampling must be one of {', '.join(NEGATIVE_SAMPLING)}, got {sampling!r}")
    for key in ("deterministic", "progress_bar"):  # bool("no") is True: a typo would silently mean yes
        value = t.get(key)
        if value is not None and not isinstance(value, bool) and not (key == "deterministic" and value == "warn"):
            allowed = "true, false or warn" if key == "deterministic" else "true or false"
            raise ConfigError(f"trainer.{key} must be {allowed}, got {value!r}")
    precision = t.get("precision")
    if precision is not None and precision not in PRECISIONS:
        raise ConfigError(f"trainer.precision {precision!r} is not one of {', '.join(str(p) for p in PRECISIONS[:8])}")
    accelerator = str(t.get("accelerator") or "auto")
    if accelerator not in ACCELERATORS:
        raise ConfigError(f"trainer.accelerator {accelerator!r} is not one of {', '.join(ACCELERATORS)}")
    if accelerator in ("gpu", "cuda", "mps"):
        import torch

        if accelerator == "mps" and not torch.backends.mps.is_available():
            raise ConfigError(
                "trainer.accelerator=mps but this machine has no usable MPS device; use trainer.accelerator=cpu"
            )
        if accelerator != "mps" and not torch.cuda.is_available():
            raise ConfigError(
                f"trainer.accelerator={accelerator} but this machine has no usable CUDA GPU "
                f"(torch.cuda.is_available() is False); use trainer.accelerator=cpu"
            )
    devices = t.get("devices")
    if devices is None or devices == "auto":
        return
    if isinstance(devices, (list, ListConfig)):
        ok = len(devices) > 0 and all(_integer(d) and d >= 0 for d in devices)
    elif isinstance(devices, str):
        parts = [p.strip() for p in devices.split(",") if p.strip()]
        ok = bool(parts) and all(p.isdigit() or p == "-1" for p in parts) and devices.strip() != "0"
    else:
        ok = _integer(devices) and (devices >= 1 or devices == -1)
    if not ok:
        raise ConfigError(
            f"trainer.devices must be a count >= 1, -1 (all), a list of device indices or 'auto', got {devices!r}"
        )
