"""The explainer contract: ``explain(model, user, items, k_reasons)`` and what a deletion test needs.

An explainer is matched to how a family of models computes its scores. It works on one *user*
(an internal id) of a fitted model whose history is applied (as the run's test and the serving
handle do), and on that user's *units*: what its reasons point at and a deletion test removes
(history items, feature fields). Three methods:

* :meth:`Explainer.explain`: per item of ``items: long[m]``, the ``k_reasons`` largest reasons;
* :meth:`Explainer.units`: ``int64[n]``, the user's units (history item ids, field indices);
* :meth:`Explainer.rescore`: ``float[n_items]``, the scores of every item with some units removed;
  :meth:`Explainer.rescore_many` does it for several removals at once (the fidelity test's deletion
  variants of one user), by default one :meth:`rescore` each, in one batched call where the model allows.

``models`` names the registered models the explainer is written for (shown in the error when a
model is not supported); :meth:`Explainer.supports` decides from the model object itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.errors import ConfigError
from recframe.explain.reasons import Reason


class Explainer:
    """Base of every explainer. Subclasses set ``models`` and implement the three methods below.

    Attributes:
        models: registered model names it is written for (e.g. ``("ease", "itemknn")``).
        exact: whether the reasons' weights sum to the model's score (tests check it where true).
        unit_kind: what a unit is: ``history_item`` or ``field``.
        auto_rank: ``explain.explainer=auto`` prefers exact explainers, then lower ranks.
    """

    models: ClassVar[tuple[str, ...]] = ()
    exact: ClassVar[bool] = False
    unit_kind: ClassVar[str] = "history_item"
    #: order among the explainers ``auto`` may pick for a model (lower first, after exact ones)
    auto_rank: ClassVar[int] = 0
    #: users x items CSR of the interactions the model's user side was fitted on (set by the caller)
    history: sp.csr_matrix | None = None

    @staticmethod
    def ranked(
        weights: np.ndarray, units: np.ndarray, reason: Callable[[float, int], Reason], k: int
    ) -> list[list[Reason]]:
        """The ``k`` largest of each row of ``weights: float[m, n]`` as ``reason(weight, unit)``
        (:func:`ranked_reasons`), for explainers whose reasons are one weight per unit."""
        return ranked_reasons(weights, units, reason, k)

    def use_history(self, history: sp.csr_matrix) -> Explainer:
        """Give the explainer each user's training interactions (``users x items`` CSR), for models
        that keep no history of their own (factor models); returns ``self``."""
        self.history = history
        return self

    def user_history(self, user: int) -> np.ndarray:
        """``int64[n]``: the items of ``user`` in :attr:`history`."""
        if self.history is None:
            raise ConfigError(f"explainer {type(self).__name__} needs the users' histories: call use_history() first")
        return np.asarray(self.history[user].indices, dtype=np.int64)

    def supports(self, model: Any) -> bool:
        """Whether this explainer can explain ``model`` (by what the model object has, not its name)."""
        return False

    def explain(self, model: Any, user: int, items: Tensor, k_reasons: int = 5) -> list[list[Reason]]:
        """Per item of ``items: long[m]``, its ``k_reasons`` strongest reasons (largest weight first)."""
        raise NotImplementedError

    def units(self, model: Any, user: int) -> np.ndarray:
        """``int64[n]``: the user's units (history item ids or field indices), the ``unit`` of its reasons."""
        raise NotImplementedError

    def rescore(self, model: Any, user: int, removed: Sequence[int]) -> Tensor:
        """``float[n_items]``: every item's score for ``user`` with the units ``removed`` taken out."""
        raise NotImplementedError

    def rescore_many(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float64[V, n_items]``: row ``v`` is :meth:`rescore` with ``removals[v]`` taken out. This default
        calls :meth:`rescore` once per removal; explainers whose model can score the variants as one batch
        (stacked history rows, sequences, field slots, fold-in solves) override it with the same numbers."""
        return torch.stack([self.rescore(model, user, list(r)).double().cpu() for r in removals])


def unsupported(explainer_name: str, explainer: Explainer, model_name: str) -> ConfigError:
    """The one-line error for a model an explainer cannot explain, naming both and what it supports."""
    supported = ", ".join(explainer.models) or "none declared"
    return ConfigError(
        f"explainer '{explainer_name}' does not support model '{model_name}' "
        f"(it supports: {supported}); use explain.explainer=auto or one written for '{model_name}'"
    )


def ranked_reasons(
    weights: np.ndarray, units: np.ndarray, reason: Callable[[float, int], Reason], k: int
) -> list[list[Reason]]:
    """Per row of ``weights: float[m, n]`` (one recommended item, one column per unit), the ``k``
    largest as reasons (largest first; ties by position): ``reason(weight, unit)`` with the unit id
    from ``units: int[n]``."""
    out: list[list[Reason]] = []
    for row in np.asarray(weights, dtype=np.float64):
        order = np.argsort(-row, kind="stable")[: max(0, int(k))]
        out.append([reason(float(row[j]), int(units[j])) for j in order])
    return out
