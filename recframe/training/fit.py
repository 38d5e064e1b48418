"""Fitting a gradient-trained model with Lightning, keeping the best checkpoint by the valid metric.

Checkpoints go to ``<run_dir>/checkpoints``: ``best.ckpt`` (by ``valid/<protocol.valid_metric>``) and
``last.ckpt``, from which ``resume=true`` continues a killed run. Logs go to CSV under
``<run_dir>/logs`` by default, to TensorBoard with ``logger=tensorboard``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from recframe.checkpoints import load_checkpoint
from recframe.errors import ConfigError
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.models import Loss, Recommender
from recframe.run_state import move_aside
from recframe.training.batches import InteractionBatches, UserBatches, UserRowBatches
from recframe.training.checkpoint_io import SafeCheckpointIO
from recframe.training.grouping import BatchGroups
from recframe.training.module import STOP_REASONS, RecframeModule, stop_reason
from recframe.training.sampling import NegativeSampler
from recframe.training.sequences import SequenceBatches

log = logging.getLogger(__name__)


def _logger(cfg: DictConfig, run_dir: Path) -> Any:
    from recframe.training.loggers import build_logger  # csv, tensorboard, mlflow, wandb, none

    return build_logger(cfg, run_dir)


def training_batches(model: Recommender, train: Any, t: DictConfig, seed: int) -> Any:
    """The batch stream a model's ``batch_kind`` asks for."""
    if model.batch_kind == "listwise":
        per = str(OmegaConf.select(t, "listwise_batches", default="users") or "users")
        if per not in ("users", "interactions"):
            raise ConfigError(f"trainer.listwise_batches must be 'users' or 'interactions', got {per!r}")
        return UserRowBatches(train, t.batch_size, seed, per=per)
    from recframe.training.compiled_options import COMPILED_OPTIMIZERS

    if str(t.optimizer).lower() in COMPILED_OPTIMIZERS:  # slices of pairs for the compiled BPR-SGD epoch
        from recframe.training.compiled_epoch import compiled_stream

        return compiled_stream(train, t, seed)
    if model.batch_kind in ("pairwise", "pointwise"):
        positives = str(OmegaConf.select(t, "positive_sampling", default="interactions") or "interactions")
        sampler = NegativeSampler(train, distribution=str(t.negative_sampling))
        return InteractionBatches(
            train, model.batch_kind, t.batch_size, t.num_negatives, sampler, seed, positives=positives
        )
    if model.batch_kind == "sequence":
        max_len = getattr(model, "max_len", None)
        if max_len is None:
            raise ConfigError(
                f"model '{type(model).__name__}' trains on sequence batches but has no max_len "
                f"attribute; give the model a max_len (the longest input sequence)"
            )
        sampler = NegativeSampler(train, distribution=str(t.negative_sampling))
        return SequenceBatches(train, t.batch_size, int(max_len), t.num_negatives, sampler, seed)
    raise ConfigError(
        f"model '{type(model).__name__}' trains on '{model.batch_kind}' batches, which recframe "
        f"cannot build yet (pairwise, pointwise, listwise, sequence)"
    )


def _strategy(t: DictConfig) -> Any:
    """``trainer.strategy``; ``ddp`` on CPU is gloo with processes started by fork (see docs/sweeps.md)."""
    name = str(OmegaConf.select(t, "strategy", default="auto") or "auto")
    if name in ("ddp", "ddp_fork") and str(t.accelerator) == "cpu":
        from lightning.pytorch.strategies import DDPStrategy

        # popen (Lightning's default for ddp) would re-run the recframe command line in each process
        return DDPStrategy(process_group_backend="gloo", start_method="fork")
    return name


def batches_per_step(t: DictConfig) -> int:
    """``trainer.batches_per_step``: mini-batches per Lightning ``training_step`` (see ``grouping``).

    1 (Lightning's automatic optimisation, one step per mini-batch) whenever
    ``trainer.limit_train_batches`` is set, so that its count keeps meaning mini-batches.
    """
    value = OmegaConf.select(t, "batches_per_step", default=None)
    k = 1 if value is None else value
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"trainer.batches_per_step must be >= 1, got {k}")
    return 1 if t.limit_train_batches is not None else k


