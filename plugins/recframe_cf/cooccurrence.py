"""Top-``k`` neighbours straight from the co-occurrences, each pair once, in one compiled loop
(numba, ``recframe[fast]``).

:func:`recframe_cf.similarity.topk_similarity` with ``product="compiled"``. For ``x: float[n_features,
n]`` and each target column ``a``, the loop walks ``a``'s features ``f`` and, in feature ``f``'s
sorted row, only the entities ``c > a`` after ``a``, adding ``x_fa x_fc`` into a dense
accumulator. Each pair's dot product is so formed once and gives both similarities, ``a``'s to
``c`` and ``c``'s to ``a`` (the same denominators as the block products); each goes into its
target's heap of the ``k`` best. The work is one multiply-add per co-occurring pair, half of
``sum_f nnz(row f)^2``, with no dense ``n x block`` array and no sort of whole rows.

What dominates is reading the feature rows, so the loop reads as little as it can: entity ids as
``uint16`` when ``n <= 65,536``, and no values when every stored value is 1 (binary data).

What is kept equals the block products' top ``k`` of the whole column, untouched entries counted
as zeros: positives first, then zeros (which are not stored), then negatives, so a negative is kept
only when fewer than ``k`` entries of its column are positive or zero. Among equal values the lower
entity id is kept (the block products leave that choice to ``argpartition``). Dot products are
accumulated in float64 (float32 for binary data: exact counts below 2^24 features).

Targets are cut into contiguous blocks of about equal work, one a thread
(``torch.get_num_threads()``); the loop releases the GIL. A thread pushes into any target's heap,
so each keeps its own ``n x k`` heaps (12 bytes an entry), merged at the end; threads are capped so
that these stay within :data:`HEAP_BYTES`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from numba import njit

#: how each similarity's denominator is formed in the loop (``eps`` is ``1e-6 + shrink``)
MODE_FACTORS = 0  # dot / (target_factor[a] * neighbour_factor[c] + eps): the cosine family
MODE_SHRINK = 1  # dot / shrink (``normalize=False``; shrink 1 when none is given)
MODE_JACCARD = 2  # dot / (n_a + n_c - dot + eps)
MODE_DICE = 3  # dot / (n_a + n_c + eps)
MODE_TVERSKY = 4  # dot / (dot + t_alpha (n_a - dot) + t_beta (n_c - dot) + eps)


class Denominator(NamedTuple):
    """How a dot product becomes a similarity: the ``MODE_*`` formula and its terms, in the order
    :func:`pair_loop` takes them. ``target_factor, neighbour_factor, squares: float64[n]``."""

    mode: int
    target_factor: np.ndarray
    neighbour_factor: np.ndarray
    squares: np.ndarray
    shrink: float
    eps: float
    tversky_alpha: float
    tversky_beta: float


#: a target's pair work times this at or above its candidate count: scan every candidate's sum
#: instead of noting each first touch (the scan is sequential; the note is a branch per pair)
SCAN_WORK_RATIO = 4.0
#: the most bytes the threads' private heaps may take together (each is ``n x k x 12`` bytes)
HEAP_BYTES = 2 * 1024**3
_HEAP_ENTRY_BYTES = 12  # float64 value + int32 id


@njit(inline="always")
def worse(v1: float, i1: int, v2: float, i2: int) -> bool:
    """Whether ``(v1, i1)`` ranks below ``(v2, i2)``: a smaller value, or an equal one with a higher id."""
    return v1 < v2 or (v1 == v2 and i1 > i2)


@njit(inline="always")
def sift_down(heap_v: np.ndarray, heap_i: np.ndarray, t: int, size: int) -> None:
    """Restore target ``t``'s heap (its first ``size`` entries) after its root changed."""
    p = 0
    while True:
        child = 2 * p + 1
        if child >= size:
            return
        if child + 1 < size and worse(heap_v[t, child + 1], heap_i[t, child + 1], heap_v[t, child], heap_i[t, child]):
            child += 1
        if not worse(heap_v[t, child], heap_i[t, child], heap_v[t, p], heap_i[t, p]):
            return
        heap_v[t, p], heap_v[t, child] = heap_v[t, child], heap_v[t, p]
        heap_i[t, p], heap_i[t, child] = heap_i[t, child], heap_i[t, p]
        p = child


