"""Pre-split train/valid/test files and user/item feature files for the ``table`` data source.

RecBole's ``benchmark_filename`` (W. X. Zhao et al., *RecBole*, CIKM 2021) lets a user bring their own
split; here the data config names the files instead of ``file``::

    name: table
    path: /data/my-split
    train: train.csv          # required when splitting by files
    valid: valid.csv          # optional: without it protocol.split.valid carves validation from train
    test: test.csv
    unseen: drop              # valid/test rows whose user or item is not in train: drop (count logged) | error
    user_features: {file: users.csv, id: user_id}     # every other column becomes a user feature
    item_features: {file: items.csv, id: item_id, sep: "|"}

The rows of every file become one :class:`Interactions` with ``split_labels`` (0 train, 1 valid, 2 test),
which the ``predefined`` splitter honours as given (``protocol=presplit``). All split files share the
data config's column mapping, separator, header and formats.

The *unseen* policy: a valid or test row whose user or item never occurs in the train file cannot be
scored by a collaborative model. ``unseen: drop`` removes such rows and logs how many per file (the
count is kept in ``meta["unseen_dropped"]``); ``unseen: error`` stops at the first one, naming its file
and line. Feature files: one row per id (a repeated id is an error naming both lines); ids absent from the
interactions are ignored (counted in the log), ids without a feature row get missing values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from recframe.api import TEST, TRAIN, VALID, ConfigError, DataError, Interactions, parser_error_message

log = logging.getLogger(__name__)
PARTS = (("train", TRAIN), ("valid", VALID), ("test", TEST))
UNSEEN = ("drop", "error")
FEATURE_KEYS = ("file", "id", "sep")


def check_feature_spec(spec: Any, key: str, default_sep: str) -> dict[str, Any] | None:
    """``data.user_features`` / ``data.item_features`` as ``{file, id, sep}``, or ``None`` when unset."""
    if spec is None:
        return None
    if isinstance(spec, str):
        raise ConfigError(f"{key} must be a mapping such as {{file: {spec}, id: <id column>}}, got a string")
    spec = dict(spec)
    unknown = [k for k in spec if k not in FEATURE_KEYS]
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]} is not an option; options are {', '.join(FEATURE_KEYS)}")
    for required in ("file", "id"):
        if not spec.get(required):
            raise ConfigError(f"{key}.{required} is missing; e.g. {key}={{file: features.csv, id: id}}")
    return {"file": str(spec["file"]), "id": str(spec["id"]), "sep": spec.get("sep") or default_sep}


def as_common_type(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Raw id arrays in one dtype: all ``int64`` if every file's ids are integers, else all text."""
    if all(a.dtype.kind in "iu" for a in arrays):
        return [a.astype(np.int64) for a in arrays]
    return [a.astype(str) for a in arrays]


def id_array(raw: np.ndarray | None) -> np.ndarray:
    """An :class:`Interactions`' ``user_ids`` or ``item_ids`` as an array: typed optional, they are set by
    ``__post_init__`` and so never None on a built table."""
    return cast(np.ndarray, raw)


def unseen_ids(part: Interactions, train: Interactions, side: str) -> np.ndarray:
    """``bool[len(part)]``: rows whose raw ``side`` ("user" or "item") id is absent from ``train``."""
    if side == "user":
        values, known = as_common_type([id_array(part.user_ids)[part.user], id_array(train.user_ids)])
    else:
        values, known = as_common_type([id_array(part.item_ids)[part.item], id_array(train.item_ids)])
    return ~np.isin(values, known)


def unseen_rows(part: Interactions, train: Interactions) -> np.ndarray:
    """``bool[len(part)]``: rows whose raw user or item id is absent from ``train``."""
    return unseen_ids(part, train, "user") | unseen_ids(part, train, "item")


