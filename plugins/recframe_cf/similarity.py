"""Neighbourhood similarities for ItemKNN and UserKNN: top-``k`` per column, sparse, in bounded memory.

The options follow the neighbourhood baselines of M. Ferrari Dacrema, P. Cremonesi, D. Jannach, "Are
We Really Making Much Progress? A Worrying Analysis of Recent Neural Recommendation Approaches",
RecSys 2019 (their similarity definitions, re-implemented here). The input ``x: float[n_features,
n_entities]`` holds one column per compared entity (items for ItemKNN, whose features are users;
users for UserKNN). For columns ``a`` (the target) and ``b`` (a candidate neighbour), with
``dot = <x_a, x_b>``, ``|x|`` the Euclidean norm, ``n_a = sum_f x_fa^2`` (the count for binary data)
and ``s`` the shrink term:

=============  ==================================================================================
cosine         ``dot / (|x_a| |x_b| + s)``
adjusted       cosine after subtracting each *feature row's* mean over its stored values (a
               user's mean rating, for item similarity)
pearson        cosine after subtracting each *entity column's* mean over its stored values
asymmetric     ``dot / (|x_a|^(2 alpha) |x_b|^(2 (1 - alpha)) + s)`` (Aiolli, RecSys 2013)
jaccard        ``dot / (n_a + n_b - dot + s)`` on binarised data
dice           ``dot / (n_a + n_b + s)`` on binarised data (the study's form, without the factor
               2 of the textbook Dice coefficient: the same ranking of neighbours)
tversky        ``dot / (dot + t_alpha (n_a - dot) + t_beta (n_b - dot) + s)`` on binarised data
=============  ==================================================================================

Every denominator also gets ``1e-6`` (so empty columns give 0, not NaN). With ``normalize=False``
the cosine-family options (cosine, adjusted, pearson, asymmetric) skip the norm product and divide
the dot product by ``s`` alone (when ``s > 0``), as the study's code does; jaccard, dice and tversky
always use their own denominators. The self-similarity is 0; each column keeps its ``k`` largest
values, and only non-zero values are stored.

Feature weighting (:func:`weight_features`) rescales ``x`` before the similarity, treating every
entity as a document and every feature as a term: TF-IDF (``sqrt(tf) * idf``) or Okapi BM25.
"""

from __future__ import annotations

import importlib.util
import os
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch

SIMILARITIES = ("cosine", "adjusted", "pearson", "asymmetric", "jaccard", "dice", "tversky")
FEATURE_WEIGHTINGS = ("none", "tfidf", "bm25")
_BINARY = ("jaccard", "dice", "tversky")
#: dense ``n_entities x block`` work arrays are kept near this many float32 values (~128 MiB)
BLOCK_VALUES = 32 * 1024 * 1024
#: measured cost of one multiply-add of scipy's sparse x sparse product against one of its sparse x
#: dense product (5.5 to 7.4 on ML-1M, one thread; benchmarks/similarity_product.py): ``auto``
#: takes the sparse product when its co-occurrence count times this is below the dense product's work
SPARSE_PRODUCT_COST = 5.0
PRODUCTS = ("auto", "compiled", "dense", "sparse")


class Options(NamedTuple):
    """A similarity and its numbers, as :func:`topk_similarity` takes them."""

    similarity: str
    shrink: float
    normalize: bool
    asymmetric_alpha: float
    tversky_alpha: float
    tversky_beta: float


def check_options(
    similarity: str,
    feature_weighting: str,
    k: int,
    shrink: float,
    asymmetric_alpha: float,
    tversky_alpha: float,
    tversky_beta: float,
) -> None:
    """One-line ``ValueError`` for an unknown option or an out-of-range number (before any data is read)."""
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {', '.join(SIMILARITIES)}; got '{similarity}'")
    if feature_weighting not in FEATURE_WEIGHTINGS:
        raise ValueError(f"feature_weighting must be one of {', '.join(FEATURE_WEIGHTINGS)}; got '{feature_weighting}'")
    if int(k) < 1 or float(shrink) < 0:
        raise ValueError(f"need k >= 1 and shrink >= 0, got k={k}, shrink={shrink}")
    if not 0.0 <= float(asymmetric_alpha) <= 2.0:
        raise ValueError(f"asymmetric_alpha must be in [0, 2], got {asymmetric_alpha}")
    if float(tversky_alpha) < 0 or float(tversky_beta) < 0:
        raise ValueError(f"tversky_alpha and tversky_beta must be >= 0, got {tversky_alpha}, {tversky_beta}")


