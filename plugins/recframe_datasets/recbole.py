"""RecBole atomic files (W. X. Zhao et al., *RecBole: Towards a Unified, Comprehensive and Efficient
Framework for Recommendation Algorithms*, CIKM 2021; https://recbole.io/docs/user_guide/data/atomic_files.html).

``<dataset>.inter`` (required), ``<dataset>.user`` and ``<dataset>.item`` (optional) are
tab-separated with a typed header, e.g. ``user_id:token<TAB>item_id:token<TAB>rating:float<TAB>
timestamp:float``. Types: ``token`` (an id or category, kept as text), ``float``, ``token_seq``
(space-separated tokens, read as a list of strings) and ``float_seq`` (a list of floats). The
``.inter`` columns used as user, item, rating and timestamp are named by ``columns`` (RecBole's
``USER_ID_FIELD`` etc.; defaults ``user_id``, ``item_id``, ``rating``, ``timestamp``; a missing
rating or timestamp column is simply absent). Every other ``.user`` / ``.item`` column becomes a
feature, aligned with dense ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recframe.api import Interactions
from recframe.api import check_encoding, parser_error_message
from recframe.api import DataSource
from recframe.api import ConfigError, DataError
from recframe_datasets.generic import DUPLICATES, frame_to_interactions

TYPES = ("token", "float", "token_seq", "float_seq")
DEFAULT_COLUMNS = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}


def read_atomic(path: Path, sep: str, encoding: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """A RecBole atomic file as text columns named without their types, and ``{name: type}``."""
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    try:
        with open(path, encoding=encoding) as fh:
            header = fh.readline().rstrip("\r\n").removeprefix("\ufeff").split(sep)  # a BOM is not part of a name
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid {encoding} text ({exc.reason}); set data.encoding") from None
    types: dict[str, str] = {}
    for field in header:
        name, colon, kind = field.rpartition(":")
        if not colon or kind not in TYPES:
            raise DataError(
                f"{path}, line 1: header field {field!r} is not 'name:type' with type in "
                f"{', '.join(TYPES)} (is the separator {sep!r} right?)"
            )
        types[name] = kind
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            header=0,
            names=list(types),
            dtype=str,
            encoding=encoding,
            engine="c",
            on_bad_lines="error",
            skip_blank_lines=False,
            keep_default_na=False,
            na_values=[""],
            quoting=3,
        )
    except pd.errors.ParserError as exc:
        raise DataError(parser_error_message(path, exc, sep)) from None
    return frame, types


def feature_table(
    frame: pd.DataFrame, types: dict[str, str], id_col: str, raw_ids: np.ndarray, path: Path
) -> pd.DataFrame:
    """Side features of a ``.user`` / ``.item`` file, one row per dense id (unlisted ids get NaN)."""
    if id_col not in frame:
        raise DataError(f"{path}: no {id_col!r} column (columns: {', '.join(frame.columns)})")
    out = frame.dropna(how="all").copy()
    for col, kind in types.items():
        if col == id_col:
            continue
        if kind == "float":
            out[col] = pd.to_numeric(out[col], errors="coerce")
        elif kind == "token_seq":
            out[col] = out[col].fillna("").str.split()
        elif kind == "float_seq":
            out[col] = out[col].fillna("").str.split().map(lambda xs: [float(x) for x in xs])  # per item, small
    keys = out[id_col].str.strip()
    if raw_ids.dtype.kind in "iu":
        keys = pd.to_numeric(keys, errors="coerce")
    out = out.assign(**{id_col: keys}).drop_duplicates(id_col).set_index(id_col)
    return out.reindex(raw_ids).rename_axis(id_col).reset_index()


class RecBoleAtomic(DataSource):
    """``<dataset>.inter`` (+ optional ``.user`` / ``.item``) in RecBole's typed atomic-file format."""

    homepage = "https://recbole.io/docs/user_guide/data/atomic_files.html"

    def __init__(
        self,
        path,
        dataset: str | None = None,
        columns: dict[str, Any] | None = None,
        sep: str = "\t",
        encoding: str = "utf-8",
        duplicates: str = "keep",
    ) -> None:
        dataset = dataset or Path(path).name
        columns = {**DEFAULT_COLUMNS, **(dict(columns) if columns else {})}
        unknown = [k for k in columns if k not in DEFAULT_COLUMNS]
        if unknown:
            raise ConfigError(f"data.columns.{unknown[0]} is not a role; roles are {', '.join(DEFAULT_COLUMNS)}")
        if duplicates not in DUPLICATES:
            raise ConfigError(f"data.duplicates '{duplicates}' is not one of {', '.join(DUPLICATES)}")
        check_encoding(encoding)
        super().__init__(path, dataset=dataset, columns=columns, sep=sep, encoding=encoding, duplicates=duplicates)
        self.dataset, self.columns, self.sep = dataset, columns, sep
        self.encoding, self.duplicates = encoding, duplicates
        extra = tuple(f"{dataset}.{ext}" for ext in ("user", "item") if (self.path / f"{dataset}.{ext}").is_file())
        self.files = (f"{dataset}.inter", *extra)

    def load(self) -> Interactions:
        inter = self.path / f"{self.dataset}.inter"
        frame, types = read_atomic(inter, self.sep, self.encoding)
        mapping = {}
        for role, col in self.columns.items():
            if col is None:
                continue
            if col in types:
                mapping[role] = col
            elif role in ("user", "item"):
                raise ConfigError(
                    f"data.columns.{role}: column {col!r} is not in {inter.name} (columns: {', '.join(types)})"
                )
        blank = frame.isna().all(axis=1).to_numpy()
        lines = (np.arange(len(frame), dtype=np.int64) + 2)[~blank]
        data = frame_to_interactions(
            frame.loc[~blank].reset_index(drop=True),
            inter,
            mapping,
            lines=lines,
            duplicates=self.duplicates,
            source="recbole",
        )
        for kind, role in (("user", "user"), ("item", "item")):
            side = self.path / f"{self.dataset}.{kind}"
            if side.is_file():
                table, side_types = read_atomic(side, self.sep, self.encoding)
                raw = data.user_ids if role == "user" else data.item_ids
                features = feature_table(table, side_types, self.columns[role], raw, side)
                setattr(data, f"{role}_features", features)
        return data
