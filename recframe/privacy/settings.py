"""``trainer.privacy``: the DP-SGD settings, read and checked before any data is read.

``trainer.privacy`` is ``null`` (ordinary training) or a mapping with ``delta``, ``max_grad_norm``
and exactly one of ``epsilon`` (a target; the noise multiplier is derived by the accountant once
the number of training samples is known) or ``noise_multiplier``. ``epsilon: inf`` means ordinary
training, so a sweep can put the non-private model on the same axis (``1,4,16,inf``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from recframe.errors import ConfigError

KEYS = ("epsilon", "delta", "max_grad_norm", "noise_multiplier")
#: Optimizers DP-SGD can use: the noise is dense, so row-sparse optimizers would drop most of it.
DENSE_OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad")


@dataclass(frozen=True)
class PrivacySettings:
    """What ``trainer.privacy`` asks for; ``epsilon`` or ``noise_multiplier`` is ``None``."""

    delta: float
    max_grad_norm: float
    epsilon: float | None = None
    noise_multiplier: float | None = None


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"trainer.privacy.{key} must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"trainer.privacy.{key} must be a number, got {value!r}") from None


def read_settings(cfg: DictConfig) -> PrivacySettings | None:
    """The run's DP-SGD settings, or ``None`` for ordinary training (absent, ``null`` or ``epsilon: inf``).

    Raises a one-line :class:`ConfigError` naming the key for an unknown key, a value out of range,
    or both / neither of ``epsilon`` and ``noise_multiplier``.
    """
    node = OmegaConf.select(cfg, "trainer.privacy", default=None)
    if node is None:
        return None
    if not isinstance(node, DictConfig):
        raise ConfigError(
            f"trainer.privacy must be null or a mapping like {{epsilon: 8, delta: 1e-6, max_grad_norm: 1.0}}, "
            f"got {node!r}"
        )
    container = cast("dict[str, Any]", OmegaConf.to_container(node, resolve=True))  # a DictConfig: a dict
    given = {k: v for k, v in container.items() if v is not None}
    unknown = sorted(set(given) - set(KEYS))
    if unknown:
        raise ConfigError(f"trainer.privacy has unknown key(s) {', '.join(unknown)}; keys are {', '.join(KEYS)}")
    values = {k: _number(v, k) for k, v in given.items()}
    epsilon, sigma = values.get("epsilon"), values.get("noise_multiplier")
    if epsilon is not None and math.isinf(epsilon) and epsilon > 0:
        return None  # no guarantee asked for: ordinary training, reported as epsilon = inf
    if (epsilon is None) == (sigma is None):
        raise ConfigError(
            "trainer.privacy needs exactly one of epsilon (a target, e.g. 8) or noise_multiplier (e.g. 1.0)"
            + (f"; got both (epsilon={epsilon}, noise_multiplier={sigma})" if epsilon is not None else "")
        )
    if epsilon is not None and not (epsilon > 0 and math.isfinite(epsilon)):
        raise ConfigError(f"trainer.privacy.epsilon must be > 0 (inf: no privacy), got {epsilon}")
    if sigma is not None and not (sigma > 0 and math.isfinite(sigma)):
        raise ConfigError(f"trainer.privacy.noise_multiplier must be a finite number > 0, got {sigma}")
    if "delta" not in values:
        raise ConfigError("trainer.privacy.delta is missing; set it below 1/(training samples), e.g. 1e-6")
    delta = values["delta"]
    if not 0 < delta < 1:
        raise ConfigError(f"trainer.privacy.delta must be in (0, 1), e.g. 1e-6, got {delta}")
    clip = values.get("max_grad_norm", 1.0)
    if not (clip > 0 and math.isfinite(clip)):
        raise ConfigError(f"trainer.privacy.max_grad_norm must be a finite number > 0, got {clip}")
    return PrivacySettings(delta=delta, max_grad_norm=clip, epsilon=epsilon, noise_multiplier=sigma)


def check_privacy(cfg: DictConfig, model_name: str, trainable: bool) -> None:
    """Plan-time checks of ``trainer.privacy`` (one line each): its values, a model trained by
    gradients, a dense optimizer, one process."""
    settings = read_settings(cfg)
    if settings is None:
        return
    if not trainable:
        raise ConfigError(
            f"trainer.privacy: model '{model_name}' is fitted in closed form, not by gradient steps, so "
            f"DP-SGD cannot train it; use a gradient-trained model (bpr, gmf, neumf, multvae) or drop trainer.privacy"
        )
    optimizer = str(OmegaConf.select(cfg, "trainer.optimizer", default="adam")).lower()
    if optimizer not in DENSE_OPTIMIZERS:
        raise ConfigError(
            f"trainer.privacy: trainer.optimizer={optimizer} updates only the batch's rows, but DP-SGD adds noise "
            f"to every parameter; use one of {', '.join(DENSE_OPTIMIZERS)}"
        )
    devices = OmegaConf.select(cfg, "trainer.devices", default=1)
    strategy = str(OmegaConf.select(cfg, "trainer.strategy", default="auto"))
    if strategy.startswith("ddp") or (isinstance(devices, int) and devices > 1):
        raise ConfigError(
            f"trainer.privacy: DP-SGD here trains in one process (trainer.devices={devices}, "
            f"trainer.strategy={strategy}); set trainer.devices=1 trainer.strategy=auto"
        )
