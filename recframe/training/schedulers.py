"""Learning-rate schedulers from ``trainer.scheduler`` (the config group ``trainer/scheduler``).

Each name maps to one ``torch.optim.lr_scheduler`` class; the learning rate it starts from is
``trainer.lr``:

* ``step``: ``StepLR``, the rate times ``gamma`` every ``step_size`` intervals;
* ``cosine``: ``CosineAnnealingLR`` from ``trainer.lr`` down to ``eta_min`` over ``t_max`` intervals
  (null: the whole run, ``trainer.max_epochs`` epochs or their optimizer steps);
* ``onecycle``: ``OneCycleLR`` (Smith & Topin, 2019): warm-up to ``max_lr`` (null: ``trainer.lr``) for
  ``pct_start`` of the run's optimizer steps, then annealing; stepped every optimizer step;
* ``warmup``: ``LinearLR``, the rate rising linearly from ``start_factor x trainer.lr`` to ``trainer.lr``
  over ``warmup_steps`` optimizer steps, constant afterwards;
* ``plateau``: ``ReduceLROnPlateau`` on ``valid/<protocol.valid_metric>`` (mode max): the rate times
  ``factor`` after ``patience`` validations without improvement, never below ``min_lr``.

``interval`` is ``epoch`` or ``step`` (one optimizer step, i.e. one mini-batch). The scheduler's state is
saved in the checkpoints, so ``resume=true`` continues the schedule. Lightning steps the scheduler under
its automatic optimisation; with grouped mini-batches (``trainer.batches_per_step > 1``, manual
optimisation) :class:`recframe.training.module.RecframeModule` steps it at the same points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from recframe.training.schedule_options import SCHEDULERS, check_scheduler


def interval_of(spec: Mapping[str, Any]) -> str:
    """``epoch`` or ``step``: when the scheduler of ``spec`` steps (its default when not given)."""
    name = str(spec.get("name", "none"))
    return str(spec.get("interval") or SCHEDULERS[name][1][0])


def build_scheduler(
    spec: Mapping[str, Any] | None,
    optimizer: torch.optim.Optimizer,
    *,
    lr: float,
    max_epochs: int,
    steps_per_epoch: int,
    monitor: str,
) -> dict[str, Any] | None:
    """The Lightning scheduler config (``{"scheduler", "interval", "frequency", "monitor", ...}``) for
    ``spec``, or ``None`` for no scheduler.

    Args:
        spec: ``trainer.scheduler`` as a plain mapping.
        optimizer: the optimizer whose rate is scheduled.
        lr: ``trainer.lr``, the starting rate.
        max_epochs: ``trainer.max_epochs`` (the run's length, for ``cosine`` and ``onecycle``).
        steps_per_epoch: optimizer steps an epoch (mini-batches).
        monitor: ``valid/<protocol.valid_metric>``, what ``plateau`` watches.
    """
    if spec is None or str(spec.get("name", "none")) == "none":
        return None
    check_scheduler(spec)
    name, interval = str(spec["name"]), interval_of(spec)
    sched = torch.optim.lr_scheduler
    run_length = max_epochs if interval == "epoch" else max_epochs * max(1, steps_per_epoch)
    scheduler: Any
    if name == "step":
        scheduler = sched.StepLR(
            optimizer, step_size=int(spec.get("step_size", 10)), gamma=float(spec.get("gamma", 0.1))
        )
    elif name == "cosine":
        t_max = spec.get("t_max") or run_length
        scheduler = sched.CosineAnnealingLR(optimizer, T_max=int(t_max), eta_min=float(spec.get("eta_min", 0.0)))
    elif name == "onecycle":
        scheduler = sched.OneCycleLR(
            optimizer,
            max_lr=float(spec.get("max_lr") or lr),
            total_steps=int(run_length),
            pct_start=float(spec.get("pct_start", 0.3)),
            anneal_strategy="linear" if spec.get("anneal_strategy") == "linear" else "cos",
            div_factor=float(spec.get("div_factor", 25.0)),
            final_div_factor=float(spec.get("final_div_factor", 1e4)),
            cycle_momentum=False,  # Adam has betas, SGD may have no momentum: the rate alone is scheduled
        )
    elif name == "warmup":
        scheduler = sched.LinearLR(
            optimizer,
            start_factor=float(spec.get("start_factor", 0.01)),
            end_factor=1.0,
            total_iters=int(spec.get("warmup_steps", 1000)),
        )
    else:  # plateau
        scheduler = sched.ReduceLROnPlateau(
            optimizer,
            mode="max",
            factor=float(spec.get("factor", 0.5)),
            patience=int(spec.get("patience", 2)),
            threshold=float(spec.get("threshold", 1e-4)),
            min_lr=float(spec.get("min_lr", 0.0)),
        )
    config: dict[str, Any] = {"scheduler": scheduler, "interval": interval, "frequency": 1, "name": "lr"}
    if name == "plateau":  # validation may skip epochs (trainer.eval_every): plateau then waits for the next
        config.update(monitor=monitor, strict=False)
    return config


def step_scheduler(scheduler: Any, metric: float | None = None) -> None:
    """One step of ``scheduler``; ``ReduceLROnPlateau`` takes the monitored ``metric``. A ``OneCycleLR``
    past its planned steps (a resumed run given more epochs) keeps its final rate instead of failing."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        if metric is not None:
            scheduler.step(metric)
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR) and scheduler.last_epoch >= scheduler.total_steps:
        return
    scheduler.step()