@njit(inline="always")
def push(
    heap_v: np.ndarray, heap_i: np.ndarray, sizes: np.ndarray, roots: np.ndarray, t: int, v: float, j: int
) -> None:
    """Offer ``(v, j)`` to target ``t``'s min-heap of its ``k`` best (root: the worst kept).

    ``roots[t]`` mirrors a full heap's root value (``-inf`` until it is full), so that most
    offers are refused from one compact array instead of a cache miss into the heaps.
    """
    if v < roots[t]:
        return
    k = heap_v.shape[1]
    size = sizes[t]
    if size < k:
        p = size
        heap_v[t, p], heap_i[t, p] = v, j
        while p > 0:
            parent = (p - 1) // 2
            if not worse(heap_v[t, p], heap_i[t, p], heap_v[t, parent], heap_i[t, parent]):
                break
            heap_v[t, p], heap_v[t, parent] = heap_v[t, parent], heap_v[t, p]
            heap_i[t, p], heap_i[t, parent] = heap_i[t, parent], heap_i[t, p]
            p = parent
        sizes[t] = size + 1
        if size + 1 == k:
            roots[t] = heap_v[t, 0]
    elif worse(heap_v[t, 0], heap_i[t, 0], v, j):
        heap_v[t, 0], heap_i[t, 0] = v, j
        sift_down(heap_v, heap_i, t, size)
        roots[t] = heap_v[t, 0]


@njit(inline="always")
def similarity(
    mode: int,
    dot: float,
    target_factor: float,
    neighbour_factor: float,
    target_square: float,
    neighbour_square: float,
    shrink: float,
    eps: float,
    tversky_alpha: float,
    tversky_beta: float,
) -> float:
    """A target's similarity to a neighbour from their dot product and their per-entity terms
    (scalars only: arrays passed to helpers cost reference counting in the hot loop)."""
    if mode == MODE_FACTORS:
        return dot / (target_factor * neighbour_factor + eps)
    if mode == MODE_SHRINK:
        return dot / shrink
    if mode == MODE_JACCARD:
        return dot / (target_square + neighbour_square - dot + eps)
    if mode == MODE_DICE:
        return dot / (target_square + neighbour_square + eps)
    return dot / (dot + tversky_alpha * (target_square - dot) + tversky_beta * (neighbour_square - dot) + eps)


