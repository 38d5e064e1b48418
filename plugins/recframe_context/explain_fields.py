"""Per-field explanations of the CTR models: which feature fields (user id, gender, genres, ...) raise
an item's score, and by how much.

* ``fm_fields`` (FM, S. Rendle, ICDM 2010): exact. ``y = w0 + sum_f w_f + sum_{f<g} <v_f, v_g>``
  splits over fields as ``c_f = w_f + 1/2 <v_f, sum_{g != f} v_g>`` (each pairwise term shared
  equally by its two fields); ``w0 + sum_f c_f = y``.
* ``field_integrated_gradients`` (any CTR model: FM, DeepFM, Wide&Deep, DCN-V2): the first-order
  weight ``w_f`` plus integrated gradients (recframe.api.integrated_gradients) of the rest of the
  logit over the field vectors ``v: float[F, d]`` from a zero baseline, summed over ``d``. For FM the
  integral is exactly ``c_f`` (the pairwise part is quadratic along the path), a check of both.

Units are the fields; removing a field pads its slots for every (user, item) pair of the ranking,
so the field's embedding and first-order weight drop out of every score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

import numpy as np
import torch
from torch import Tensor

from recframe.api import Explainer, FieldReason, Reason, integrated_gradients
from recframe_context.fields import ContextRecommender
from recframe_context.fm import FM


def distinct_pair_logits(model: ContextRecommender, slots: Tensor) -> Tensor:
    """``float64[N]``: the logits of ``slots: long[N, S]``, each distinct row scored once (``pair_chunk``
    rows a call). Pairs that padding made identical (a removed item field) then score exactly alike
    however the rows are batched, so a deletion test's ties do not depend on the batch's rounding."""
    distinct, inverse = torch.unique(slots, dim=0, return_inverse=True)
    logits = torch.empty(len(distinct), dtype=torch.float64)
    for start in range(0, len(distinct), model.pair_chunk):
        logits[start : start + model.pair_chunk] = model.logits(distinct[start : start + model.pair_chunk]).double()
    return logits[inverse]


class FieldExplainer(Explainer):
    """What both field explainers share: slots, field values, units and rescoring."""

    models: ClassVar[tuple[str, ...]] = ("fm", "deepfm", "widedeep", "dcnv2")
    unit_kind = "field"

    def supports(self, model: Any) -> bool:
        return isinstance(model, ContextRecommender)

    def units(self, model: Any, user: int) -> np.ndarray:
        return np.arange(model.n_fields, dtype=np.int64)

    @staticmethod
    def slot_fields(model: ContextRecommender) -> Tensor:
        """``long[S]``: the field of each slot (user, item and context slots side by side)."""
        return cast(Tensor, model.embed.pool).argmax(dim=1)  # a registered buffer

    def field_values(self, model: ContextRecommender, slots: Tensor) -> list[str]:
        """Per field, the pair's value(s) as text (``|``-joined for multi-hot, ``?`` when missing)."""
        tables, fields = model.tables, self.slot_fields(model).tolist()
        values: list[list[str]] = [[] for _ in tables.fields]
        for slot, gid in zip(fields, slots.tolist(), strict=True):
            if gid == model.embed.pad:
                continue
            f = tables.fields[slot]
            local = gid - f.offset
            values[slot].append(f.values[local - 1] if 0 < local <= len(f.values) else "?")
        return ["|".join(v) if v else "?" for v in values]

    def pair_slots(self, model: ContextRecommender, user: int, items: Tensor) -> Tensor:
        """``long[m, S]``: the ranking slots of ``(user, items[j])``."""
        users = torch.full_like(items, int(user))
        return model.slots(users, items)

    def contributions(self, model: ContextRecommender, slots: Tensor) -> Tensor:
        """``float64[F]``: each field's contribution to the logit of one pair ``slots: long[S]``."""
        raise NotImplementedError

    def explain(self, model: Any, user: int, items: Tensor, k_reasons: int = 5) -> list[list[Reason]]:
        out: list[list[Reason]] = []
        names = [f.name for f in model.tables.fields]
        for slots in self.pair_slots(model, user, items):
            c = self.contributions(model, slots).numpy()
            values = self.field_values(model, slots)
            order = np.argsort(-c, kind="stable")[:k_reasons]
            out.append([FieldReason(weight=float(c[f]), unit=int(f), field=names[f], value=values[f]) for f in order])
        return out

    @torch.no_grad()
    def rescore(self, model: Any, user: int, removed: Sequence[int]) -> Tensor:
        items = torch.arange(model.n_items)
        slots = self.pair_slots(model, user, items)
        if len(removed):
            drop = torch.isin(self.slot_fields(model), torch.as_tensor(list(removed), dtype=torch.long))
            slots[:, drop] = model.embed.pad
        return distinct_pair_logits(model, slots)

    @torch.no_grad()
    def rescore_many(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float64[V, n_items]``: the pairs of every removal (its fields' slots padded) stacked and scored
        together, each distinct pair once (:func:`distinct_pair_logits`)."""
        items = torch.arange(model.n_items)
        base = self.pair_slots(model, user, items)  # [n_items, S]
        fields = self.slot_fields(model)
        block = base.unsqueeze(0).repeat(len(removals), 1, 1)  # [V, n_items, S]
        for v, removed in enumerate(removals):
            if len(removed):
                block[v][:, torch.isin(fields, torch.as_tensor(list(removed), dtype=torch.long))] = model.embed.pad
        return distinct_pair_logits(model, block.view(-1, block.shape[-1])).view(len(removals), model.n_items)


class FMFieldExplainer(FieldExplainer):
    """FM's exact field split ``c_f = w_f + 1/2 <v_f, sum_{g != f} v_g>`` (sums to the logit minus ``w0``)."""

    models = ("fm",)
    exact = True

    def supports(self, model: Any) -> bool:
        return isinstance(model, FM)

    @torch.no_grad()
    def contributions(self, model: ContextRecommender, slots: Tensor) -> Tensor:
        assert model.linear is not None  # FM always has its first-order term
        v = model.embed(slots.unsqueeze(0))[0].double()  # [F, d]
        linear = model.linear.per_field(slots.unsqueeze(0))[0].double()  # [F]
        total = v.sum(0)
        return linear + 0.5 * (v * (total - v)).sum(-1)


class FieldIntegratedGradients(FieldExplainer):
    """``w_f`` plus integrated gradients of the non-linear part over the field vectors (any CTR model)."""

    steps = 32
    auto_rank = 1

    def contributions(self, model: ContextRecommender, slots: Tensor) -> Tensor:
        with torch.no_grad():
            v = model.embed(slots.unsqueeze(0))[0]  # [F, d]
            linear = None if model.linear is None else model.linear.per_field(slots.unsqueeze(0))[0]

        def rest(path: Tensor) -> Tensor:  # [N, F, d] -> [N]: the logit without the first-order term
            zeros = None if linear is None else path.new_zeros(path.shape[0])
            return model.combine(path, zeros)

        attr = integrated_gradients(rest, v, steps=self.steps).sum(-1).double()
        return attr if linear is None else attr + linear.double()