def weight_features(x: sp.csr_matrix, weighting: str, bm25_k1: float = 1.2, bm25_b: float = 0.75) -> sp.csr_matrix:
    """``x: float[n_features, n_entities]`` reweighted, each entity column a document, each feature a term.

    ``idf_f = log(n_entities / (1 + df_f))`` with ``df_f`` the number of entities that have feature
    ``f``. TF-IDF: ``sqrt(x_fe) * idf_f``. BM25: ``x_fe (k1 + 1) / (k1 L_e + x_fe) * idf_f`` with
    the length norm ``L_e = 1 - b + b len_e / mean(len)`` and ``len_e`` the column sum.
    """
    if weighting == "none":
        return x
    x = sp.csr_matrix(x, dtype=np.float64, copy=True)
    n_features, n_entities = x.shape
    df = np.diff(x.indptr)  # entities per feature (rows are features)
    idf = np.log(n_entities / (1.0 + df))
    rows = np.repeat(np.arange(n_features), df)
    if weighting == "tfidf":
        x.data = np.sqrt(x.data) * idf[rows]
    else:
        if not (bm25_k1 > 0 and 0 < bm25_b < 1):
            raise ValueError(f"BM25 needs k1 > 0 and 0 < b < 1, got k1={bm25_k1}, b={bm25_b}")
        length = np.asarray(x.sum(axis=0)).ravel()
        norm = (1.0 - bm25_b) + bm25_b * length / max(length.mean(), 1e-12)
        x.data = x.data * (bm25_k1 + 1.0) / (bm25_k1 * norm[x.indices] + x.data) * idf[rows]
    return x.astype(np.float32)


def _centred(x: sp.csr_matrix, axis: int) -> sp.csr_matrix:
    """Stored values minus their row (``axis=1``) or column (``axis=0``) mean over stored values."""
    m = sp.csr_matrix(x, dtype=np.float64, copy=True) if axis == 1 else sp.csc_matrix(x, dtype=np.float64, copy=True)
    counts = np.diff(m.indptr)
    sums = np.add.reduceat(m.data, m.indptr[:-1]) if len(m.data) else np.zeros(len(counts))
    sums[counts == 0] = 0.0  # reduceat repeats the next value for empty segments
    means = np.divide(sums, counts, out=np.zeros(len(counts)), where=counts > 0)
    m.data -= np.repeat(means, counts)
    return sp.csr_matrix(m)


def topk_similarity(
    x: sp.spmatrix,
    k: int,
    similarity: str = "cosine",
    shrink: float = 0.0,
    normalize: bool = True,
    asymmetric_alpha: float = 0.5,
    tversky_alpha: float = 1.0,
    tversky_beta: float = 1.0,
    block: int | None = None,
    product: str = "auto",
) -> sp.csc_matrix:
    """``float[n, n]`` similarity between the ``n`` columns of ``x: float[n_features, n]``, top ``k`` per column.

    Entry ``[b, a]`` is the similarity of neighbour ``b`` to target ``a``; column ``a`` holds at
    most ``k`` non-zero values (its largest). Computed ``block`` target columns at a time, so the
    dense work array is ``n x block`` (by default sized to :data:`BLOCK_VALUES`). ``product`` says
    how the dot products are formed: ``compiled``, one loop over the co-occurrences that keeps each
    column's top ``k`` as it goes (:mod:`recframe_cf.cooccurrence`, needs numba; no blocks), or a
    block at a time by ``dense`` or ``sparse`` products (:func:`block_dots`). ``auto`` takes
    ``compiled`` when numba is installed and ``RECFRAME_KERNELS`` is not ``0``, else the cheaper
    block product (:func:`choose_product`). All give the same values.
    """
    if product not in PRODUCTS:
        raise ValueError(f"product must be one of {', '.join(PRODUCTS)}; got '{product}'")
    if product == "compiled" and not compiled_available():
        raise ValueError("product 'compiled' needs numba: pip install 'recframe[fast]', or use product 'auto'")
    x = sp.csr_matrix(x, dtype=np.float32)
    if similarity == "adjusted":
        x = _centred(x, axis=1)
    elif similarity == "pearson":
        x = _centred(x, axis=0)
    elif similarity in _BINARY:
        x = x.copy()
        x.data[:] = 1.0
    x.eliminate_zeros()
    if product == "auto":
        product = "compiled" if compiled_available() else choose_product(x)
    n = x.shape[1]
    squares = np.asarray(x.multiply(x).sum(axis=0), dtype=np.float64).ravel()
    norms = np.sqrt(squares)
    k = max(1, min(int(k), n - 1)) if n > 1 else 1
    options = Options(similarity, shrink, normalize, asymmetric_alpha, tversky_alpha, tversky_beta)
    if product == "compiled":
        return _compiled(x, k, options, norms, squares)
    sparse_product = product == "sparse"
    xt = sp.csr_matrix(x.T, dtype=np.float32)  # n x n_features: one row per entity
    xc = sp.csc_matrix(x)  # column slices for the dense target blocks
    block = block or max(1, min(n, BLOCK_VALUES // max(n, 1)))
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        dots = block_dots(x, xt, xc, start, stop, sparse_product)
        sims = _apply_denominator(dots, slice(start, stop), options, norms, squares)
        sims[np.arange(stop - start), np.arange(start, stop)] = 0.0
        top = (
            np.argpartition(-sims, k - 1, axis=1)[:, :k]
            if k < n
            else np.broadcast_to(np.arange(n)[None, :], (stop - start, n))
        )
        top_vals = np.take_along_axis(sims, top, axis=1)
        keep = top_vals != 0.0
        rows.append(top[keep])
        cols.append(np.broadcast_to(np.arange(start, stop)[:, None], top.shape)[keep])
        vals.append(top_vals[keep].astype(np.float32))
    return sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n), dtype=np.float32
    )


