"""Pruning from inside a job: the trial is rebuilt from the config and told each epoch's metric.

The Optuna sweeper passes ``trial.study``, ``trial.storage`` and ``trial.id`` to every job it
launches. The job opens the same storage, rebuilds ``optuna.trial.Trial(study, trial_id)`` (the
pruner comes from the study's ``recframe`` user attribute, so the job prunes exactly as the sweeper
was configured) and :class:`OptunaPruning` reports the objective after every validation; when the
pruner says so it raises ``optuna.TrialPruned``, which ends the job, and the sweeper records the
trial as PRUNED. This works with any launcher whose workers reach the storage (SQLite on a shared
disk, PostgreSQL, a journal file).
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
from omegaconf import DictConfig, OmegaConf

STUDY_ATTR = "recframe"  # study user attribute: {"objectives": [...], "directions": [...], "pruner": spec}


def trial_info(cfg: DictConfig) -> dict[str, Any] | None:
    """``{"study", "storage", "id", "number"}`` when the job was launched by the sweeper, else None."""
    node = OmegaConf.select(cfg, "trial", default=None)
    if node is None or OmegaConf.select(node, "id", default=None) is None:
        return None
    return OmegaConf.to_container(node, resolve=True)


def load_trial(info: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The live ``optuna.trial.Trial`` for ``info`` and the study's recframe attributes."""
    import optuna

    from recframe.sweeps.samplers import make_pruner
    from recframe.sweeps.storage import open_storage

    storage = open_storage(str(info["storage"]))
    probe = optuna.load_study(study_name=str(info["study"]), storage=storage, sampler=optuna.samplers.RandomSampler())
    attrs = probe.user_attrs.get(STUDY_ATTR, {})
    study = optuna.load_study(
        study_name=str(info["study"]),
        storage=storage,
        sampler=optuna.samplers.RandomSampler(),
        pruner=make_pruner(attrs.get("pruner")),
    )
    return optuna.trial.Trial(study, int(info["id"])), attrs


class OptunaPruning(pl.Callback):
    """Report ``monitor`` to ``trial`` after each validation and stop the trial if it is pruned."""

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        epoch = int(trainer.current_epoch)
        should_prune = False
        if trainer.is_global_zero:
            if math.isfinite(value):
                self.trial.report(value, step=epoch)
            should_prune = self.trial.should_prune()
        should_prune = trainer.strategy.broadcast(should_prune)
        if should_prune:
            import optuna

            raise optuna.TrialPruned(f"trial {self.trial.number} pruned at epoch {epoch} ({self.monitor}={value:.4f})")


def pruning_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """The pruning callback for a sweeper-launched job of a single-objective study, else nothing."""
    info = trial_info(cfg)
    if info is None:
        return []
    if "ddp" in str(OmegaConf.select(cfg, "trainer.strategy", default="auto")):
        import logging

        # forked DDP processes must not share the storage connection; the trial still runs, unpruned
        logging.getLogger(__name__).warning("pruning is off for trial %s: it trains with DDP", info.get("number"))
        return []
    trial, attrs = load_trial(info)
    objectives = attrs.get("objectives") or []
    if len(objectives) != 1 or attrs.get("pruner") is None:
        return []
    key = objectives[0]
    key = key[len("metrics.") :] if key.startswith("metrics.") else key
    if not key.startswith("valid/"):
        return []  # only per-epoch validation metrics can be reported
    return [OptunaPruning(trial, key)]
