"""Experiment loggers chosen by the ``logger`` config group: csv, tensorboard, mlflow, wandb, none.

Training curves (``train/loss``, ``valid/<metric>`` per epoch) go to the logger through Lightning.
Once per run, when ``results.json`` is written, :func:`finish` sends the run's hyper-parameters (the
resolved config, flattened to dotted keys) and its final metrics and cost (``test/ndcg@10``,
``cost.params``, ...) to the same logger, then closes it. Models fitted in closed form have no
training curve; they get the summary all the same.

* ``csv`` / ``tensorboard``: ``<run dir>/logs``.
* ``mlflow``: any tracking URI (``logger.tracking_uri``; default the SQLite store
  ``sqlite:///<output dir>/mlflow.db``; MLflow 3 refuses new file stores unless
  ``MLFLOW_ALLOW_FILE_STORE=true``), experiment ``logger.experiment`` (default the run's ``name``).
  Needs ``pip install 'recframe[mlflow]'``. MLflow's names allow no ``@``: it becomes ``_at_``
  (``test/ndcg_at_10``).
* ``wandb``: ``logger.project``, ``logger.mode`` (``online``/``offline``/``disabled``); files under
  ``<run dir>/logs``. Needs ``pip install 'recframe[wandb]'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from recframe.errors import ConfigError

NAMES = ("csv", "tensorboard", "mlflow", "wandb", "none")
_ACTIVE: dict[str, Any] = {}  # run dir -> the logger built for it (closed by finish)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys: ``{"model": {"name": "bpr"}} -> {"model.name": "bpr"}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def mlflow_key(key: str) -> str:
    """A metric or parameter name MLflow accepts (letters, digits, ``_ - . / space``)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", key.replace("@", "_at_"))


def build_logger(cfg: DictConfig, run_dir: Path) -> Any:
    """The Lightning logger ``cfg.logger`` asks for (``False`` for none), remembered for :func:`finish`."""
    from lightning.pytorch import loggers

    name = str(cfg.logger.name)
    if name == "none":
        return False
    if name == "csv":
        logger: Any = loggers.CSVLogger(save_dir=str(run_dir), name="logs", version="")
    elif name == "tensorboard":
        _require("tensorboard", "tensorboard")
        logger = loggers.TensorBoardLogger(save_dir=str(run_dir), name="logs", version="")
    elif name == "mlflow":
        _require("mlflow", "mlflow")
        uri = (
            OmegaConf.select(cfg, "logger.tracking_uri", default=None)
            or f"sqlite:///{Path(str(cfg.paths.output_dir)).resolve() / 'mlflow.db'}"
        )
        experiment = OmegaConf.select(cfg, "logger.experiment", default=None) or str(cfg.name)
        logger = _MLflowLogger(
            experiment_name=str(experiment),
            tracking_uri=str(uri),
            run_name=run_dir.name,
            tags={"recframe.run_dir": str(run_dir)},
        )
    elif name == "wandb":
        _require("wandb", "wandb")
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)
        project = OmegaConf.select(cfg, "logger.project", default=None) or "recframe"
        mode = str(OmegaConf.select(cfg, "logger.mode", default="online"))
        logger = loggers.WandbLogger(project=str(project), name=run_dir.name, save_dir=str(run_dir / "logs"), mode=mode)
    else:
        raise ConfigError(f"logger.name '{name}' is not one of {', '.join(NAMES)}")
    _ACTIVE[str(run_dir)] = logger
    return logger


def _require(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"logger={extra} needs {module}: pip install 'recframe[{extra}]'")


def _mlflow_logger_class() -> type:
    from lightning.pytorch.loggers import MLFlowLogger

    class RecframeMLFlowLogger(MLFlowLogger):  # type: ignore[misc]
        """MLFlowLogger with ``@`` in names spelled ``_at_`` instead of dropped (``ndcg@10`` -> ``ndcg_at_10``)."""

        def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
            super().log_metrics({mlflow_key(k): v for k, v in metrics.items()}, step)

    return RecframeMLFlowLogger


def _MLflowLogger(**kwargs: Any) -> Any:  # noqa: N802  (a factory standing for the class)
    return _mlflow_logger_class()(**kwargs)


def summary(cfg: DictConfig, results: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """(hyper-parameters: the resolved config without hydra, final metrics and cost as floats)."""
    from recframe import config as rconfig

    params = {k: v for k, v in flatten(rconfig.plain(cfg)).items() if not k.startswith(("hydra.", "trial."))}
    final = {k: float(v) for k, v in results.get("metrics", {}).items() if isinstance(v, (int, float))}
    final.update(
        {
            f"cost.{k}": float(v)
            for k, v in results.get("cost", {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
    )
    return params, final


def finish(cfg: DictConfig, run_dir: str | Path, results: Mapping[str, Any]) -> None:
    """Send the run's hyper-parameters and final metrics to its logger once, then close the logger."""
    run_dir = Path(run_dir)
    logger = _ACTIVE.pop(str(run_dir), None)
    if logger is None:  # closed-form model (no training loop) or logger=none
        if str(cfg.logger.name) == "none":
            return
        logger = build_logger(cfg, run_dir)
        _ACTIVE.pop(str(run_dir), None)
    params, final = summary(cfg, results)
    if str(cfg.logger.name) == "mlflow":
        params = {mlflow_key(k): v for k, v in params.items()}
    logger.log_hyperparams(params)
    logger.log_metrics(final, step=int(results.get("run", {}).get("optimizer_steps") or 0))
    logger.save()
    logger.finalize("success")
    if str(cfg.logger.name) == "wandb":  # Lightning leaves the W&B run open until the process exits
        logger.experiment.finish()
