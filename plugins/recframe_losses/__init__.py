"""Built-in losses, registered through the public plugin hooks."""

from __future__ import annotations

from recframe.api import hookimpl
from recframe_losses import pairwise, sequence, softmax


@hookimpl
def register_losses(register):
    register("bpr", pairwise.BPRLoss)
    register("bce", pairwise.BCELoss)
    register("softmax", softmax.SoftmaxLoss)
    register("sampled_softmax", softmax.SampledSoftmaxLoss)
    register("multinomial", softmax.MultinomialLoss)
    register("sequence_bce", sequence.SequenceBCELoss)
    register("sequence_ce", sequence.SequenceCELoss)
