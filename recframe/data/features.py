"""Feature fields for context-aware (CTR) models, declared in ``data.features`` and built once.

A *field* is one input slot of a CTR model: the user id, the user's gender, the movie's genres,
the hour of the rating. The data config declares them per side::

    features:
      ids: true                        # the user id and the item id are fields too (default)
      user: [gender, age, occupation, {name: zip_prefix, column: zip, prefix: 2}]
      item: [{name: genres, kind: multi_hot}, {name: year, kind: bucket, boundaries: [1960, 1980]}]
      context: [hour, weekday]         # derived from each interaction's timestamp (UTC)

A field is a column name (a categorical field of that name) or a mapping with ``name`` and
optionally ``column`` (default: the name), ``kind`` (``categorical``, ``multi_hot`` or
``bucket``), ``prefix`` (categorical: the first ``n`` characters of the value's text, e.g. a zip
prefix), ``sep`` (multi_hot: the token separator, default ``|``) and ``boundaries`` (bucket:
ascending numeric cut points). Context fields are ``hour`` (0-23) and ``weekday`` (0 = Monday).

Every field gets dense ids in one global vocabulary: field ``f`` owns ``[offset_f, offset_f +
size_f)`` and its id ``offset_f + 0`` means *missing or unknown*. Multi-hot fields take several
*slots* (a movie's genres), padded with the id ``pad = vocab_size``. :func:`build_features` turns
the user and item tables into ``int64[n_users, S_user]`` and ``int64[n_items, S_item]`` slot
matrices once per run (vectorised, well under a second on ML-1M); :meth:`FeatureTables.context`
maps an interaction table's timestamps to ``int64[N, S_context]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError, did_you_mean

SIDES = ("user", "item", "context")
KINDS = ("categorical", "multi_hot", "bucket")
CONTEXT_FIELDS = {"hour": 24, "weekday": 7}
FIELD_KEYS = ("name", "column", "kind", "prefix", "sep", "boundaries")


@dataclass(frozen=True)
class Field:
    """One feature field: its side, kind and place in the global vocabulary.

    ``size`` counts the missing/unknown id (local id 0); ``width`` is the number of slots it takes
    in its side's slot matrix (1, or the most tokens of any row for ``multi_hot``). ``values`` are
    the raw values of local ids ``1..size-1`` (as text), for reading embeddings back.
    """

    name: str
    side: str
    kind: str
    offset: int
    size: int
    width: int
    values: tuple[str, ...]


@dataclass
class FeatureTables:
    """The built feature ids of one run (numpy; models copy them into buffers).

    Attributes:
        fields: every field, user side first, then item, then context (the model's field order).
        user: ``int64[n_users, S_user]`` global ids of each user's slots (``pad`` where unused).
        item: ``int64[n_items, S_item]`` global ids of each item's slots.
        vocab_size: number of real ids; ``pad == vocab_size``.
        slot_field: per side, ``int64[S_side]``: the index in ``fields`` of each slot.
    """

    fields: list[Field]
    user: np.ndarray
    item: np.ndarray
    vocab_size: int
    slot_field: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def pad(self) -> int:
        return self.vocab_size

    @property
    def n_fields(self) -> int:
        return len(self.fields)

    def side_fields(self, side: str) -> list[Field]:
        return [f for f in self.fields if f.side == side]

    @property
    def context_width(self) -> int:
        return len(self.slot_field["context"])

    def context(self, data: Interactions) -> np.ndarray:
        """``int64[N, S_context]`` global ids of each interaction's context fields.

        ``hour`` and ``weekday`` read the timestamp as UTC seconds (1970-01-01 was a Thursday).
        """
        ctx = self.side_fields("context")
        if not ctx:
            return np.zeros((len(data), 0), dtype=np.int64)
        if data.timestamp is None:
            raise ConfigError(
                "data.features.context needs timestamps, but the dataset has none; remove data.features.context"
            )
        ts = np.asarray(data.timestamp, dtype=np.int64)
        cols = []
        for f in ctx:
            local = (ts // 3600) % 24 if f.name == "hour" else ((ts // 86400) + 3) % 7
            cols.append(f.offset + 1 + local)
        return np.stack(cols, axis=1).astype(np.int64)

    def last_context(self, train: Interactions) -> np.ndarray:
        """``int64[n_users, S_context]``: each user's context at their latest training interaction.

        Users without training interactions get the missing id of every context field.
        """
        out = np.tile(self.unknown_context(), (train.n_users, 1))
        if not out.shape[1] or not len(train):
            return out
        order = np.lexsort((train.timestamp, train.user))  # by user, then time: last row per user wins
        out[train.user[order]] = self.context(train)[order]
        return out

    def unknown_context(self) -> np.ndarray:
        """``int64[S_context]``: the missing id of every context field."""
        return np.array([f.offset for f in self.side_fields("context")], dtype=np.int64)

    def fixed_context(self, values: Mapping[str, Any], key: str = "model.rank_context") -> np.ndarray:
        """``int64[S_context]`` for declared raw values (``{hour: 20, weekday: 5}``); others missing."""
        ctx = {f.name: f for f in self.side_fields("context")}
        out = self.unknown_context()
        for name, value in values.items():
            if name not in ctx:
                raise ConfigError(
                    f"{key}.{name} is not a declared context field (declared: "
                    f"{', '.join(ctx) or 'none'}){did_you_mean(str(name), ctx)}"
                )
            f = ctx[name]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < f.size - 1:
                raise ConfigError(f"{key}.{name} must be an integer in 0..{f.size - 2}, got {value!r}")
            out[list(ctx).index(name)] = f.offset + 1 + int(value)
        return out


def _entries(spec: Mapping[str, Any], side: str) -> list[dict[str, Any]]:
    """The side's field entries as mappings, checking their keys (errors name ``data.features.<side>[i]``)."""
    raw = spec.get(side) or []
    if isinstance(raw, (str, Mapping)) or not isinstance(raw, Sequence):
        raise ConfigError(f"data.features.{side} must be a list of fields, got {raw!r}")
    out = []
    for i, entry in enumerate(raw):
        key = f"data.features.{side}[{i}]"
        entry = {"name": entry} if isinstance(entry, str) else dict(entry) if isinstance(entry, Mapping) else None
        if entry is None or not entry.get("name"):
            raise ConfigError(f"{key} must be a column name or a mapping with 'name', got {raw[i]!r}")
        for k in entry:
            if k not in FIELD_KEYS:
                raise ConfigError(
                    f"{key}.{k} is not a field option ({', '.join(FIELD_KEYS)}){did_you_mean(k, FIELD_KEYS)}"
                )
        kind = entry.setdefault("kind", "categorical")
        if kind not in KINDS:
            raise ConfigError(f"{key}.kind '{kind}' is not one of {', '.join(KINDS)}{did_you_mean(str(kind), KINDS)}")
        out.append({**entry, "key": key})
    names = [e["name"] for e in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(f"data.features.{side} declares the field '{dup}' twice; give one a different name")
    return out


def _missing(values: pd.Series) -> np.ndarray:
    text = values.astype("string")
    return (values.isna() | (text.str.strip() == "")).fillna(True).to_numpy(dtype=bool)


def _categorical(values: pd.Series, prefix: int | None, key: str) -> tuple[np.ndarray, list[str]]:
    """Local ids (0 missing) and the vocabulary of a categorical column."""
    if prefix is not None and (isinstance(prefix, bool) or not isinstance(prefix, int) or prefix < 1):
        raise ConfigError(f"{key}.prefix must be an integer >= 1, got {prefix!r}")
    missing = _missing(values)
    text = values.astype("string").fillna("").str.strip()
    if prefix is not None:
        text = text.str[:prefix]
    text = text.to_numpy(dtype=object)
    vocab = sorted({t for t, m in zip(text, missing) if not m})
    lookup = {v: i + 1 for i, v in enumerate(vocab)}
    local = np.array([0 if m else lookup[t] for t, m in zip(text, missing)], dtype=np.int64)
    return local.reshape(-1, 1), vocab


def _multi_hot(values: pd.Series, sep: str, key: str) -> tuple[np.ndarray, list[str]]:
    """Local ids ``[n, width]`` (``-1`` padding; a row without tokens holds one 0) and the vocabulary."""
    if not isinstance(sep, str) or not sep:
        raise ConfigError(f"{key}.sep must be a non-empty string, got {sep!r}")
    missing = _missing(values)
    rows = [[] if m else [t.strip() for t in str(v).split(sep) if t.strip()] for v, m in zip(values, missing)]
    vocab = sorted({t for r in rows for t in r})
    lookup = {v: i + 1 for i, v in enumerate(vocab)}
    width = max([len(r) for r in rows] + [1])
    local = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        ids = sorted({lookup[t] for t in r}) or [0]
        local[i, : len(ids)] = ids
    return local, vocab


def _bucket(values: pd.Series, boundaries: Any, key: str) -> tuple[np.ndarray, list[str]]:
    """Local ids: 0 missing, ``1 + number of boundaries <= value`` otherwise."""
    if (
        not isinstance(boundaries, Sequence)
        or isinstance(boundaries, str)
        or not boundaries
        or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in boundaries)
        or list(boundaries) != sorted(set(boundaries))
    ):
        raise ConfigError(f"{key}.boundaries must be a non-empty ascending list of numbers, got {boundaries!r}")
    numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = numeric.isna() & ~_missing(values)
    if bad.any():
        raise ConfigError(
            f"{key}: column '{values.name}' holds non-numeric values such as "
            f"{values[bad].iloc[0]!r}; use kind: categorical"
        )
    b = np.asarray(boundaries, dtype=np.float64)
    x = numeric.to_numpy()
    local = np.where(np.isnan(x), 0, 1 + np.searchsorted(b, np.nan_to_num(x), side="right")).astype(np.int64)
    labels = [f"<{b[0]:g}"] + [f"[{lo:g},{hi:g})" for lo, hi in zip(b[:-1], b[1:])] + [f">={b[-1]:g}"]
    return local.reshape(-1, 1), labels


def _side_table(data: Interactions, side: str, entries: list[dict[str, Any]]) -> pd.DataFrame | None:
    table = data.user_features if side == "user" else data.item_features
    if entries and table is None:
        raise ConfigError(
            f"data.features.{side} is set but the dataset has no {side} feature table; remove data.features.{side}"
        )
    return table


def build_features(spec: Mapping[str, Any] | None, data: Interactions) -> FeatureTables:
    """Build every declared field's ids from ``data``'s user and item tables (once per run).

    ``data`` is any part of the split (all parts share the id space and the feature tables).
    ``spec`` None declares only the id fields. Raises one-line :class:`ConfigError` s that name the
    ``data.features`` key at fault.
    """
    spec = dict(spec or {})
    for key in spec:
        if key not in (*SIDES, "ids"):
            raise ConfigError(
                f"data.features.{key} is not a feature side (user, item, context, ids)"
                f"{did_you_mean(key, (*SIDES, 'ids'))}"
            )
    ids = spec.get("ids", True)
    if not isinstance(ids, bool):
        raise ConfigError(f"data.features.ids must be true or false, got {ids!r}")
    fields: list[Field] = []
    blocks: dict[str, list[np.ndarray]] = {s: [] for s in SIDES}
    slot_field: dict[str, list[int]] = {s: [] for s in SIDES}
    offset = 0

    def add(name: str, side: str, kind: str, local: np.ndarray | None, values: Sequence[str]) -> None:
        nonlocal offset
        size = len(values) + 1
        width = 1 if local is None else local.shape[1]
        fields.append(Field(name, side, kind, offset, size, width, tuple(str(v) for v in values)))
        if local is not None:
            blocks[side].append(np.where(local < 0, -1, local + offset))  # -1: padding, to the pad id below
        slot_field[side].extend([len(fields) - 1] * width)
        offset += size

    for side in ("user", "item"):
        entries = _entries(spec, side)
        table = _side_table(data, side, entries)
        n = data.n_users if side == "user" else data.n_items
        if ids:
            raw = data.user_ids if side == "user" else data.item_ids
            add(
                f"{side}_id",
                side,
                "categorical",
                np.arange(1, n + 1, dtype=np.int64).reshape(-1, 1),
                [str(v) for v in raw],
            )
        for e in entries:
            key, column = e["key"], e.get("column", e["name"])
            if column not in table.columns:
                cols = [c for c in table.columns if c != side]
                raise ConfigError(
                    f"{key}: unknown {side} column '{column}' (columns: {', '.join(map(str, cols))})"
                    f"{did_you_mean(str(column), map(str, cols))}"
                )
            values = table[column].reset_index(drop=True)
            if len(values) != n:
                raise ConfigError(f"{key}: the {side} table has {len(values)} rows for {n} {side}s")
            for k, kind in (("prefix", "categorical"), ("sep", "multi_hot"), ("boundaries", "bucket")):
                if k in e and e["kind"] != kind:
                    raise ConfigError(f"{key}.{k} applies to kind '{kind}', not '{e['kind']}'")
            if e["kind"] == "categorical":
                local, vocab = _categorical(values, e.get("prefix"), key)
            elif e["kind"] == "multi_hot":
                local, vocab = _multi_hot(values, e.get("sep", "|"), key)
            else:
                local, vocab = _bucket(values, e.get("boundaries"), key)
            add(e["name"], side, e["kind"], local, vocab)
    for e in _entries(spec, "context"):
        if e["name"] not in CONTEXT_FIELDS:
            raise ConfigError(
                f"{e['key']}: unknown context field '{e['name']}' (derived from the timestamp: "
                f"{', '.join(CONTEXT_FIELDS)}){did_you_mean(e['name'], CONTEXT_FIELDS)}"
            )
        if e["kind"] != "categorical" or set(e) - {"name", "kind", "key"}:
            raise ConfigError(f"{e['key']}: context field '{e['name']}' takes no options (it is categorical)")
        if data.timestamp is None:
            raise ConfigError(
                "data.features.context needs timestamps, but the dataset has none; remove data.features.context"
            )
        add(e["name"], "context", "categorical", None, [str(v) for v in range(CONTEXT_FIELDS[e["name"]])])
    if not fields:
        raise ConfigError(
            "data.features declares no field (ids: false and no user, item or context fields); declare at least one"
        )

    def matrix(side: str, n: int) -> np.ndarray:
        if not blocks[side]:
            return np.zeros((n, 0), dtype=np.int64)
        m = np.concatenate(blocks[side], axis=1)
        return np.where(m < 0, offset, m).astype(np.int64)  # padding -> pad id

    return FeatureTables(
        fields,
        matrix("user", data.n_users),
        matrix("item", data.n_items),
        offset,
        {s: np.asarray(slot_field[s], dtype=np.int64) for s in SIDES},
    )


def labels_from_ratings(data: Interactions, positive_min: float, negative_max: float) -> Interactions:
    """Keep rows rated ``>= positive_min`` (label 1) or ``<= negative_max`` (label 0); drop the rest.

    The 0/1 label replaces the rating, so pointwise metrics (AUC, LogLoss) read it as ``rating``.
    """
    if data.rating is None:
        raise ConfigError("protocol.labels needs ratings, but the dataset has none; set protocol.labels=null")
    if not negative_max < positive_min:
        raise ConfigError(f"protocol.labels.negative_max ({negative_max}) must be below positive_min ({positive_min})")
    keep = (data.rating >= positive_min) | (data.rating <= negative_max)
    out = data.subset(keep)
    out.rating = (out.rating >= positive_min).astype(np.float32)
    return out
