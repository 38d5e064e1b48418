"""Exact explanations of content kNN over dense item representations: which attributes (genres,
year, ...) the user's profile shares with the recommended item.

P. Lops, M. de Gemmis, G. Semeraro, *Content-based Recommender Systems: State of the Art and
Trends*, 2011 (the vector-space profile). ``s(u, i) = <profile_u, x_i> = sum_t profile_ut x_it``, so
the reason weight of attribute ``t`` is ``profile_ut x_it``; the weights sum to the score. Units are
the attributes of the user's profile; removing some zeroes them in the profile (not renormalised, so
the other terms keep their weights) and re-scores every item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recframe.api import ContentReason, Explainer, Reason
from recframe_content.knn import ContentKNN


class ContentTermsExplainer(Explainer):
    """Attributes weighted by ``profile_ut x_it`` (exact for dense content kNN)."""

    models = ("content_knn",)
    exact = True
    unit_kind = "content_term"

    def supports(self, model: Any) -> bool:
        return isinstance(model, ContentKNN) and not model.sparse

    def _profile(self, model: ContentKNN, user: int) -> np.ndarray:
        return model.profiles[int(user)].double().cpu().numpy()

    def _name(self, model: ContentKNN, t: int) -> str:
        names = getattr(model, "term_names", None)
        return str(names[t]) if names is not None and t < len(names) else f"dimension {t}"

    def units(self, model: Any, user: int) -> np.ndarray:
        return np.nonzero(self._profile(model, user))[0].astype(np.int64)

    def explain(self, model: Any, user: int, items: Tensor, k_reasons: int = 5) -> list[list[Reason]]:
        profile = self._profile(model, user)
        x = model.item_vectors[torch.as_tensor(items, dtype=torch.long)].double().cpu().numpy()  # [m, d]
        out: list[list[Reason]] = []
        for row in x * profile[None, :]:
            order = np.argsort(-row, kind="stable")[:k_reasons]
            out.append(
                [ContentReason(weight=float(row[t]), unit=int(t), term=self._name(model, int(t))) for t in order]
            )
        return out

    @torch.no_grad()
    def rescore(self, model: Any, user: int, removed: Sequence[int]) -> Tensor:
        profile = torch.from_numpy(self._profile(model, user))
        if len(removed):
            profile[torch.as_tensor(list(removed), dtype=torch.long)] = 0.0
        return model.item_vectors.double().cpu() @ profile

    @torch.no_grad()
    def rescore_many(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float64[V, n_items]``: one profile per removal (its terms zeroed), all scored in one product."""
        profiles = torch.from_numpy(self._profile(model, user)).unsqueeze(0).repeat(len(removals), 1)
        for v, removed in enumerate(removals):
            if len(removed):
                profiles[v, torch.as_tensor(list(removed), dtype=torch.long)] = 0.0
        return profiles @ model.item_vectors.double().cpu().T
