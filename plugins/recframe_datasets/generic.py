"""Generic interaction tables: CSV, TSV or Parquet, with the columns named in the config.

No paper: this is the format of most in-house logs. A data config picks the file and maps the
columns::

    name: table
    path: ${paths.data_dir}/my-logs
    file: events.csv            # .csv/.tsv/.txt read as text; .parquet/.pq as Parquet
    sep: ","                    # text only; "\\t" for TSV, "\\s+" for runs of spaces
    header: true                # text only; false: columns are 0-based positions
    columns: {user: user_id, item: item_id, rating: stars, timestamp: ts}   # rating/timestamp optional
    timestamp_format: null      # null: numeric seconds; else a strftime format (e.g. "%Y-%m-%d")
    duplicates: keep            # keep | first | last | max_rating | error
    encoding: utf-8

Instead of ``file``, pre-split ``train`` / ``valid`` / ``test`` files and ``user_features`` /
``item_features`` files may be named (rules in :mod:`recframe_datasets.presplit`).

Ids may be integers or strings: they are remapped to dense ids in sorted order and the raw ids
kept in ``user_ids`` / ``item_ids`` (integer-looking ids stay integers). Ratings and timestamps must
be numeric (a bad one names its line); an empty or missing field is an error naming the line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recframe.api import dedup
from recframe.api import Interactions
from recframe.api import check_encoding, numeric_column, parser_error_message
from recframe.api import DataSource
from recframe.api import ConfigError, DataError
from recframe.api import sorted_unique
from recframe_datasets.presplit import UNSEEN, check_feature_spec, id_array, read_feature_file, read_parts

log = logging.getLogger(__name__)
ROLES = ("user", "item", "rating", "timestamp")
DUPLICATES = ("keep", "first", "last", "max_rating", "error")


def check_columns(columns: Any) -> dict[str, Any]:
    """The role -> column mapping, checked: ``user`` and ``item`` required, no unknown roles."""
    if not isinstance(columns, dict) or not columns:
        raise ConfigError("data.columns must map roles to columns, e.g. {user: user_id, item: item_id}")
    unknown = [k for k in columns if k not in ROLES]
    if unknown:
        raise ConfigError(f"data.columns.{unknown[0]} is not a role; roles are {', '.join(ROLES)}")
    for role in ("user", "item"):
        if columns.get(role) is None:
            raise ConfigError(f"data.columns.{role} is missing; name the file's {role} column")
    return {k: v for k, v in columns.items() if v is not None}


def ids(values: pd.Series) -> np.ndarray:
    """Raw ids: ``int64`` when every value is a canonical integer literal, else strings.

    "Canonical" means the integer prints back as the same text, so ``007`` and ``7`` stay two
    distinct (string) ids instead of collapsing into one.
    """
    if values.dtype.kind in "iu":
        return values.to_numpy(np.int64)
    text = values.astype(str).str.strip()
    if text.str.fullmatch(r"-?\d{1,18}").all():
        as_int = text.astype(np.int64)
        if (as_int.astype(str) == text).all():
            return as_int.to_numpy()
    return text.to_numpy(dtype=str)


def frame_to_interactions(
    frame: pd.DataFrame,
    path: Path,
    columns: dict[str, Any],
    *,
    lines: np.ndarray,
    duplicates: str = "keep",
    timestamp_format: str | None = None,
    source: str = "table",
) -> Interactions:
    """Turn a table holding the mapped columns (as text or numbers) into interactions.

    ``lines[r]`` is the file line of row ``r`` (``int64[len(frame)]``), used in error messages.
    """
    for role, col in columns.items():
        empty = frame[col].isna().to_numpy()
        if empty.any():
            line = int(lines[np.flatnonzero(empty)[0]])
            raise DataError(
                f"{path}, line {line}: the {role} column {col!r} is empty (malformed line or missing "
                f"value; check the separator)"
            )
    rating = timestamp = None
    if "rating" in columns:
        rating = numeric_column(frame[columns["rating"]], path, "rating", lines=lines).astype(np.float32)
        bad = ~np.isfinite(rating)
        if bad.any():
            raise DataError(f"{path}, line {int(lines[np.flatnonzero(bad)[0]])}: rating is not finite")
    if "timestamp" in columns:
        col = frame[columns["timestamp"]]
        if timestamp_format:
            when = pd.to_datetime(col.astype(str), format=timestamp_format, errors="coerce", utc=True)
            if when.isna().any():
                row = int(np.flatnonzero(when.isna().to_numpy())[0])
                raise DataError(
                    f"{path}, line {int(lines[row])}: timestamp {col.iloc[row]!r} does not match "
                    f"data.timestamp_format {timestamp_format!r}"
                )
            epoch = pd.Timestamp("1970-01-01", tz="UTC")  # unit-agnostic (pandas may store s, us or ns)
            timestamp = ((when - epoch) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
        else:
            seconds = np.floor(numeric_column(col, path, "timestamp", lines=lines))
            bad = ~(np.abs(seconds) < 2.0**63)  # inf, or beyond int64: would become INT64_MIN
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"{path}, line {int(lines[row])}: timestamp {col.iloc[row]!r} is not a finite "
                    f"number of seconds within int64 range"
                )
            timestamp = seconds.astype(np.int64)
    data = Interactions.from_raw(
        ids(frame[columns["user"]]),
        ids(frame[columns["item"]]),
        rating=rating,
        timestamp=timestamp,
        meta={"source": source, "file": str(path)},
    )
    return apply_duplicates(data, duplicates, path)


def apply_duplicates(data: Interactions, policy: str, path: Path) -> Interactions:
    """The declared duplicate-pair policy: keep all, keep one (``first``/``last``/``max_rating``), or fail."""
    if policy not in DUPLICATES:
        raise ConfigError(f"data.duplicates '{policy}' is not one of {', '.join(DUPLICATES)}")
    key = data.user * data.n_items + data.item
    n_dup = len(key) - len(sorted_unique(key))
    if n_dup == 0 or policy == "keep":
        if n_dup:
            log.info("%s: %d duplicate user-item rows kept (data.duplicates=keep)", path, n_dup)
        return data
    if policy == "error":
        raise DataError(
            f"{path}: {n_dup} duplicate user-item row(s); set data.duplicates to keep, first, last or max_rating"
        )
    out = dedup(data, keep=policy)
    log.info("%s: dropped %d duplicate user-item rows (data.duplicates=%s)", path, n_dup, policy)
    return out.compact()


def read_text_table(
    path: Path, columns: dict[str, Any], *, sep: str, header: bool, encoding: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The mapped columns of a delimited text file as text, and the file line of each row.

    Blank lines are dropped; every other row keeps its line number for error messages.
    """
    wanted = list(dict.fromkeys(columns.values()))
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    if header:
        try:
            head = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding, engine="c")
        except pd.errors.EmptyDataError:
            raise DataError(f"{path} is empty") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not valid {encoding} text ({exc.reason}); set data.encoding") from None
        have = [str(c) for c in head.columns]
        for role, col in columns.items():
            if str(col) not in have:
                hint = f" (is the separator {sep!r} right?)" if len(have) == 1 else ""
                raise ConfigError(
                    f"data.columns.{role}: column {col!r} is not in {path.name} (columns: {', '.join(have[:12])}){hint}"
                )
    else:
        for role, col in columns.items():
            if isinstance(col, bool) or not isinstance(col, int) or col < 0:
                raise ConfigError(
                    f"data.columns.{role} must be a 0-based column number when data.header is false, got {col!r}"
                )
    try:
        # No ``usecols``: with it pandas silently accepts lines with extra fields.
        frame = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            dtype=str,
            encoding=encoding,
            engine="c",
            on_bad_lines="error",
            skip_blank_lines=False,
            keep_default_na=False,
            na_values=[""],
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except pd.errors.ParserError as exc:
        raise DataError(parser_error_message(path, exc, sep)) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid {encoding} text ({exc.reason}); set data.encoding") from None
    missing = [(role, col) for role, col in columns.items() if col not in frame.columns]
    if missing:  # a headerless file narrower than a column number
        role, col = missing[0]
        raise ConfigError(
            f"data.columns.{role}: column {col} is beyond the {frame.shape[1]} column(s) of {path.name} "
            f"(numbers are 0-based; is the separator {sep!r} right?)"
        )
    blank = frame.isna().all(axis=1).to_numpy()  # read with skip_blank_lines=False: row r is line r+1(+1)
    frame = frame[wanted]
    lines = np.arange(len(frame), dtype=np.int64) + (2 if header else 1)
    return frame.loc[~blank].reset_index(drop=True), lines[~blank]