@njit(nogil=True, cache=True)
def pair_loop(
    col_ptr: np.ndarray,
    col_features: np.ndarray,
    col_values: np.ndarray,
    row_positions: np.ndarray,
    row_ptr: np.ndarray,
    row_entities: np.ndarray,
    row_values: np.ndarray,
    binary: bool,
    work: np.ndarray,
    start: int,
    stop: int,
    mode: int,
    target_factor: np.ndarray,
    neighbour_factor: np.ndarray,
    squares: np.ndarray,
    shrink: float,
    eps: float,
    tversky_alpha: float,
    tversky_beta: float,
    acc: np.ndarray,
    heap_v: np.ndarray,
    heap_i: np.ndarray,
    sizes: np.ndarray,
    roots: np.ndarray,
    negatives: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Every pair ``(a, c)``, ``start <= a < stop``, ``c > a``, with a shared feature: both its
    similarities offered to their targets' heaps, ``negatives[t]`` counting target ``t``'s
    negative ones. ``row_positions[p]``: where CSC entry ``p``
    (feature ``f``, target ``a``) sits in feature ``f``'s CSR row. ``acc`` is all zeros on entry
    and on return."""
    n = target_factor.shape[0]
    touched = np.empty(n, np.int64)
    stamp = np.full(n, -1, np.int64)
    for a in range(start, stop):
        m = 0
        scan = work[a] * SCAN_WORK_RATIO >= n - a - 1
        for p in range(col_ptr[a], col_ptr[a + 1]):
            f = col_features[p]
            w = np.float64(col_values[p])
            for q in range(row_positions[p] + 1, row_ptr[f + 1]):
                c = row_entities[q]
                if not scan and stamp[c] != a:  # few pairs: note each candidate on its first touch
                    stamp[c] = a
                    touched[m] = c
                    m += 1
                if binary:
                    acc[c] += 1.0
                else:
                    acc[c] += w * row_values[q]
        if scan:  # many pairs: one sequential pass collects the candidates instead
            for c in range(a + 1, n):
                if acc[c] != 0.0:
                    touched[m] = c
                    m += 1
        for t in range(m):
            c = touched[t]
            dot = np.float64(acc[c])
            acc[c] = 0.0
            if dot == 0.0:
                continue
            for target, neighbour in ((a, c), (c, a)):  # the pair's two similarities: a's to c, c's to a
                s = similarity(
                    mode,
                    dot,
                    target_factor[target],
                    neighbour_factor[neighbour],
                    squares[target],
                    squares[neighbour],
                    shrink,
                    eps,
                    tversky_alpha,
                    tversky_beta,
                )
                if s < 0.0:
                    negatives[target] += 1
                if s != 0.0 and s >= roots[target]:
                    push(heap_v, heap_i, sizes, roots, target, s, neighbour)


@njit(nogil=True, cache=True)
def merge_heaps(
    heap_v: np.ndarray,
    heap_i: np.ndarray,
    sizes: np.ndarray,
    roots: np.ndarray,
    negatives: np.ndarray,
    out_ids: np.ndarray,
    out_values: np.ndarray,
    out_count: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """The threads' heaps ``[threads, n, k]`` merged into the first, each target's negatives cut
    to those its column's top ``k`` holds, and written to ``out_*[n, k]`` and ``out_count[n]``."""
    threads, n, k = heap_v.shape
    for t in range(n):
        for h in range(1, threads):
            for e in range(sizes[h, t]):
                push(heap_v[0], heap_i[0], sizes[0], roots[0], t, heap_v[h, t, e], heap_i[h, t, e])
            negatives[0, t] += negatives[h, t]
        size = sizes[0, t]
        # the column's top k holds its zeros (n - positives - negatives of them) above every negative,
        # so it keeps max(0, k - n + negatives) negatives, the largest
        keep_negatives = max(0, k - n + negatives[0, t])
        held_negatives = 0
        for e in range(size):
            held_negatives += heap_v[0, t, e] < 0.0
        while held_negatives > keep_negatives:  # the root is the worst: negatives leave first
            size -= 1
            heap_v[0, t, 0], heap_i[0, t, 0] = heap_v[0, t, size], heap_i[0, t, size]
            sift_down(heap_v[0], heap_i[0], t, size)
            held_negatives -= 1
        for e in range(size):
            out_ids[t, e] = heap_i[0, t, e]
            out_values[t, e] = heap_v[0, t, e]
        out_count[t] = size


def work_blocks(work: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Targets ``0:n`` cut into at most ``parts`` contiguous ``(start, stop)`` blocks of about equal
    ``work`` (one value per target)."""
    n = len(work)
    if parts <= 1 or n < 2 * parts:
        return [(0, n)]
    total = np.concatenate([[0.0], np.cumsum(work + 1.0)])
    cuts = np.searchsorted(total, np.linspace(0.0, total[-1], parts + 1)[1:-1])
    bounds = [0, *sorted({int(c) for c in cuts}), n]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=False) if b > a]


def target_cost(work: np.ndarray) -> np.ndarray:
    """Each target's cost in pairs, for cutting blocks: its pairs, plus either the candidate scan
    (sequential, counted a quarter of a pair each) or a first-touch note per pair."""
    n = len(work)
    candidates = n - 1 - np.arange(n)
    return work + np.minimum(candidates, work * SCAN_WORK_RATIO) / SCAN_WORK_RATIO


def heap_threads(n: int, k: int, threads: int) -> int:
    """Threads whose private ``n x k`` heaps fit :data:`HEAP_BYTES` (at least one)."""
    return max(1, min(int(threads), HEAP_BYTES // max(1, n * k * _HEAP_ENTRY_BYTES)))


def compiled_topk(x: sp.csr_matrix, k: int, denominator: Denominator, threads: int) -> sp.csc_matrix:
    """``float32[n, n]`` CSC, column ``a`` holding target ``a``'s top ``k`` neighbours, for
    ``x: float32[n_features, n]`` (CSR, zeros eliminated), similarities by ``denominator``; up to
    ``threads`` blocks of targets run at once.
    """
    x = sp.csr_matrix(x, dtype=np.float32, copy=True)
    x.sum_duplicates()  # canonical: sorted ids, no duplicates, so "after a" is a suffix of the row
    n_features, n = x.shape
    binary = bool(np.all(x.data == 1.0))
    # CSC of x whose values are the CSR positions: where each (f, a) sits in row f
    positions = sp.csr_matrix((np.arange(x.nnz, dtype=np.int64), x.indices, x.indptr), shape=x.shape).tocsc()
    positions.sort_indices()
    row_positions = positions.data
    col_ptr, row_ptr = positions.indptr.astype(np.int64), x.indptr.astype(np.int64)
    col_values = x.data[row_positions]
    entities = x.indices.astype(np.uint16 if n <= 2**16 else np.int32)
    after = (row_ptr[positions.indices + 1] - row_positions - 1).astype(np.float64)  # entries after a in row f
    running = np.concatenate([[0.0], np.cumsum(after)])
    work = running[col_ptr[1:]] - running[col_ptr[:-1]]  # pairs (a, c > a) through a's features
    blocks = work_blocks(target_cost(work), heap_threads(n, k, threads))
    acc_dtype = np.float32 if binary and n_features < 2**24 else np.float64
    heap_v = np.empty((len(blocks), n, k), np.float64)
    heap_i = np.empty((len(blocks), n, k), np.int32)
    sizes = np.zeros((len(blocks), n), np.int64)
    roots = np.full((len(blocks), n), -np.inf)
    negatives = np.zeros((len(blocks), n), np.int64)

    def run(h: int) -> None:
        start, stop = blocks[h]
        pair_loop(
            col_ptr,
            positions.indices,
            col_values,
            row_positions,
            row_ptr,
            entities,
            x.data,
            binary,
            work,
            start,
            stop,
            *denominator,
            np.zeros(n, acc_dtype),
            heap_v[h],
            heap_i[h],
            sizes[h],
            roots[h],
            negatives[h],
        )

    if len(blocks) == 1:
        run(0)
    else:
        with ThreadPoolExecutor(max_workers=len(blocks), thread_name_prefix="recframe-knn") as pool:
            list(pool.map(run, range(len(blocks))))
    out_ids = np.zeros((n, k), np.int32)
    out_values = np.zeros((n, k), np.float32)
    out_count = np.zeros(n, np.int64)
    merge_heaps(heap_v, heap_i, sizes, roots, negatives, out_ids, out_values, out_count)
    kept = np.arange(k)[None, :] < out_count[:, None]
    indptr = np.concatenate([[0], np.cumsum(out_count)])
    result = sp.csc_matrix((out_values[kept], out_ids[kept], indptr), shape=(n, n), dtype=np.float32)
    result.sort_indices()
    return result
