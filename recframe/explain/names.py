"""Reasons and items named in the dataset's own terms: original ids and, where the data has them, titles.

A :class:`Namer` is built from a run's split (``Namer.from_interactions``) or from a saved model folder
(``Namer.from_saved``); both store the original id of every internal id and the item table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recframe.explain.reasons import ContentReason, FieldReason, HistoryItemReason, NeighbourReason, Reason

TITLE_COLUMNS = ("title", "name", "item_name", "movie_title")


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class Namer:
    """Original ids (``user_ids``, ``item_ids``: by internal id) and item titles (``None``: none known)."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    titles: list[str] | None = None

    @staticmethod
    def _titles(table: pd.DataFrame | None) -> list[str] | None:
        if table is None:
            return None
        for col in TITLE_COLUMNS:
            if col in table.columns:
                return [str(v) for v in table[col].tolist()]
        return None

    @classmethod
    def from_interactions(cls, train: Any) -> Namer:
        """From the run's training part (its id maps and ``item_features``)."""
        return cls(np.asarray(train.user_ids), np.asarray(train.item_ids), cls._titles(train.item_features))

    @classmethod
    def from_saved(cls, saved: Any) -> Namer:
        """From a saved model folder (:class:`recframe.serving.artifact.SavedRun`)."""
        return cls(np.asarray(saved.user_ids), np.asarray(saved.item_ids), cls._titles(saved.items))

    def item(self, internal: int) -> dict[str, Any]:
        """``{"item": original id[, "title": ...]}`` of one internal item id."""
        out: dict[str, Any] = {"item": _native(self.item_ids[int(internal)])}
        if self.titles is not None:
            out["title"] = self.titles[int(internal)]
        return out

    def user(self, internal: int) -> Any:
        return _native(self.user_ids[int(internal)])

    def reason(self, reason: Reason) -> dict[str, Any]:
        """A reason as a JSON-ready dictionary in original ids: ``{"kind", "weight", ...}``."""
        out: dict[str, Any] = {"kind": reason.kind, "weight": float(reason.weight)}
        if isinstance(reason, HistoryItemReason):
            out.update(self.item(reason.item))
        elif isinstance(reason, FieldReason):
            out.update(field=reason.field, value=reason.value)
        elif isinstance(reason, ContentReason):
            out["term"] = reason.term
        elif isinstance(reason, NeighbourReason):
            out["user"] = self.user(reason.user)
        return out

    def label(self, reason: Reason) -> str:
        """One short line for a terminal: ``Toy Story (1995) [1]``, ``gender=F``, ``term 'comedy'``."""
        named = self.reason(reason)
        if isinstance(reason, HistoryItemReason):
            return f"{named.get('title', named['item'])} [{named['item']}]" if "title" in named else str(named["item"])
        if isinstance(reason, FieldReason):
            return f"{reason.field}={reason.value}"
        if isinstance(reason, ContentReason):
            return f"term '{reason.term}'"
        if isinstance(reason, NeighbourReason):
            return f"user {named['user']}"
        return reason.kind
