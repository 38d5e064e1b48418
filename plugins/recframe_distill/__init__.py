"""Built-in compressors (distillation, pruning, quantization, low-rank), registered through the public hooks."""

from __future__ import annotations

from recframe.api import hookimpl


@hookimpl
def register_compressors(register):
    register("distill", "recframe_distill.distill:Distill", aliases=["kd"])
    register("prune", "recframe_distill.prune:Prune")
    register("quantize", "recframe_distill.quantize:Quantize", aliases=["int8"])
    register("lowrank", "recframe_distill.lowrank:LowRank", aliases=["svd"])
