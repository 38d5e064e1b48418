"""Built-in compressors (distillation, pruning, quantization, low-rank), registered through the public hooks."""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl


@hookimpl
def register_compressors(register: Register) -> None:
    register("distill", "recframe_distill.distill:Distill", aliases=["kd"])
    register("prune", "recframe_distill.prune:Prune")
    register("quantize", "recframe_distill.quantize:Quantize", aliases=["int8"])
    register("lowrank", "recframe_distill.lowrank:LowRank", aliases=["svd"])


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
