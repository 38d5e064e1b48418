"""Fidelity by deletion: removing a recommendation's top reasons must lower its rank more than
removing random units of the same user.

For each sampled user (``sample_users`` test users drawn with ``seed``), the top-1 recommended item
``i`` (the user's own history masked, as in evaluation) is explained; for ``r`` in ``cutoffs``
(default 1, 3, 5) the user's top-``r`` reason units are removed and every item re-scored
(:meth:`Explainer.rescore`), and ``i``'s new rank among the items outside the original history is
read. The same is done for ``random_draws`` random sets of ``r`` units. Per ``r``:

* ``rank_drop@r``: mean (new rank - old rank) after removing the top-``r`` reasons;
* ``random_drop@r``: the same after removing ``r`` random units (mean over draws and users);
* ``area``: the area between the two curves over ``r = 0..max(cutoffs)`` (trapezoids through
  ``(0, 0)`` and each cutoff), divided by ``max(cutoffs)``: the mean extra rank drop the reasons buy.

A user with fewer units than ``r`` loses all of them. Users with no units are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch

from recframe.explain.base import Explainer

DEFAULT_CUTOFFS = (1, 3, 5)


@dataclass
class FidelityProtocol:
    """The declared sample and deletion steps (stored beside the numbers in ``results.json``)."""

    sample_users: int = 200
    seed: int = 0
    cutoffs: tuple[int, ...] = DEFAULT_CUTOFFS
    random_draws: int = 3
    item: str = "top-1 recommendation, history masked"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sample_users": self.sample_users,
            "seed": self.seed,
            "cutoffs": list(self.cutoffs),
            "random_draws": self.random_draws,
            "item": self.item,
        }


@dataclass
class FidelityCurve:
    """Per-user rank drops: ``reasons[r]``, ``random[r]``: ``float[n_users]`` (``random`` averaged over draws)."""

    cutoffs: tuple[int, ...]
    reasons: dict[int, list[float]] = field(default_factory=dict)
    random: dict[int, list[float]] = field(default_factory=dict)
    skipped: int = 0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"users": len(self.reasons.get(self.cutoffs[0], [])), "skipped_users": self.skipped}
        if not out["users"]:
            return out
        drops = [float(np.mean(self.reasons[r])) for r in self.cutoffs]
        randoms = [float(np.mean(self.random[r])) for r in self.cutoffs]
        for r, d, q in zip(self.cutoffs, drops, randoms, strict=True):
            out[f"rank_drop@{r}"] = d
            out[f"random_drop@{r}"] = q
        out["area"] = area_between(self.cutoffs, drops, randoms)
        return out


def area_between(cutoffs: Sequence[int], drops: Sequence[float], randoms: Sequence[float]) -> float:
    """Trapezoid area of ``drops - randoms`` over ``r`` from 0 (where both are 0) to ``max(cutoffs)``,
    divided by ``max(cutoffs)``."""
    xs = np.concatenate([[0.0], np.asarray(cutoffs, dtype=np.float64)])
    gap = np.concatenate([[0.0], np.asarray(drops, dtype=np.float64) - np.asarray(randoms, dtype=np.float64)])
    return float(np.sum((xs[1:] - xs[:-1]) * (gap[1:] + gap[:-1]) / 2.0) / xs[-1])


def rank_of(scores: torch.Tensor, item: int, masked: np.ndarray) -> int:
    """1-based rank of ``item`` in ``scores: float[n_items]`` among items not in ``masked`` (ties: pessimistic
    by nothing; items scoring strictly higher count)."""
    s = scores.detach().double().cpu().clone()
    s[torch.as_tensor(masked, dtype=torch.long)] = -torch.inf
    return int((s > s[item]).sum()) + 1


@torch.no_grad()
def top_item(scores: torch.Tensor, masked: np.ndarray) -> int:
    s = scores.detach().double().cpu().clone()
    s[torch.as_tensor(masked, dtype=torch.long)] = -torch.inf
    return int(torch.argmax(s))


def ranks_of(scores: torch.Tensor, item: int, masked: np.ndarray) -> np.ndarray:
    """``int64[V]``: :func:`rank_of` of ``item`` in each row of ``scores: float[V, n_items]``."""
    s = scores.detach().double().cpu().clone()
    s[:, torch.as_tensor(masked, dtype=torch.long)] = -torch.inf
    return ((s > s[:, item : item + 1]).sum(dim=1) + 1).numpy()


def deletion_curve(
    explainer: Explainer,
    model: Any,
    users: np.ndarray,
    seen: Any,
    protocol: FidelityProtocol,
    batched: bool = True,
) -> FidelityCurve:
    """The deletion curves of ``explainer`` on ``model`` for ``users: int64[n]`` (already sampled);
    ``seen``: a users x items CSR matrix of what each user's ranking masks.

    A user's deletion variants (the top-``r`` reasons and ``random_draws`` random sets per cut-off) are
    drawn first, in the order the random generator always served them, then re-scored together by
    :meth:`Explainer.rescore_many` (one batched call where the explainer has one); ``batched=False``
    re-scores them one :meth:`Explainer.rescore` at a time. Both give the same curves."""
    rng = np.random.default_rng(protocol.seed)
    curve = FidelityCurve(tuple(protocol.cutoffs), {r: [] for r in protocol.cutoffs}, {r: [] for r in protocol.cutoffs})
    for user in users.tolist():
        units = explainer.units(model, user)
        if len(units) == 0:
            curve.skipped += 1
            continue
        masked = np.asarray(seen[user].indices, dtype=np.int64)
        base = explainer.rescore(model, user, [])
        item = top_item(base, masked)
        before = rank_of(base, item, masked)
        reasons = explainer.explain(model, user, torch.tensor([item]), k_reasons=max(protocol.cutoffs))[0]
        ordered = [r.unit for r in reasons]
        removals: list[list[int]] = []
        for r in protocol.cutoffs:
            removals.append(ordered[:r])
            for _ in range(protocol.random_draws):
                removals.append(rng.choice(units, size=min(r, len(units)), replace=False).tolist())
        # batched=False: the base class's one rescore per removal, whatever the explainer overrides
        rescore_many = explainer.rescore_many if batched else partial(Explainer.rescore_many, explainer)
        scores = rescore_many(model, user, removals)
        drops = (ranks_of(scores, item, masked) - before).astype(np.float64)
        step = 1 + protocol.random_draws
        for n, r in enumerate(protocol.cutoffs):
            curve.reasons[r].append(float(drops[n * step]))
            curve.random[r].append(float(np.mean(drops[n * step + 1 : (n + 1) * step])))
    return curve


def sample_users(candidates: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` users of ``candidates`` drawn without replacement by ``seed`` (all of them if fewer), sorted."""
    candidates = np.unique(np.asarray(candidates, dtype=np.int64))
    if len(candidates) <= size:
        return candidates
    return np.sort(np.random.default_rng(seed).choice(candidates, size=size, replace=False))
