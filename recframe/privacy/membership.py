"""Measured leakage: a membership-inference attack on training vs held-out interactions.

The attacker knows a user and an item and asks whether the pair was in the training data. Its
signal is the pair's rank among all items for that user, as a percentile (``1``: scored above every
other item; seen items are not masked, the attacker sees raw scores): a model that memorised its
training pairs ranks them above pairs it never saw. Thresholding the signal is the loss/score
threshold attack of Yeom et al. ("Privacy Risk in Machine Learning", CSF 2018); its quality over
every threshold is the ROC AUC, ``P(signal(member) > signal(non-member))`` with ties counting
half: 0.5 is no measurable leakage, 1.0 perfect membership inference.

Members are training interactions and non-members test interactions, both of the test users,
``pairs`` of each drawn with a seeded generator (the protocol: sample size and seed are stored).
A model that generalises ranks held-out items high too, so the AUC measures the gap between what it
learnt about its training pairs and what it predicts for unseen ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recframe.errors import ConfigError


def attack_auc(members: np.ndarray, non_members: np.ndarray) -> float:
    """ROC AUC of ``signal > threshold`` as a member test: the Mann-Whitney U statistic over
    ``n1 * n0``, ties counting half (``members: float[n1]``, ``non_members: float[n0]``)."""
    from scipy.stats import rankdata

    members, non_members = np.asarray(members, np.float64), np.asarray(non_members, np.float64)
    n1, n0 = len(members), len(non_members)
    if n1 == 0 or n0 == 0:
        raise ValueError(f"attack AUC needs members and non-members, got {n1} and {n0}")
    ranks = rankdata(np.concatenate([members, non_members]))  # average ranks: ties count half
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def rank_signal(model: Any, users: np.ndarray, items: np.ndarray, batch_users: int = 512) -> np.ndarray:
    """``float[n]``: each pair's percentile among all items for its user (items scored lower, plus
    half the other items scored equal, over ``n_items - 1``)."""
    import torch

    device = next((p.device for p in model.parameters()), torch.device("cpu"))  # a Recommender is an nn.Module
    order = np.argsort(users, kind="stable")
    signal = np.empty(len(users), dtype=np.float64)
    unique, start = np.unique(users[order], return_index=True)
    bounds = np.append(start, len(order))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for lo in range(0, len(unique), batch_users):
                batch = unique[lo : lo + batch_users]
                scores = model.score_all(torch.as_tensor(batch, dtype=torch.long, device=device)).float().cpu()
                pos = order[bounds[lo] : bounds[min(lo + batch_users, len(unique))]]  # this batch's pairs
                rows = torch.as_tensor(np.searchsorted(batch, users[pos]))
                mine = scores[rows]  # [pairs, n_items]
                own = mine.gather(1, torch.as_tensor(items[pos], dtype=torch.long).view(-1, 1))  # [pairs, 1]
                below = (mine < own).sum(1).double()
                ties = (mine == own).sum(1).double() - 1
                signal[pos] = ((below + ties / 2) / max(scores.shape[1] - 1, 1)).numpy()
    finally:
        if was_training:
            model.train()
    return signal


def membership_inference(model: Any, split: Any, pairs: int, seed: int) -> dict[str, Any]:
    """The attack on ``pairs`` training and ``pairs`` test interactions of the test users: its AUC
    and protocol (``results.json``'s ``privacy.attack``)."""
    if model.uses_history:
        raise ConfigError(
            "membership_inference.enabled: history-reading (sequential) models score from a history, not a user "
            "id; the attack covers user-id models only for now"
        )
    train, test = split.part("train"), split.part("test")
    if len(test) == 0:
        raise ConfigError("membership_inference.enabled needs test interactions (the non-members); this split has none")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6D1A]))
    candidates = np.flatnonzero(np.isin(train.user, np.unique(test.user)))
    members = rng.choice(candidates, size=min(pairs, len(candidates)), replace=False)
    outsiders = rng.choice(len(test), size=min(pairs, len(test)), replace=False)
    users = np.concatenate([train.user[members], test.user[outsiders]]).astype(np.int64)
    items = np.concatenate([train.item[members], test.item[outsiders]]).astype(np.int64)
    signal = rank_signal(model, users, items)
    auc = attack_auc(signal[: len(members)], signal[len(members) :])
    return {
        "auc": round(auc, 4),
        "signal": "rank percentile of the pair among all items (no masking)",
        "members": int(len(members)),
        "non_members": int(len(outsiders)),
        "seed": int(seed),
        "member_signal_mean": round(float(signal[: len(members)].mean()), 4),
        "non_member_signal_mean": round(float(signal[len(members) :].mean()), 4),
    }