def lightning_trainer(**kwargs: Any) -> Any:
    """``lightning.pytorch.Trainer(**kwargs)``; settings Lightning rejects (an accelerator or device list this
    machine lacks, an unknown strategy) become one :class:`ConfigError` line naming the trainer keys."""
    import lightning.pytorch as pl
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return pl.Trainer(**kwargs)
    except (MisconfigurationException, ValueError, RuntimeError, TypeError, ImportError) as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        keys = ", ".join(f"trainer.{k}={kwargs.get(k)!r}" for k in ("accelerator", "devices", "strategy", "precision"))
        raise ConfigError(f"Lightning rejected the trainer settings ({keys}): {first}") from None


def training_options(t: DictConfig, batches: Any, monitor: str) -> dict[str, Any]:
    """``RecframeModule``'s ``scheduler``, ``clip`` and ``schedule`` arguments from ``trainer.scheduler``,
    ``trainer.gradient_clip_val``/``gradient_clip_algorithm`` and the run's length (see schedulers.py)."""
    spec = OmegaConf.select(t, "scheduler", default=None)
    scheduler: Any = OmegaConf.to_container(spec, resolve=True) if spec is not None else None
    if scheduler is not None and str(scheduler.get("name", "none")) == "none":
        scheduler = None
    bound = OmegaConf.select(t, "gradient_clip_val", default=None)
    algorithm = str(OmegaConf.select(t, "gradient_clip_algorithm", default="norm") or "norm")
    try:
        steps = len(batches)  # mini-batches per epoch
    except TypeError:  # a stream without a length: the schedulers count one step an epoch
        steps = 1
    limit = t.limit_train_batches
    if isinstance(limit, int) and not isinstance(limit, bool):
        steps = min(steps, limit)
    elif isinstance(limit, float):
        steps = max(1, int(steps * limit))
    return {
        "scheduler": scheduler,
        "clip": None if bound is None else (float(bound), algorithm),
        "schedule": {"max_epochs": int(t.max_epochs), "steps_per_epoch": int(steps), "monitor": monitor},
    }


