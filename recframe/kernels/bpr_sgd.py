"""One pass of BPR-SGD over a slice of training pairs, fused into a single compiled loop.

For each training pair ``(u, i)`` in the given (shuffled) order the loop draws one negative item
``j`` that is not among ``u``'s training positives (uniformly, or by popularity through a CDF),
computes the BPR margin ``x = <p_u, q_i - q_j>`` and its loss ``softplus(-x) = -log sigmoid(x)``,
and moves the three rows ``p_u``, ``q_i``, ``q_j`` (``float32[d]`` each) one step down the
gradient of that pair's loss plus ``weight_decay / 2 * (|p_u|^2 + |q_i|^2 + |q_j|^2)``:

    z = sigmoid(-x);  g_u = -z (q_i - q_j) + wd p_u;  g_i = -z p_u + wd q_i;  g_j = z p_u + wd q_j

(Rendle et al., UAI 2009, Algorithm 1 "LearnBPR", with L2 on the rows a step touches). The rule is
SGD (``w -= lr g``) or Adagrad (``s += g^2; w -= lr g / (sqrt(s) + eps)``, Duchi et al., JMLR 2011),
with every gradient computed from the rows' values before the step (a simultaneous update).

Why one loop: a mini-batch framework step costs ~15 us an interaction in framework overhead and
``[B, d]`` temporaries, while the work itself is ~3 d multiply-adds on three rows already in cache.
The negative's membership test searches only the user's run of the sorted positive keys
(:func:`recframe.kernels.membership.in_user_row`); the rows of the pair ``AHEAD`` places later are
read early, so that on tables larger than the cache their misses overlap the current pair's work.
Random numbers come from SplitMix64 (Steele, Lea, Flood, OOPSLA 2014), one stream per call and
thread, so one thread gives the same weights for the same seed on any machine. Several threads each
run this loop on a block of the slice and write to the shared tables without locks (Hogwild!, Niu
et al., NIPS 2011): races lose a few updates of popular rows, as in implicit's and LightFM's BPR.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recframe.kernels.membership import in_user_row

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
#: pairs ahead whose rows are read early (-10% to -20% of an ML-20M-sized epoch, whose tables outgrow the cache)
AHEAD = 4


@njit(nogil=True, inline="always", cache=True)
def splitmix64(state):  # pragma: no cover - compiled
    """``(next state, 64 random bits)`` of SplitMix64 (``uint64`` arithmetic, wrapping)."""
    state = state + GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return state, z ^ (z >> np.uint64(31))


@njit(nogil=True, inline="always", cache=True)
def draw_item(state, n_items, cdf):  # pragma: no cover - compiled
    """``(next state, item)``: uniform over ``n_items`` when ``cdf`` is empty, else by ``cdf: float64[n_items]``."""
    state, bits = splitmix64(state)
    if cdf.shape[0] == 0:
        return state, np.int64(bits % np.uint64(n_items))
    x = np.float64(bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # [0, 1) from 53 bits
    lo, hi = 0, cdf.shape[0]
    while lo < hi:  # first index with cdf > x (np.searchsorted(cdf, x, side="right"))
        mid = (lo + hi) >> 1
        if cdf[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return state, np.int64(min(lo, n_items - 1))


@njit(nogil=True, fastmath={"contract", "nsz"}, error_model="numpy", cache=True)  # NaN, inf keep meaning
def bpr_sgd_block(
    user_weight,
    item_weight,
    user_sum,
    item_sum,
    users,
    items,
    keys,
    starts,
    n_items,
    cdf,
    lr,
    weight_decay,
    adagrad,
    eps,
    seed,
    negatives,
):  # pragma: no cover - compiled
    """Train on the pairs ``(users[k], items[k])`` in order, in place; returns the summed BPR loss (float64).

    ``user_weight: float32[n_users, d]``, ``item_weight: float32[n_items, d]`` (C-contiguous, updated
    in place); ``user_sum``/``item_sum``: Adagrad's squared-gradient sums of the same shapes (read
    only when ``adagrad``). ``keys: int64[nnz]`` the sorted ``user * n_items + item`` keys of the
    training positives, ``starts: int64[n_users + 1]`` each user's run in them; ``cdf``: empty
    (uniform negatives) or ``float64[n_items]``. ``seed: uint64`` starts the random stream;
    ``negatives: int64[len(users)]`` receives each pair's drawn negative (for tests and checks).
    """
    d = user_weight.shape[1]
    lr32, wd32, eps32 = np.float32(lr), np.float32(weight_decay), np.float32(eps)
    state = seed
    total = 0.0
    touched = np.float32(0.0)
    n = users.shape[0]
    for k in range(n):
        if k + AHEAD < n:  # read a later pair's rows now: their cache misses overlap this pair's arithmetic
            un, inx = users[k + AHEAD], items[k + AHEAD]
            touched += user_weight[un, 0] + user_weight[un, d - 1] + item_weight[inx, 0] + item_weight[inx, d - 1]
            touched += np.float32(keys[starts[un]] & 1)
        u, i = users[k], items[k]
        state, j = draw_item(state, n_items, cdf)
        while in_user_row(keys, starts, n_items, u, j):
            state, j = draw_item(state, n_items, cdf)
        negatives[k] = j
        p, qi, qj = user_weight[u], item_weight[i], item_weight[j]
        x = np.float32(0.0)
        for f in range(d):
            x += p[f] * (qi[f] - qj[f])
        # -log sigmoid(x) = softplus(-x), and its derivative's size z = sigmoid(-x), both overflow-safe
        if x > 0:
            e = np.exp(-x)
            total += np.log1p(e)
            z = e / (np.float32(1.0) + e)
        else:
            e = np.exp(x)
            total += np.log1p(e) - x
            z = np.float32(1.0) / (np.float32(1.0) + e)
        if adagrad:
            su, si, sj = user_sum[u], item_sum[i], item_sum[j]
            for f in range(d):
                pu, vi, vj = p[f], qi[f], qj[f]
                gu = -z * (vi - vj) + wd32 * pu
                gi = -z * pu + wd32 * vi
                gj = z * pu + wd32 * vj
                su[f] += gu * gu
                si[f] += gi * gi
                sj[f] += gj * gj
                p[f] = pu - lr32 * gu / (np.sqrt(su[f]) + eps32)
                qi[f] = vi - lr32 * gi / (np.sqrt(si[f]) + eps32)
                qj[f] = vj - lr32 * gj / (np.sqrt(sj[f]) + eps32)
        else:
            for f in range(d):
                pu, vi, vj = p[f], qi[f], qj[f]
                p[f] = pu - lr32 * (-z * (vi - vj) + wd32 * pu)
                qi[f] = vi - lr32 * (-z * pu + wd32 * vi)
                qj[f] = vj - lr32 * (z * pu + wd32 * vj)
    # keeps the look-ahead reads alive (0 unless a row is NaN, when the loss is NaN anyway)
    return total + 0.0 * min(abs(touched), np.float32(1.0))
