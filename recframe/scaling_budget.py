"""The scaling sweep's budget rule and memory prediction: one-line errors before training starts.

A config with a ``scaling`` block (``conf/experiment/balance/scaling*.yaml``) declares::

    scaling:
      budget: {rule: epochs | flops, train_flops: <FLOPs per job, for the flops rule>}
      memory_check: true
      memory_limit_gb: null     # null: the training device's free memory
      optimizer_states: 2       # numbers the optimiser keeps per parameter (Adam: 2)

Three checks, each as early as its inputs allow:

* :func:`check_budget_rule` (config only; called by ``recframe.config.validate``, so a sweep's
  every value is checked before its first job): the rule is known; under ``epochs`` early stopping
  can end training before the epoch cap (``trainer.patience < trainer.max_epochs``), else "to
  convergence" cannot be met; under ``flops`` the budget is a positive number.
* :func:`predicted_parameter_bytes` (after the split, before the model is built): the model is
  built on torch's ``meta`` device (shapes only, no memory), its parameters counted, and weights,
  gradients and optimiser states (``4 * (2 + optimizer_states)`` bytes a parameter in float32)
  compared with the limit.
* :func:`activation_bytes` and :func:`epochs_for_budget` (after the model is built, before
  training): the tensors autograd saves for the backward pass of a few training rows, scaled to
  ``trainer.batch_size``, added to the parameter memory; and, under the ``flops`` rule, the epochs
  the budget pays for (the budget over one epoch's FLOPs, :mod:`recframe.training.flops`), an error
  when it does not pay for one.
"""

from __future__ import annotations

from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from recframe.errors import ConfigError

RULES = ("epochs", "flops")
GIB = float(1 << 30)


def scaling_block(cfg: DictConfig) -> dict[str, Any] | None:
    """The config's ``scaling`` block as a dict, or ``None`` when the run is not part of a scaling sweep."""
    block = OmegaConf.select(cfg, "scaling", default=None)
    return None if block is None else dict(cast("dict[str, Any]", OmegaConf.to_container(block, resolve=True)))


def check_budget_rule(cfg: DictConfig) -> None:
    """One-line :class:`ConfigError` when the declared budget rule is unknown or cannot be met."""
    block = scaling_block(cfg)
    if block is None:
        return
    budget = dict(block.get("budget") or {})
    rule = str(budget.get("rule", "epochs"))
    if rule not in RULES:
        raise ConfigError(f"scaling.budget.rule must be one of {', '.join(RULES)}, got {rule!r}")
    max_epochs = int(OmegaConf.select(cfg, "trainer.max_epochs", default=1))
    patience = int(OmegaConf.select(cfg, "trainer.patience", default=0))
    if rule == "epochs" and patience >= max_epochs:
        raise ConfigError(
            f"scaling.budget.rule=epochs trains each size to convergence (early stopping), but trainer.patience "
            f"({patience}) >= trainer.max_epochs ({max_epochs}) so it can never stop early; lower trainer.patience "
            f"or raise trainer.max_epochs"
        )
    if rule == "flops":
        flops = budget.get("train_flops")
        if not isinstance(flops, (int, float)) or isinstance(flops, bool) or not flops > 0:
            raise ConfigError(
                f"scaling.budget.rule=flops needs scaling.budget.train_flops, a positive number of training "
                f"FLOPs per job (e.g. 1e15), got {flops!r}"
            )
    limit = block.get("memory_limit_gb")
    if limit is not None and (not isinstance(limit, (int, float)) or not limit > 0):
        raise ConfigError(f"scaling.memory_limit_gb must be a positive number of GiB or null, got {limit!r}")
    states = block.get("optimizer_states", 2)
    if not isinstance(states, int) or isinstance(states, bool) or states < 0:
        raise ConfigError(f"scaling.optimizer_states must be a non-negative integer, got {states!r}")


def memory_limit(cfg: DictConfig, block: dict[str, Any]) -> tuple[int, str]:
    """``(bytes, where the figure comes from)``: the declared limit, the GPU's free memory, or the host's."""
    if block.get("memory_limit_gb") is not None:
        return int(float(block["memory_limit_gb"]) * GIB), "scaling.memory_limit_gb"
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu"))
    if accelerator in ("gpu", "cuda", "auto"):
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info()[0]), "the GPU's free memory"
    from recframe.memory import available_bytes

    return available_bytes(), "available memory"


def bytes_per_parameter(block: dict[str, Any]) -> int:
    """float32 weight, gradient and each optimiser state."""
    return 4 * (2 + int(block.get("optimizer_states", 2)))


def predicted_parameter_bytes(factory: Any, name: str, params: dict[str, Any], info: Any) -> tuple[int, int] | None:
    """``(parameters, training bytes)`` of the model built on the ``meta`` device (no memory used).

    ``None`` when the model cannot be built there (a constructor that computes from data values);
    the activation check after the real build still runs.
    """
    import torch

    from recframe.factory import build

    try:
        with torch.device("meta"):
            model = build(factory, "model", name, dict(params), info)
    except ConfigError:
        raise
    except Exception:  # a constructor that needs real values: no prediction, not an error
        return None
    n = sum(p.numel() for p in model.parameters())
    return n, n


def check_fits(what: str, need: int, limit: int, source: str, fix: str) -> None:
    if need > limit:
        raise ConfigError(
            f"{what} needs about {need / GIB:.2f} GiB to train, more than the {limit / GIB:.2f} GiB of {source}; {fix}"
        )


def activation_bytes(model: Any, loss: Any, batch: dict[str, Any], batch_size: int, rows: int = 8) -> int:
    """Bytes autograd saves for the backward pass of ``batch_size`` rows, measured on ``rows`` rows of
    ``batch`` (every tensor sliced on its first dimension) and scaled linearly."""
    import torch

    n = len(batch["user"]) if "user" in batch else len(next(iter(batch.values())))
    take = max(1, min(rows, n))
    small = {k: v[:take] if isinstance(v, torch.Tensor) and v.dim() and len(v) == n else v for k, v in batch.items()}
    seen: dict[tuple[int, tuple[int, ...]], int] = {}  # (address, shape) -> bytes: a tensor saved twice counts once

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[(t.data_ptr(), tuple(t.shape))] = t.numel() * t.element_size()
        return t

    was_training = model.training
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            outputs = model(small)
            if getattr(loss, "needs_all_scores", False):
                outputs["all_scores"] = model.training_all_scores(outputs, small)
            loss(outputs, small)
    finally:
        model.train(was_training)
    params = {p.data_ptr() for p in model.parameters()}
    saved = sum(b for (ptr, _), b in seen.items() if ptr not in params)  # weights are counted with the parameters
    return int(saved * batch_size / take)


def epochs_for_budget(budget_flops: float, flops_per_epoch: int, model_name: str) -> int:
    """Whole epochs ``budget_flops`` pays for; a one-line error when it does not pay for one."""
    if flops_per_epoch <= 0:
        raise ConfigError(
            f"model '{model_name}': its training FLOPs could not be counted, so the flops budget rule "
            f"cannot be applied; use scaling.budget.rule=epochs"
        )
    epochs = int(budget_flops // flops_per_epoch)
    if epochs < 1:
        raise ConfigError(
            f"scaling.budget.train_flops={budget_flops:.3g} cannot be met by model '{model_name}': one epoch needs "
            f"{flops_per_epoch:.3g} FLOPs; raise the budget or drop this size from the sweep"
        )
    return epochs