class Table(DataSource):
    """A CSV/TSV/Parquet file of interactions with a configured column mapping (see module docs)."""

    def __init__(
        self,
        path,
        file: str | None = None,
        columns: dict[str, Any] | None = None,
        format: str | None = None,
        sep: str = ",",
        header: bool = True,
        encoding: str = "utf-8",
        duplicates: str = "keep",
        timestamp_format: str | None = None,
        train: str | None = None,
        valid: str | None = None,
        test: str | None = None,
        unseen: str = "drop",
        user_features: dict[str, Any] | None = None,
        item_features: dict[str, Any] | None = None,
    ) -> None:
        columns = check_columns(dict(columns) if columns is not None else None)
        if (file is None) == (train is None):
            raise ConfigError(
                "data.file or data.train must be set (one, not both): data.file=events.csv for one file, "
                "or data.train=train.csv data.test=test.csv [data.valid=valid.csv] for a split of your own"
            )
        if train is not None and test is None:
            raise ConfigError(
                "data.test is missing: a pre-split table needs data.train and data.test (data.valid optional)"
            )
        if file is None and valid is not None and test is None:
            raise ConfigError("data.valid needs data.test")
        if file is not None and (valid is not None or test is not None):
            raise ConfigError("data.valid / data.test go with data.train, not data.file; set data.train instead")
        if unseen not in UNSEEN:
            raise ConfigError(f"data.unseen must be one of {', '.join(UNSEEN)}, got {unseen!r}")
        first = str(file if file is not None else train)
        if header or first.lower().endswith((".parquet", ".pq")):  # names, even if YAML read them as numbers
            columns = {role: str(col) for role, col in columns.items()}
        fmt = format or ("parquet" if first.lower().endswith((".parquet", ".pq")) else "text")
        if fmt not in ("text", "csv", "tsv", "parquet"):
            raise ConfigError(f"data.format '{fmt}' is not one of text, csv, tsv, parquet")
        if duplicates not in DUPLICATES:
            raise ConfigError(f"data.duplicates '{duplicates}' is not one of {', '.join(DUPLICATES)}")
        check_encoding(encoding)
        super().__init__(
            path,
            file=file,
            columns=columns,
            format=fmt,
            sep=sep,
            header=header,
            encoding=encoding,
            duplicates=duplicates,
            timestamp_format=timestamp_format,
            train=train,
            valid=valid,
            test=test,
            unseen=unseen,
            user_features=None if user_features is None else dict(user_features),
            item_features=None if item_features is None else dict(item_features),
        )
        self.file, self.columns, self.format = file, columns, fmt
        self.sep = "\t" if fmt == "tsv" and sep == "," else sep
        self.header, self.encoding = bool(header), encoding
        self.duplicates, self.timestamp_format = duplicates, timestamp_format
        self.splits = {"train": train, "valid": valid, "test": test}
        self.unseen = unseen
        self.side = {
            side: check_feature_spec(spec, f"data.{side}_features", self.sep)
            for side, spec in (("user", user_features), ("item", item_features))
        }
        named = (file,) if file is not None else tuple(str(f) for f in (train, valid, test) if f is not None)
        self.files = named + tuple(s["file"] for s in self.side.values() if s is not None)

    def load(self) -> Interactions:
        if self.file is not None:
            data = self.finish(self.read_one(self.path / self.file)[0], self.path / self.file)
        else:
            data = read_parts(self.path, self.splits, self.read_one, self.unseen, self.finish)
        for side, spec in self.side.items():
            if spec is not None:
                raw = id_array(data.user_ids if side == "user" else data.item_ids)
                setattr(data, f"{side}_features", read_feature_file(spec, self.path, raw, side, self.encoding))
        return data

    def finish(self, data: Interactions, path: Path) -> Interactions:
        """The duplicate policy (``keep`` was applied, and its count logged, when the file was read)."""
        return data if self.duplicates == "keep" else apply_duplicates(data, self.duplicates, path)

    def read_one(self, path: Path) -> tuple[Interactions, np.ndarray]:
        """One interaction file as interactions (every row, before the duplicate policy), with the file line
        of each row (``int64[N]``)."""
        if self.format == "parquet":
            import pyarrow.parquet as pq

            try:
                have = pq.read_schema(path).names
            except Exception as exc:  # pyarrow raises several types for a non-Parquet file
                raise DataError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
            for role, col in self.columns.items():
                if str(col) not in have:
                    raise ConfigError(
                        f"data.columns.{role}: column {col!r} is not in {path.name} (columns: {', '.join(have[:12])})"
                    )
            frame = pd.read_parquet(path, columns=list(dict.fromkeys(self.columns.values())))
            lines = np.arange(len(frame), dtype=np.int64) + 1  # Parquet "lines" are 1-based rows
        else:
            frame, lines = read_text_table(path, self.columns, sep=self.sep, header=self.header, encoding=self.encoding)
        if len(frame) == 0:
            raise DataError(f"{path} has no data lines")
        with_lines = frame_to_interactions(
            frame, path, self.columns, lines=lines, duplicates="keep", timestamp_format=self.timestamp_format
        )
        return with_lines, lines
