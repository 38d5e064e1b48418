"""The LightningModule that trains any gradient-based recframe model.

It owns nothing model-specific: the model turns a batch into outputs, the loss turns outputs into a
scalar, and validation runs the same full-ranking evaluator as the final evaluation, so the metric
that picks the best checkpoint is exactly the one reported.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from recframe.errors import TrainingError
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.models import Loss, Recommender
from recframe.training.sparse_optim import SPARSE_OPTIMIZERS, sparse_optimizer


def fused_kwargs(params: list[torch.nn.Parameter]) -> dict[str, bool]:
    """``{"fused": True}`` when Adam's fused kernel applies (floating parameters on CPU or CUDA).

    The fused kernel does the same update in one pass per tensor instead of a dozen elementwise ops;
    a BPR-MF step on ML-1M takes ~20% less CPU time. Other devices keep the default implementation.
    """
    ok = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return {"fused": True} if ok else {}


STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def step_hooks_are_noops(trainer: Any, module: pl.LightningModule) -> bool:
    """Whether Lightning's work around each backward and optimizer step (under manual
    optimisation) amounts to ``loss.backward()``, ``optimizer.step()`` and its step counter.

    True when the strategy is Lightning's single-device one, the precision plugin is the plain
    full-precision one (no loss scaling), gradients are not clipped, and neither a callback nor
    ``module`` overrides the hooks of :data:`STEP_HOOKS` or ``backward``. Then each hook call is a
    callback loop with profiler sections that does nothing, and skipping them saves ~0.2 ms a
    mini-batch (~30-40 ms of a ~0.4 s BPR-MF epoch on ML-1M). Mixed precision, DDP, gradient
    clipping or any callback that listens keeps Lightning's path.
    """
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.plugins.precision import Precision
    from lightning.pytorch.strategies import SingleDeviceStrategy

    strategy = getattr(trainer, "strategy", None)
    if type(strategy) is not SingleDeviceStrategy or type(strategy.precision_plugin) is not Precision:
        return False
    if getattr(trainer, "gradient_clip_val", None):
        return False
    if any(getattr(type(cb), hook) is not getattr(Callback, hook) for cb in trainer.callbacks for hook in STEP_HOOKS):
        return False
    return all(getattr(type(module), hook) is getattr(pl.LightningModule, hook) for hook in (*STEP_HOOKS, "backward"))


STOP_REASONS = ("max_epochs", "early_stopping", "max_time", "interrupted")


def stop_reason(trainer: Any) -> str:
    """Why training ended: one of :data:`STOP_REASONS`.

    Early stopping when it triggered; the epoch budget when every epoch ran (even if the clock ran
    out during the last validation); ``max_time`` when the clock ended it earlier.
    """
    from lightning.pytorch.callbacks import EarlyStopping, Timer

    if trainer.interrupted:
        return "interrupted"
    if any(isinstance(cb, EarlyStopping) and cb.stopped_epoch > 0 for cb in trainer.callbacks):
        return "early_stopping"
    if trainer.max_epochs is not None and trainer.current_epoch >= trainer.max_epochs:
        return "max_epochs"
    if any(isinstance(cb, Timer) and (cb.time_remaining("train") or 0.0) <= 0.0 for cb in trainer.callbacks):
        return "max_time"
    return "max_epochs"


class RecframeModule(pl.LightningModule):
    """Wraps a :class:`Recommender` and a :class:`Loss` for Lightning.

    Args:
        model: the recommender.
        loss: the loss (``None`` for closed-form models, which never reach Lightning).
        optim: ``{"optimizer": "adam"|"sgd"|"adamw"|"adagrad"|"sparse_adam"|"sparse_sgd"|"sparse_adagrad",
            "lr": float, "weight_decay": float}``.
        evaluator: the validation evaluator; its metrics are logged as ``valid/<key>``.
        valid_target: what validation ranks.
        train_batches: the training dataset (its epoch is set for reproducible resumes).
        batches_per_step: mini-batches per ``training_step`` (> 1: manual optimisation, one step each).
        scheduler: ``trainer.scheduler`` as a plain mapping, or ``None`` (recframe/training/schedulers.py).
        clip: ``(trainer.gradient_clip_val, trainer.gradient_clip_algorithm)`` or ``None``; under manual
            optimisation the gradients are clipped here before each step (Lightning's ``Trainer`` clips
            them under automatic optimisation).
        schedule: ``{"max_epochs": int, "steps_per_epoch": int, "monitor": str}``, the run's length and
            validation metric, which the schedulers need.
        privacy: DP-SGD (:class:`recframe.privacy.dpsgd.PrivateTraining`) or ``None``; it replaces
            each mini-batch's backward by clipped, noised per-sample gradients (manual optimisation).
    """

    def __init__(
        self,
        model: Recommender,
        loss: Loss,
        optim: dict[str, Any],
        evaluator: RankingEvaluator,
        valid_target: RankingTarget,
        train_batches: Any = None,
        batches_per_step: int = 1,
        privacy: Any = None,
        scheduler: dict[str, Any] | None = None,
        clip: tuple[float, str] | None = None,
        schedule: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.scheduler_spec, self.clip = scheduler, clip
        self.schedule = dict(schedule or {"max_epochs": 1, "steps_per_epoch": 1, "monitor": "valid/none"})
        self.model, self.loss, self.optim = model, loss, dict(optim)
        self.evaluator, self.valid_target, self.train_batches = evaluator, valid_target, train_batches
        # > 1: training_step receives lists of mini-batches (recframe.training.grouping.BatchGroups)
        # and steps the optimizer once per mini-batch itself
        self.batches_per_step = int(batches_per_step)
        self.privacy = privacy
        self.automatic_optimization = self.batches_per_step == 1 and privacy is None
        self.plain_steps = False  # decided when training starts (step_hooks_are_noops)
        self.needs_all_scores = bool(getattr(loss, "needs_all_scores", False))
        self.epoch_loss: Tensor | None = None  # grouped steps: sum over mini-batches of loss x rows
        self.epoch_rows = 0

    def on_train_end(self) -> None:
        """Leave the stop reason and the optimizer steps in ``callback_metrics``, the one thing a DDP
        worker hands back to the launching process (``fit_torch_model`` reads them there)."""
        metrics = self.trainer.callback_metrics
        metrics["stop_reason"] = torch.tensor(float(STOP_REASONS.index(stop_reason(self.trainer))))
        metrics["optimizer_steps"] = torch.tensor(float(self.trainer.global_step))

    def on_train_start(self) -> None:
        self.plain_steps = not self.automatic_optimization and step_hooks_are_noops(self.trainer, self)

    def _manual_scheduler(self, interval: str) -> Any:
        """The scheduler that manual optimisation must step at ``interval`` (Lightning steps it otherwise)."""
        if self.automatic_optimization or self.scheduler_spec is None or self._trainer is None:
            return None
        configs = self.trainer.lr_scheduler_configs
        return configs[0].scheduler if configs and configs[0].interval == interval else None

    def on_train_epoch_start(self) -> None:
        if self.train_batches is not None and hasattr(self.train_batches, "set_epoch"):
            self.train_batches.set_epoch(self.current_epoch)
        self.epoch_loss, self.epoch_rows = None, 0

    def on_train_epoch_end(self) -> None:
        if self.epoch_rows:  # grouped steps log the epoch's row-weighted mean once (self.log costs ~2 ms)
            self.log("train/loss", (self.epoch_loss / self.epoch_rows).float(), prog_bar=True, on_epoch=True)
        scheduler = self._manual_scheduler("epoch")
        if scheduler is not None:  # ReduceLROnPlateau steps after validation instead
            from recframe.training.schedulers import step_scheduler

            step_scheduler(scheduler)
        # epochs trained, for processes started by DDP (their trainer's state stays in them)
        self.log("epochs_run", float(self.current_epoch + 1), logger=False, on_epoch=True, batch_size=1)

    def _shard(self, items: Any) -> Any:
        """This process's share (every ``world_size``-th row) under DDP; everything in one process.

        Every process builds the same batches (same seed), so the shards of one step make up exactly
        the batch a single process would train on, and DDP's averaged gradient is its gradient.
        """
        world = int(getattr(self.trainer, "world_size", 1) or 1) if self._trainer is not None else 1
        if world == 1:
            return items
        rank = int(self.trainer.global_rank)
        if isinstance(items, dict):
            n = len(items["user"])
            return {
                k: v[rank::world] if torch.is_tensor(v) and v.dim() and len(v) == n else v for k, v in items.items()
            }
        return items[rank::world]

    def batch_loss(self, batch: dict[str, Tensor], batch_idx: int) -> tuple[Tensor, int]:
        """The training loss (a scalar) of one mini-batch and its rows, for this process's shard under DDP."""
        batch = self._shard(batch)
        outputs = self.model(batch)
        if self.needs_all_scores:
            outputs["all_scores"] = self.model.training_all_scores(outputs, batch)
        loss = self.loss(outputs, batch)
        if "regularization" in outputs:  # a model's own penalty (e.g. embedding L2, a VAE's KL term)
            loss = loss + outputs["regularization"]
        return loss, len(batch["user"])

    def check_finite(self, losses: list[Tensor], first_batch: int) -> None:
        """Raise :class:`TrainingError` naming the first non-finite loss of consecutive mini-batches."""
        for j, loss in enumerate(losses):
            if not math.isfinite(float(loss)):
                raise TrainingError(
                    f"loss became {float(loss)} at epoch {self.current_epoch}, batch "
                    f"{first_batch + j}; lower trainer.lr (now {self.optim['lr']}) or add weight decay"
                )

    def training_step(self, batch: dict[str, Tensor] | list[dict[str, Tensor]], batch_idx: int) -> Tensor | None:
        """One mini-batch (Lightning steps the optimizer), or a list of them (one step each, here).

        With a list the epoch's ``train/loss`` is the same mean over rows as with single batches,
        logged once at the epoch's end. A list's losses are checked for NaN/inf together after its
        last step (one check instead of one per mini-batch); the error names the first bad batch.
        """
        if self.automatic_optimization:
            loss, n = self.batch_loss(batch, batch_idx)
            self.check_finite([loss.detach()], batch_idx)
            self.log("train/loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=n)
            return loss
        optimizer = self.optimizers()
        scheduler = self._manual_scheduler("step")
        losses, rows = [], []
        for j, one in enumerate(batch if isinstance(batch, list) else [batch]):
            with self.privacy.clipper.recording() if self.privacy is not None else nullcontext():
                loss, n = self.batch_loss(one, batch_idx * self.batches_per_step + j)
            optimizer.zero_grad()
            if self.privacy is not None:  # DP-SGD: .grad = clipped per-sample gradients plus noise
                self.privacy.clipper.backward(loss, n)
            elif self.plain_steps:
                loss.backward()
            else:
                self.manual_backward(loss)
            if self.clip is not None:
                self._clip(optimizer)
            if self.plain_steps:
                self._plain_optimizer_step(optimizer)
            else:
                optimizer.step()
            if scheduler is not None:
                from recframe.training.schedulers import step_scheduler

                step_scheduler(scheduler)
            losses.append(loss.detach())
            rows.append(n)
        if losses:
            # summed on the CPU in float64 (MPS has no float64; float() below syncs anyway)
            total = torch.stack(losses).cpu().double() @ torch.tensor(rows, dtype=torch.float64)
            if not math.isfinite(float(total)):
                self.check_finite(losses, batch_idx * self.batches_per_step)
            self.epoch_loss = total if self.epoch_loss is None else self.epoch_loss + total
            self.epoch_rows += sum(rows)
        return None

    def _clip(self, optimizer: Any) -> None:
        """Clip the gradients to ``trainer.gradient_clip_val`` (manual optimisation; Lightning's loop clips its own)."""
        assert self.clip is not None
        self.clip_gradients(optimizer, gradient_clip_val=self.clip[0], gradient_clip_algorithm=self.clip[1])

    @staticmethod
    def _plain_optimizer_step(optimizer: Any) -> None:
        """``optimizer.step()`` without the no-op hooks: the wrapped optimizer's step between the
        step-counter callbacks Lightning's manual loop installs (``global_step`` counts as usual)."""
        before, after = getattr(optimizer, "_on_before_step", None), getattr(optimizer, "_on_after_step", None)
        inner = getattr(optimizer, "optimizer", None)
        if not (callable(before) and callable(after) and inner is not None):  # another Lightning: its own path
            optimizer.step()
            return
        before()
        inner.step()
        after()

    def on_validation_epoch_start(self) -> None:
        self.evaluator.reset()

    def validation_step(self, users: Tensor, batch_idx: int) -> None:
        users = self._shard(users)  # under DDP each process ranks its share; compute() sums the states
        if len(users):
            self.evaluator.update(self.model, users.cpu().numpy(), self.valid_target)

    def on_validation_epoch_end(self) -> None:
        monitored = None
        for key, metric in zip(self.evaluator.keys, self.evaluator.metrics.values()):
            value = metric.compute()
            if not math.isfinite(float(value)):
                continue
            self.log(f"valid/{key}", value.float(), prog_bar=key == self.evaluator.keys[0], sync_dist=False)
            if f"valid/{key}" == self.schedule["monitor"]:
                monitored = float(value)
        plateau = self._manual_scheduler("epoch")  # under manual optimisation: step it on this validation
        if monitored is not None and isinstance(plateau, torch.optim.lr_scheduler.ReduceLROnPlateau):
            plateau.step(monitored)

    def configure_optimizers(self) -> Any:
        """The optimizer of ``trainer.optimizer``, with the scheduler of ``trainer.scheduler`` when one is set."""
        optimizer = self._optimizer()
        if self.scheduler_spec is None:
            return optimizer
        from recframe.training.schedulers import build_scheduler

        config = build_scheduler(
            self.scheduler_spec,
            optimizer,
            lr=float(self.optim["lr"]),
            max_epochs=int(self.schedule["max_epochs"]),
            steps_per_epoch=int(self.schedule["steps_per_epoch"]),
            monitor=str(self.schedule["monitor"]),
        )
        return optimizer if config is None else {"optimizer": optimizer, "lr_scheduler": config}

    def _optimizer(self) -> torch.optim.Optimizer:
        name = str(self.optim.get("optimizer", "adam")).lower()
        lr, wd = float(self.optim["lr"]), float(self.optim.get("weight_decay", 0.0))
        if name in SPARSE_OPTIMIZERS:  # embedding rows touched by the batch only (sparse_optim.py)
            return sparse_optimizer(name, self.model, lr, wd)
        params = list(self.model.parameters())
        if name == "adam":
            return torch.optim.Adam(params, lr=lr, weight_decay=wd, **fused_kwargs(params))
        if name == "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=wd, **fused_kwargs(params))
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr, weight_decay=wd)
        if name == "adagrad":
            return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
        raise TrainingError(
            f"trainer.optimizer '{name}' is not supported (adam, adamw, sgd, adagrad, {', '.join(SPARSE_OPTIMIZERS)})"
        )
