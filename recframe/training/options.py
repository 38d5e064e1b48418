"""Choices of training options, kept free of heavy imports so configs are checked without torch."""

from __future__ import annotations

# how training positives are drawn each epoch (trainer.positive_sampling)
POSITIVE_SAMPLING = ("interactions", "users")
