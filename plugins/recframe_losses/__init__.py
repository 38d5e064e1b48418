"""Built-in losses, registered through the public plugin hooks."""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl


@hookimpl
def register_losses(register: Register) -> None:
    register("bpr", "recframe_losses.pairwise:BPRLoss")
    register("bce", "recframe_losses.pairwise:BCELoss")
    register("softmax", "recframe_losses.softmax:SoftmaxLoss")
    register("sampled_softmax", "recframe_losses.softmax:SampledSoftmaxLoss")
    register("multinomial", "recframe_losses.softmax:MultinomialLoss")
    register("sequence_bce", "recframe_losses.sequence:SequenceBCELoss")
    register("sequence_ce", "recframe_losses.sequence:SequenceCELoss")


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
