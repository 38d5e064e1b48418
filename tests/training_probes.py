"""A user callback for tests: records what the run's Lightning trainer does, into a JSON file.

It is named in configs by its class path (``trainer.callbacks=[{_target_: training_probes.StepRecorder,
path: ...}]``; ``tests/`` is on pytest's ``pythonpath``), exactly as a user's own callback would be.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback


class StepRecorder(Callback):
    """Writes ``{"trainer": {...}, "lrs": [lr per optimizer step], "epoch_lrs": [lr per epoch],
    "grad_norms": [L2 norm after each training batch], "grad_max": [max |g| ...]}`` to ``path`` at the end.

    ``lrs`` is read in ``on_before_optimizer_step`` (the rate that step uses); the gradients in
    ``on_train_batch_end``, after the step: what the optimizer was given, clipped or not.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.record: dict[str, Any] = {"lrs": [], "epoch_lrs": [], "grad_norms": [], "grad_max": []}

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.record["trainer"] = {
            "root_dir": str(trainer.default_root_dir),
            "max_epochs": trainer.max_epochs,
            "callbacks": [type(cb).__name__ for cb in trainer.callbacks],
            "module": type(pl_module).__name__,
        }

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.record["epoch_lrs"].append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        self.record["lrs"].append(optimizer.param_groups[0]["lr"])

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if grads:
            self.record["grad_norms"].append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
            self.record["grad_max"].append(max(float(g.abs().max()) for g in grads))

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.path.write_text(json.dumps(self.record))


class NotACallback:
    """A class that is no Lightning callback (for the error test)."""