def fit_torch_model(
    cfg: DictConfig,
    run_dir: Path,
    model: Recommender,
    loss: Loss,
    split: Any,
    evaluator: RankingEvaluator,
    valid_target: RankingTarget,
    seed: int,
    batches: Any = None,
) -> dict[str, Any]:
    """Train ``model`` in place; load the best validation checkpoint into it. Returns fit facts.

    ``batches`` is the training batch stream when the protocol fixes it (labelled records under
    ``protocol.ranking: none``); by default the stream the model's ``batch_kind`` asks for.
    """
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    t = cfg.trainer
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # device banners and tips
    kind = getattr(batches, "kind", model.batch_kind)
    if kind not in loss.batch_kinds:
        raise ConfigError(
            f"loss '{cfg.loss.name}' works on {', '.join(loss.batch_kinds)} batches, but model "
            f"'{cfg.model.name}' trains on {kind} batches; choose another loss=..."
        )
    if batches is None:
        batches = training_batches(model, split.train, t, seed)
    monitor = f"valid/{cfg.protocol.valid_metric}"
    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    resume_from = str(last) if cfg.resume and last.is_file() else None
    if cfg.resume and resume_from is None:
        log.warning("resume=true but %s does not exist; training from scratch", last)
    if resume_from is not None:
        load_checkpoint(resume_from, "resume=true")  # refuse a damaged or crafted file in one line, up front
    elif ckpt_dir.exists():  # a previous run's checkpoints: kept aside until this run has its own
        move_aside(ckpt_dir)
    validates = len(valid_target.users) > 0
    if validates:
        checkpoint = ModelCheckpoint(
            dirpath=str(ckpt_dir),
            filename="best",
            monitor=monitor,
            mode="max",
            save_last=True,
            save_top_k=1,
            auto_insert_metric_name=False,
        )
        callbacks = [
            checkpoint,
            EarlyStopping(monitor=monitor, mode="max", patience=int(t.patience), check_finite=False),
        ]
    else:  # no validation part (e.g. data.valid=none): train trainer.max_epochs and keep the last model
        log.info("no validation interactions: training %d epochs without model selection", int(t.max_epochs))
        checkpoint = ModelCheckpoint(
            dirpath=str(ckpt_dir), filename="best", save_last=True, auto_insert_metric_name=False
        )
        callbacks = [checkpoint]
    if OmegaConf.select(cfg, "trial.id", default=None) is not None:  # launched by the Optuna sweeper
        from recframe.sweeps.pruning import pruning_callbacks

        callbacks += pruning_callbacks(cfg)
    from recframe.training.compiled_epoch import CompiledEpochModule, is_compiled

    compiled = is_compiled(t)  # trainer.optimizer=*_compiled: one kernel pass per slice of pairs
    per_step = 1 if compiled else batches_per_step(t)
    from recframe.training.user_callbacks import build_user_callbacks

    callbacks += build_user_callbacks(cfg)
    options = training_options(t, batches, monitor)
    from recframe.privacy.dpsgd import private_training  # trainer.privacy: DP-SGD (docs/privacy.md)

    privacy = private_training(cfg, model, batches, str(cfg.model.name), seed)
    module = (CompiledEpochModule if compiled else RecframeModule)(
        model,
        loss,
        {"optimizer": t.optimizer, "lr": t.lr, "weight_decay": t.weight_decay},
        evaluator,
        valid_target,
        batches,
        batches_per_step=per_step,
        privacy=privacy,
        **options,
    )
    clip = options["clip"]
    trainer = lightning_trainer(
        max_epochs=int(t.max_epochs),
        max_time=OmegaConf.select(t, "max_time", default=None),
        accelerator=str(t.accelerator),
        devices=t.devices,
        strategy=_strategy(t),
        precision=t.precision,
        logger=_logger(cfg, run_dir),
        callbacks=callbacks,
        enable_progress_bar=bool(t.progress_bar),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        check_val_every_n_epoch=int(t.eval_every),
        deterministic=bool(t.deterministic),
        limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches,
        default_root_dir=str(run_dir),
        log_every_n_steps=1,
        plugins=[SafeCheckpointIO()],
        # manual optimisation (batches_per_step > 1, DP-SGD) clips in RecframeModule.training_step instead
        gradient_clip_val=clip[0] if clip is not None and module.automatic_optimization else None,
        gradient_clip_algorithm=clip[1] if clip is not None and module.automatic_optimization else None,
    )
    train_loader = DataLoader(batches if per_step == 1 else BatchGroups(batches, per_step), batch_size=None)
    valid_loader = DataLoader(UserBatches(valid_target.users, t.eval_batch_users), batch_size=None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*IterableDataset.*__len__.*")
        warnings.filterwarnings("ignore", message=".*treespec.*")
        warnings.filterwarnings("ignore", message=".*validation_step.*no `val_dataloader`.*")
        warnings.filterwarnings("ignore", message=".*sync_dist=True.*")  # DDP: metrics are synced by torchmetrics
        warnings.filterwarnings("ignore", message=".*lr scheduler dict contains the key.*")  # manual: module steps it
        trainer.fit(
            module,
            train_dataloaders=train_loader,
            val_dataloaders=valid_loader if validates else None,
            ckpt_path=resume_from,
            weights_only=True,
        )
    best = checkpoint.best_model_path
    if best and Path(best).is_file():
        module.load_state_dict(load_checkpoint(best, "best checkpoint")["state_dict"])
    best_score = checkpoint.best_model_score
    epochs = int(trainer.current_epoch)
    if trainer.world_size > 1:  # DDP processes were started for fit: read their outcome back
        epochs = int(trainer.callback_metrics.get("epochs_run", epochs))
        if best_score is None and best and Path(best).is_file():
            saved = load_checkpoint(best, "best checkpoint").get("callbacks", {})
            best_score = next(
                (
                    v["best_model_score"]
                    for k, v in saved.items()
                    if k.startswith("ModelCheckpoint") and v.get("best_model_score") is not None
                ),
                None,
            )
    steps, reason = int(trainer.global_step), stop_reason(trainer)
    if trainer.world_size > 1:  # the workers trained: their step count and stop reason came back as metrics
        metrics = trainer.callback_metrics
        steps = int(metrics.get("optimizer_steps", steps))
        reason = STOP_REASONS[int(metrics["stop_reason"])] if "stop_reason" in metrics else reason
    if privacy is not None:
        privacy.clipper.remove()
    if isinstance(module, CompiledEpochModule) and trainer.world_size == 1:
        steps = int(module.sgd_updates)  # SGD updates, one per training pair
    return {
        "optimizer": str(t.optimizer),
        **({"compiled_epoch": module.fit_facts()} if isinstance(module, CompiledEpochModule) else {}),
        **({} if privacy is None else {"privacy": privacy.facts(steps)}),
        "epochs": epochs,
        "optimizer_steps": steps,
        "stopped_by": reason,
        "train_device": str(trainer.strategy.root_device),
        "best_checkpoint": best or None,
        "best_valid": None if best_score is None else float(best_score),
        "resumed_from": resume_from,
    }
