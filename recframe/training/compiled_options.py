"""Plan-time checks of the compiled BPR-SGD epoch (``trainer.optimizer=sgd_compiled|adagrad_compiled``).

Kept free of torch and numba imports, so a wrong setting is a one-line :class:`ConfigError` before any
data is read (:func:`recframe.plan.make_plan` calls :func:`check_compiled_epoch`). The epoch itself is
:mod:`recframe.training.compiled_epoch`.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from recframe.errors import ConfigError

#: ``trainer.optimizer`` values of the compiled epoch, and their update rule
COMPILED_OPTIMIZERS = {"sgd_compiled": "sgd", "adagrad_compiled": "adagrad"}

#: the loss the kernel implements (registered name)
COMPILED_LOSS = "bpr"


def check_compiled_epoch(cfg: DictConfig, model_name: str, model_cls: Any, loss_name: str | None) -> None:
    """Raise a one-line :class:`ConfigError` when ``trainer.optimizer=*_compiled`` cannot train this run.

    The kernel trains a model scored by one inner product of a user and an item table (the model
    class names them in ``dot_product_tables``) with the BPR loss and one uniform or popularity
    negative per training pair, walking every pair once an epoch, in one process on the CPU,
    without DP-SGD, clipping or reduced precision.
    """
    t = OmegaConf.select(cfg, "trainer", default=None)
    name = str(OmegaConf.select(cfg, "trainer.optimizer", default="adam") or "adam").lower()
    if t is None or name not in COMPILED_OPTIMIZERS:
        return
    key = f"trainer.optimizer={name}"
    if getattr(model_cls, "dot_product_tables", None) is None:
        raise ConfigError(
            f"{key} trains models scored by one inner product of two embedding tables (e.g. model=bpr); "
            f"model '{model_name}' is not one; use trainer.optimizer=sparse_sgd or adam"
        )
    if loss_name != COMPILED_LOSS:
        raise ConfigError(f"{key} runs the BPR loss; loss '{loss_name}' is not it; set loss=bpr or use sparse_sgd")
    if OmegaConf.select(cfg, "trainer.privacy", default=None) is not None:
        raise ConfigError(
            f"{key} cannot train under trainer.privacy (DP-SGD needs clipped, noised per-sample "
            f"gradients of every parameter); use trainer.optimizer=sgd or adam with trainer.privacy"
        )
    strategy = str(OmegaConf.select(cfg, "trainer.strategy", default="auto") or "auto")
    devices = OmegaConf.select(cfg, "trainer.devices", default=1)
    if strategy.startswith("ddp") or (devices not in (1, "1", None, "auto")):
        raise ConfigError(
            f"{key} trains in one process with threads (trainer.strategy={strategy}, trainer.devices={devices}); "
            f"set trainer.strategy=auto trainer.devices=1 and the thread count with torch/OMP_NUM_THREADS"
        )
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu") or "cpu")
    if accelerator not in ("cpu", "auto"):
        raise ConfigError(f"{key} is a CPU kernel (trainer.accelerator={accelerator}); set trainer.accelerator=cpu")
    precision = str(OmegaConf.select(cfg, "trainer.precision", default="32-true"))
    if precision not in ("32-true", "32"):
        raise ConfigError(f"{key} trains float32 tables (trainer.precision={precision}); set trainer.precision=32-true")
    negatives = OmegaConf.select(cfg, "trainer.num_negatives", default=1)
    if negatives != 1:
        raise ConfigError(f"{key} draws one negative per training pair; set trainer.num_negatives=1 (got {negatives})")
    positives = str(OmegaConf.select(cfg, "trainer.positive_sampling", default="interactions") or "interactions")
    if positives != "interactions":
        raise ConfigError(
            f"{key} walks every training pair once an epoch; set trainer.positive_sampling=interactions "
            f"(got {positives})"
        )
    if OmegaConf.select(cfg, "trainer.gradient_clip_val", default=None) is not None:
        raise ConfigError(f"{key} forms no gradient tensor to clip; set trainer.gradient_clip_val=null")
    from recframe import kernels

    if not kernels.available():
        raise ConfigError(
            f"{key} needs the compiled kernels: install numba (pip install 'recframe[fast]') and leave "
            f"RECFRAME_KERNELS unset or 1"
        )