def compiled_available() -> bool:
    """Whether ``product="compiled"`` can run: numba installed and ``RECFRAME_KERNELS`` not ``0``."""
    return os.environ.get("RECFRAME_KERNELS", "1") != "0" and importlib.util.find_spec("numba") is not None


def _compiled(x: sp.csr_matrix, k: int, options: Options, norms: np.ndarray, squares: np.ndarray) -> sp.csc_matrix:
    """:func:`topk_similarity` through the compiled co-occurrence loop: each option's denominator as
    the loop's mode and per-entity factors (the same formulas as :func:`_apply_denominator`)."""
    from recframe_cf import cooccurrence as co

    target, neighbour = norms, norms
    divide_by = 1.0
    if options.similarity in _BINARY:
        mode = {"jaccard": co.MODE_JACCARD, "dice": co.MODE_DICE, "tversky": co.MODE_TVERSKY}[options.similarity]
    elif not options.normalize:
        mode, divide_by = co.MODE_SHRINK, (options.shrink if options.shrink > 0 else 1.0)
    else:
        mode = co.MODE_FACTORS
        if options.similarity == "asymmetric":
            target = np.power(norms, 2 * options.asymmetric_alpha)
            neighbour = np.power(norms, 2 * (1 - options.asymmetric_alpha))
    denominator = co.Denominator(
        mode,
        np.ascontiguousarray(target, dtype=np.float64),
        np.ascontiguousarray(neighbour, dtype=np.float64),
        squares,
        divide_by,
        options.shrink + 1e-6,
        float(options.tversky_alpha),
        float(options.tversky_beta),
    )
    return co.compiled_topk(x, k, denominator, torch.get_num_threads())  # it takes its own float32 copy


def choose_product(x: sp.csr_matrix) -> str:
    """``"sparse"`` or ``"dense"``: the cheaper way to form every column pair's dot product of ``x``.

    The sparse x dense product does ``nnz(x) * n`` multiply-adds whatever the overlap; the sparse x
    sparse one does one per co-occurrence, ``sum_f nnz(row f)^2``, each about
    :data:`SPARSE_PRODUCT_COST` times dearer. On ML-1M (3.7e9 against 3.9e8 co-occurrences) the
    sparse product is 1.3 to 1.7 times faster; on ML-20M-sized data (12M interactions) 8.7 times,
    and the dense one grows with interactions x items (docs/performance.md).
    """
    row_counts = np.diff(x.indptr).astype(np.float64)
    dense_work = float(x.nnz) * x.shape[1]
    return "sparse" if SPARSE_PRODUCT_COST * float(row_counts @ row_counts) < dense_work else "dense"


def block_dots(
    x: sp.csr_matrix, xt: sp.csr_matrix, xc: sp.csc_matrix, start: int, stop: int, sparse_product: bool
) -> np.ndarray:
    """``float64[b, n]``: ``<x_a, x_c>`` for the block's targets ``a = start .. stop - 1`` and every column ``c``.

    ``x: [n_features, n]`` (CSR), ``xt`` its transpose (CSR), ``xc`` it as CSC (for column slices).
    Dense: the entity rows times the block's columns made dense (``n_features x b``), then one
    contiguous row per target. Sparse: the block's columns transposed times ``x``, then made dense
    (``b x n``, the same size as the dense product's result).
    """
    if sparse_product:
        dots = (sp.csr_matrix(xc[:, start:stop].T) @ x).toarray()
    else:
        dots = (xt @ xc[:, start:stop].toarray()).T
    return np.ascontiguousarray(dots, dtype=np.float64)


def _apply_denominator(
    dots: np.ndarray, targets: slice, options: Options, norms: np.ndarray, squares: np.ndarray
) -> np.ndarray:
    """``float64[b, n]`` similarities from the dot products ``dots[a, b_]`` of the ``b`` targets with every
    entity (changed in place)."""
    similarity, shrink, normalize = options.similarity, options.shrink, options.normalize
    asymmetric_alpha, tversky_alpha, tversky_beta = (
        options.asymmetric_alpha,
        options.tversky_alpha,
        options.tversky_beta,
    )
    eps = shrink + 1e-6
    target_sq, neighbour_sq = squares[targets][:, None], squares[None, :]
    if similarity == "jaccard":
        dots /= target_sq + neighbour_sq - dots + eps
    elif similarity == "dice":
        dots /= target_sq + neighbour_sq + eps
    elif similarity == "tversky":
        dots /= dots + tversky_alpha * (target_sq - dots) + tversky_beta * (neighbour_sq - dots) + eps
    elif not normalize:
        if shrink > 0:
            dots /= shrink
    elif similarity == "asymmetric":
        target = np.power(norms[targets], 2 * asymmetric_alpha)
        neighbour = np.power(norms, 2 * (1 - asymmetric_alpha))
        dots /= target[:, None] * neighbour[None, :] + eps
    else:
        dots /= norms[targets][:, None] * norms[None, :] + eps
    return dots