def read_parts(
    path: Path,
    files: Mapping[str, str | None],
    read: Callable[[Path], tuple[Interactions, np.ndarray]],
    unseen: str,
    finish: Callable[[Interactions, Path], Interactions],
) -> Interactions:
    """Read every named split file with ``read`` (``path -> (interactions, file line of each row)``) and
    join them into one table with ``split_labels``, applying the unseen policy to valid and test, then
    ``finish`` (the duplicate policy, within each file)."""
    if unseen not in UNSEEN:
        raise ConfigError(f"data.unseen must be one of {', '.join(UNSEEN)}, got {unseen!r}")
    parts: dict[str, tuple[int, Interactions]] = {}
    dropped: dict[str, int] = {}
    for name, label in PARTS:
        if not files.get(name):
            continue
        file = path / str(files[name])
        data, lines = read(file)
        if name != "train":
            bad = unseen_rows(data, parts["train"][1])
            if bad.any() and unseen == "error":
                row = int(np.flatnonzero(bad)[0])
                side = "user" if unseen_ids(data, parts["train"][1], "user")[row] else "item"
                raw = (
                    id_array(data.user_ids)[data.user[row]]
                    if side == "user"
                    else id_array(data.item_ids)[data.item[row]]
                )
                raise DataError(
                    f"{file}, line {int(lines[row])}, {side} column: {side} {raw} is not in the train file "
                    f"{files['train']}; remove the row or set data.unseen=drop"
                )
            if bad.any():
                dropped[name] = int(bad.sum())
                log.warning(
                    "%s: dropped %d of %d rows whose user or item is not in the train file (data.unseen=drop)",
                    file,
                    dropped[name],
                    len(data),
                )
                data = data.subset(~bad)
        parts[name] = (label, finish(data, file))
    users = as_common_type([id_array(d.user_ids)[d.user] for _, d in parts.values()])
    items = as_common_type([id_array(d.item_ids)[d.item] for _, d in parts.values()])
    ratings = [d.rating for _, d in parts.values()]
    stamps = [d.timestamp for _, d in parts.values()]
    if any(r is None for r in ratings) and not all(r is None for r in ratings):
        raise DataError(f"{path}: some split files have a rating column and others not; map data.columns.rating in all")
    labels = np.concatenate([np.full(len(d), label, dtype=np.int8) for label, d in parts.values()])
    out = Interactions.from_raw(
        np.concatenate(users),
        np.concatenate(items),
        # all or none of the files have ratings (checked above)
        rating=None if ratings[0] is None else np.concatenate(cast(list[np.ndarray], ratings)),
        timestamp=None if any(s is None for s in stamps) else np.concatenate(cast(list[np.ndarray], stamps)),
        split_labels=labels,
        meta={
            "source": "table",
            "presplit": True,
            "files": {k: str(v) for k, v in files.items() if v},
            "unseen_dropped": dropped,
        },
    )
    return out


def read_feature_file(spec: dict[str, Any], path: Path, raw_ids: np.ndarray, side: str, encoding: str) -> pd.DataFrame:
    """One row per dense id of ``raw_ids`` with the file's feature columns (text; missing where no row).

    The id column is kept under its own name, as the other sources' feature tables do.
    """
    file = path / spec["file"]
    if not file.is_file():
        raise DataError(f"data.{side}_features.file: {file} not found; point it at the {side} feature file")
    try:
        frame = pd.read_csv(
            file,
            sep=spec["sep"],
            dtype=str,
            encoding=encoding,
            engine="c",
            on_bad_lines="error",
            keep_default_na=False,
            na_values=[""],
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{file} is empty") from None
    except pd.errors.ParserError as exc:
        raise DataError(parser_error_message(file, exc, spec["sep"])) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not valid {encoding} text ({exc.reason}); set data.encoding") from None
    id_col = spec["id"]
    if id_col not in frame.columns:
        raise ConfigError(
            f"data.{side}_features.id: column {id_col!r} is not in {file.name} "
            f"(columns: {', '.join(map(str, frame.columns[:12]))})"
        )
    keys = frame[id_col].str.strip()
    lines = np.arange(len(frame)) + 2  # header is line 1
    empty = keys.isna().to_numpy()
    if empty.any():
        raise DataError(f"{file}, line {int(lines[np.flatnonzero(empty)[0]])}: the id column {id_col!r} is empty")
    repeated = keys.duplicated().to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        first = int(lines[np.flatnonzero((keys == keys.iloc[row]).to_numpy())[0]])
        raise DataError(
            f"{file}, line {int(lines[row])}: {side} {keys.iloc[row]!r} is repeated (first on line {first}); "
            f"a feature file has one row per {side}"
        )
    wanted = raw_ids.astype(str)
    known = np.isin(keys.to_numpy(dtype=str), wanted)
    if (~known).any():
        log.info(
            "%s: %d of %d rows name a %s without interactions (ignored)", file, int((~known).sum()), len(keys), side
        )
    table = frame.assign(**{id_col: keys}).set_index(id_col).reindex(wanted).rename_axis(id_col).reset_index()
    table[id_col] = raw_ids
    return table
