"""DP-SGD for a run: the unit of privacy from the batch stream, the noise from the target epsilon,
and the facts ``results.json`` keeps (``privacy``: epsilon spent, delta, unit, noise, clipping).

The unit follows the batch structure: a listwise batch row is one user's whole history, so the
guarantee is per **user**; pairwise, pointwise and labelled batches hold one interaction (with its
sampled negatives) per sample, so it is per **interaction** (a user with many interactions is
protected less than ``epsilon`` as a whole).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from recframe.errors import ConfigError
from recframe.privacy.accountant import noise_for_epsilon, spent_epsilon
from recframe.privacy.clipping import PerSampleClipper
from recframe.privacy.settings import PrivacySettings, read_settings


def privacy_unit(batches: Any, model_name: str) -> tuple[str, int, int]:
    """``(unit, rows per sample, samples per epoch)`` of a training batch stream."""
    from recframe.training.batches import InteractionBatches, LabeledBatches, UserRowBatches
    from recframe.training.sequences import SequenceBatches

    if isinstance(batches, UserRowBatches):
        if len(batches.draws) != len(batches.users):
            raise ConfigError(
                "trainer.privacy: trainer.listwise_batches=interactions puts a user's row into a batch once per "
                "interaction, which DP accounting cannot bound; use trainer.listwise_batches=users (user level)"
            )
        return "user", 1, batches.n_rows
    if isinstance(batches, SequenceBatches):
        return "user", 1, batches.n_rows
    if isinstance(batches, InteractionBatches):
        if batches.positives != "interactions":
            raise ConfigError(
                "trainer.privacy: trainer.positive_sampling=users draws interactions with replacement; DP "
                "accounting here needs each interaction once an epoch: use trainer.positive_sampling=interactions"
            )
        group = 1 + batches.num_negatives if batches.kind == "pointwise" else 1
        return "interaction", group, batches.n_rows
    if isinstance(batches, LabeledBatches):
        return "interaction", 1, batches.n_rows
    raise ConfigError(
        f"trainer.privacy: model '{model_name}' trains on {type(batches).__name__} batches, whose samples DP-SGD "
        f"here cannot identify (user rows, interactions, labelled records, sequences)"
    )


class PrivateTraining:
    """A run's DP-SGD: the :class:`PerSampleClipper` the training module calls and its accounting."""

    def __init__(self, settings: PrivacySettings, clipper: PerSampleClipper, unit: str, samples: int, batch: int):
        self.settings, self.clipper, self.unit = settings, clipper, unit
        self.samples, self.batch_size = samples, batch
        self.sample_rate = min(1.0, batch / max(samples, 1))

    def facts(self, steps: int) -> dict[str, Any]:
        """What ``results.json`` keeps under ``privacy`` after ``steps`` optimizer steps."""
        s = self.settings
        epsilon = spent_epsilon(self.clipper.sigma, self.sample_rate, steps, s.delta)
        return {
            "epsilon": round(epsilon, 4),
            "delta": s.delta,
            "unit": self.unit,
            "target_epsilon": s.epsilon,
            "noise_multiplier": round(self.clipper.sigma, 4),
            "max_grad_norm": s.max_grad_norm,
            "sample_rate": self.sample_rate,
            "steps": int(steps),
            "samples": int(self.samples),
            "clipped_fraction": round(self.clipper.clipped / max(self.clipper.samples, 1), 4),
            "accountant": "rdp (opacus)",
            "mechanism": "dp-sgd: per-sample clipping, gaussian noise; shuffled fixed-size batches",
        }


def private_training(cfg: DictConfig, model: Any, batches: Any, model_name: str, seed: int) -> PrivateTraining | None:
    """DP-SGD for this run, or ``None`` without ``trainer.privacy``; every refusal (a target epsilon no
    noise level meets, a model or batch stream it cannot handle) is one line, before the first step."""
    settings = read_settings(cfg)
    if settings is None:
        return None
    t = cfg.trainer
    unit, group, samples = privacy_unit(batches, model_name)
    batch = int(t.batch_size)
    per_epoch = -(-samples // batch)
    limit = OmegaConf.select(t, "limit_train_batches", default=None)
    if isinstance(limit, int) and not isinstance(limit, bool):
        per_epoch = min(per_epoch, limit)
    steps = int(t.max_epochs) * per_epoch
    sigma = settings.noise_multiplier
    if sigma is None:
        assert settings.epsilon is not None
        sigma = noise_for_epsilon(settings.epsilon, settings.delta, min(1.0, batch / samples), steps, samples)
    clipper = PerSampleClipper(model, settings.max_grad_norm, sigma, batch, group=group, seed=seed)
    return PrivateTraining(settings, clipper, unit, samples, batch)
