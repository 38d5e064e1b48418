"""Built-in losses, registered through the public plugin hooks."""

from __future__ import annotations

from recframe import hookimpl
from recframe_losses import pairwise


@hookimpl
def register_losses(register):
    register("bpr", pairwise.BPRLoss)
    register("bce", pairwise.BCELoss)
