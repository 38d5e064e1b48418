"""Typed reasons: why a model scored an item for a user.

Every explainer returns, per recommended item, a ranked list of these records (largest weight first).
They hold internal ids (dense ``int`` indices into the run's id maps); :class:`~recframe.explain.names.Namer`
turns them into plain dictionaries with the dataset's original ids and names (titles, field values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Reason:
    """Base of every reason: ``weight`` is its share of the score (exact explainers: the shares sum to it).

    ``unit`` is the index of what a deletion test removes to check the reason (a history position,
    a field); explainers of the same model use the same units, so fidelity compares them fairly.
    """

    kind: ClassVar[str] = "reason"
    weight: float
    unit: int


@dataclass(frozen=True)
class HistoryItemReason(Reason):
    """An item of the user's history (``item``: internal id) with its weight in the score."""

    kind: ClassVar[str] = "history_item"
    item: int


@dataclass(frozen=True)
class FieldReason(Reason):
    """A feature field (``field``: its name; ``value``: the user's or item's value) and its contribution."""

    kind: ClassVar[str] = "field"
    field: str
    value: str


@dataclass(frozen=True)
class ContentReason(Reason):
    """An attribute or term of the recommended item's content (``term``) shared with the user's profile."""

    kind: ClassVar[str] = "content"
    term: str


@dataclass(frozen=True)
class NeighbourReason(Reason):
    """A neighbour user (``user``: internal id) whose interactions support the item."""

    kind: ClassVar[str] = "neighbour_user"
    user: int


REASON_TYPES: tuple[type[Reason], ...] = (HistoryItemReason, FieldReason, ContentReason, NeighbourReason)
