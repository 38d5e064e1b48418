"""Built-in compressors (distillation, pruning, quantization, low-rank), registered through the public hooks."""

from __future__ import annotations

from recframe.api import hookimpl
from recframe_distill import distill, lowrank, prune, quantize


@hookimpl
def register_compressors(register):
    register("distill", distill.Distill, aliases=["kd"])
    register("prune", prune.Prune)
    register("quantize", quantize.Quantize, aliases=["int8"])
    register("lowrank", lowrank.LowRank, aliases=["svd"])
