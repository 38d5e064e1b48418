"""Fast, strict readers for the text layouts recommender datasets ship in.

Every reader turns a malformed file into one :class:`~recframe.errors.DataError` line naming the
file and, where one is at fault, the 1-based line number. The fast paths are pandas' C parser and
numpy; the slower diagnosis only runs once a file has already failed.

* :func:`read_delimited`: a headerless (or headed) table with one separator. Multi-character
  separators such as MovieLens' ``::`` are read by the C engine as the single character repeated
  (``1::2`` is ``1``, an empty field, ``2``; only the real columns are kept), which is ~15-20x
  faster than pandas' python engine. Two byte counts then prove every line has exactly the right
  separators, so a stray single ``:`` is still an error; a file that fails is re-read with the
  in-between columns to name the line.
* :func:`read_user_lists`: one line per user, ``user item item ...`` (LightGCN/NGCF and S3-Rec
  sequence files), parsed with one ``bytes.split`` and a ``searchsorted``, no per-line Python.
* :func:`numeric_column`: a column converted to numbers, naming the first bad line on failure.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recframe.errors import ConfigError, DataError


def check_encoding(encoding: str, key: str = "data.encoding") -> str:
    """``encoding`` if Python knows it, else a one-line :class:`ConfigError` naming ``key``."""
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ConfigError(f"{key}: unknown text encoding {encoding!r}; use e.g. utf-8 or latin-1") from None
    return encoding


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def parser_error_message(
    path: Path, exc: Exception, sep: str, names: Sequence[str] | None = None, header: bool = False
) -> str:
    """One line for pandas' "Expected N fields in line L, saw M", in the file's own terms."""
    found = re.search(r"line (\d+), saw (\d+)", str(exc))
    if not found:
        return f"{path}: malformed line ({_first_line(exc).replace('C error: ', '')})"
    line, saw = int(found.group(1)), int(found.group(2))
    if names is None:  # a headed file: the header sets the width
        return f"{path}, line {line}: malformed line ({saw} fields, more than the header's; is the separator {sep!r}?)"
    fields = (saw + len(sep) - 1) // len(sep)  # ``a::b`` read as ``a``, '', ``b``: 3 pieces, 2 fields
    return (
        f"{path}, line {line}: malformed line ({fields} fields, expected {len(names)}: {', '.join(names)}; "
        f"is the separator {sep!r}?)"
    )


_ASCII_COMPATIBLE = {"utf-8", "latin-1", "iso8859-1", "ascii", "cp1252", "iso8859-15"}


def _separators_exact(path: Path, sep: str, n_fields: int, n_rows: int, header: bool) -> bool:
    """Whether every data line holds exactly ``n_fields - 1`` whole ``sep`` runs and no other ``sep[0]``.

    Called after pandas parsed the file with ``sep[0]`` without a "too many fields" error, so no
    line holds more than ``len(sep) * (n_fields - 1)`` separator characters. If the file's totals
    reach that maximum on every line, and the non-overlapping ``sep`` count reaches ``n_fields - 1``
    per line, every character belongs to a whole separator: the fields sit where the fast read put
    them. Empty fields still show up as missing values and are reported by the caller.
    """
    raw = path.read_bytes()
    if header:
        raw = raw[raw.find(b"\n") + 1 :]
    return (
        raw.count(sep[0].encode()) == len(sep) * (n_fields - 1) * n_rows
        and raw.count(sep.encode()) == (n_fields - 1) * n_rows
    )


def read_delimited(
    path: str | Path,
    sep: str,
    names: Sequence[str],
    *,
    encoding: str = "utf-8",
    header: bool = False,
    dtype: Any = None,
    required: Sequence[str] | None = None,
    skip_initial_space: bool = False,
    quote: bool = False,
    _full_check: bool = False,
) -> pd.DataFrame:
    """Read a delimited text file into a DataFrame with columns ``names``.

    Args:
        path: the file.
        sep: the separator; one character, or one character repeated (``"::"``).
        names: column names, in file order (a headed file's own header line is skipped).
        encoding: the text encoding (checked first).
        header: whether the first line is a header to skip.
        dtype: passed to pandas for the named columns.
        required: columns that must be present on every line (default: all of ``names``). A short
            line leaves them empty and is reported as malformed.
        quote: honour ``"``-quoted fields (CSV); off for MovieLens-style files whose titles hold quotes.

    Raises:
        DataError: empty file, a line with too many or too few fields (file and line number), or a
            value that does not parse as its dtype.
    """
    path = Path(path)
    check_encoding(encoding)
    names = list(names)
    required = list(names if required is None else required)
    multi = len(sep) > 1
    if multi and len(set(sep)) != 1:
        raise ConfigError(f"separator {sep!r} is not supported: use one character or one character repeated")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    if multi:
        # ``a::b::c`` read with ``:`` gives a, '', b, '', c: real columns at even positions.
        width = len(sep) - 1
        cols = []
        for n in names:
            cols.append(n)
            cols.extend(f"__gap{len(cols)}_{j}" for j in range(width))
        raw_names = cols[: len(cols) - width]
        read_sep = sep[0]
    else:
        raw_names, read_sep = names, sep
    gaps = [c for c in raw_names if c.startswith("__gap")]
    # Fast path for ``::``: skip the empty in-between columns and check the separator structure of
    # the whole file with two byte counts instead (see :func:`_separators_exact`).
    fast = bool(gaps) and not _full_check and codecs.lookup(encoding).name in _ASCII_COMPATIBLE

    def full_read() -> pd.DataFrame:  # the checked read of every column, for the fast path to fall back on
        return read_delimited(
            path,
            sep,
            names,
            encoding=encoding,
            header=header,
            dtype=dtype,
            required=required,
            skip_initial_space=skip_initial_space,
            quote=quote,
            _full_check=True,
        )

    kwargs: dict[str, Any] = {"usecols": names} if fast else {}
    if dtype is not None:
        kwargs["dtype"] = (
            dtype if not gaps or fast or not isinstance(dtype, dict) else {**dtype, **{g: "float64" for g in gaps}}
        )
    try:
        frame = pd.read_csv(
            path,
            sep=read_sep,
            header=0 if header else None,
            names=raw_names,
            encoding=encoding,
            engine="c",
            on_bad_lines="error",
            skip_blank_lines=False,
            quoting=0 if quote else 3,
            skipinitialspace=skip_initial_space,
            **kwargs,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except pd.errors.ParserError as exc:
        if fast:  # let the full read name the line in the file's own terms
            return full_read()
        raise DataError(parser_error_message(path, exc, sep, names, header)) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not valid {encoding} text ({_first_line(exc)}); set data.encoding (e.g. latin-1)"
        ) from None
    except ValueError as exc:
        # A value that does not convert to the requested dtype: re-read as text to find the line.
        if dtype is None:
            raise DataError(f"{path}: cannot parse ({_first_line(exc)})") from None
        text = read_delimited(
            path,
            sep,
            names,
            encoding=encoding,
            header=header,
            required=required,
            skip_initial_space=skip_initial_space,
            quote=quote,
        )
        wanted = dtype if isinstance(dtype, dict) else {n: dtype for n in names}
        for col, kind in wanted.items():
            if col in text and np.dtype(kind).kind in "iuf":
                numeric_column(text[col], path, col, header=header, integer=np.dtype(kind).kind in "iu")
        raise DataError(f"{path}: cannot parse ({_first_line(exc)})") from None
    first_row_line = 2 if header else 1
    blank = frame.isna().all(axis=1).to_numpy()
    if fast:
        if not _separators_exact(path, sep, len(names), int((~blank).sum()), header):
            return full_read()
        gaps = []
    if gaps:
        bad = frame[gaps].notna().any(axis=1).to_numpy()
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + first_row_line
            raise DataError(
                f"{path}, line {line}: malformed line (a field holds {sep[0]!r}, or the separator is "
                f"not {sep!r}); expected {len(names)} fields: {', '.join(names)}"
            )
        frame = frame.drop(columns=gaps)
    short = frame[required].isna().any(axis=1).to_numpy() & ~blank
    if short.any():
        line = int(np.flatnonzero(short)[0]) + first_row_line
        found = int(frame.iloc[line - first_row_line].notna().sum())
        raise DataError(
            f"{path}, line {line}: malformed line ({found} of {len(names)} fields; is the separator "
            f"{sep!r}?); expected: {', '.join(names)}"
        )
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
    if len(frame) == 0:
        raise DataError(f"{path} has no data lines")
    return frame


def numeric_column(
    values: pd.Series,
    path: str | Path,
    column: str,
    *,
    header: bool = False,
    integer: bool = False,
    allow_nan: bool = False,
    lines: np.ndarray | None = None,
) -> np.ndarray:
    """``values`` as ``float64`` (or ``int64`` when ``integer``); a bad value names its line.

    Row ``r`` of the column is line ``lines[r]`` of the file when ``lines`` is given, else line
    ``r + 1`` (``r + 2`` with a header).
    """
    if values.dtype.kind in "iu":
        return values.to_numpy(np.int64 if integer else np.float64)
    num = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    bad = np.isnan(num) & values.notna().to_numpy()
    if not allow_nan:
        bad |= np.isnan(num)
    if integer:
        bad |= np.isfinite(num) & (num != np.round(num))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a number"
        line = int(lines[row]) if lines is not None else row + (2 if header else 1)
        raise DataError(f"{path}, line {line}: {column} {values.iloc[row]!r} is not {kind}")
    return num.astype(np.int64) if integer else num


def read_user_lists(path: str | Path, *, min_items: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a file with one line per user: ``user item item ...`` (whitespace-separated integers).

    Returns:
        ``(user, item, position)``: ``int64[N]`` arrays with one row per listed item, in file order;
        ``position`` is the item's 0-based place in its line (the time order of sequence files).

    Raises:
        DataError: empty file, a non-integer token (file and line), or a line with fewer than
            ``min_items`` items.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path} is empty")
    buf = np.frombuffer(raw, dtype=np.uint8)
    space = (buf == 0x20) | (buf == 0x09) | (buf == 0x0D) | (buf == 0x0A)
    # A token starts at a non-space byte preceded by a space (or the file start).
    starts = np.flatnonzero(~space & np.concatenate(([True], space[:-1])))
    newlines = np.flatnonzero(buf == 0x0A)
    line_of_token = np.searchsorted(newlines, starts)  # 0-based line index of every token
    tokens = raw.split()
    try:
        values = np.array(tokens, dtype=np.int64)
    except ValueError:
        values = pd.to_numeric(pd.Series(tokens).str.decode("latin-1"), errors="coerce").to_numpy()
        bad = int(np.flatnonzero(np.isnan(values) | (values != np.round(values)))[0])
        raise DataError(
            f"{path}, line {line_of_token[bad] + 1}: {tokens[bad].decode('latin-1')!r} is not an "
            f"integer id; expected 'user item item ...' separated by spaces"
        ) from None
    first = np.ones(len(values), dtype=bool)
    first[1:] = line_of_token[1:] != line_of_token[:-1]
    head = np.flatnonzero(first)  # index of each line's user token
    lengths = np.diff(np.append(head, len(values))) - 1
    if min_items and (lengths < min_items).any():
        bad = int(np.flatnonzero(lengths < min_items)[0])
        raise DataError(
            f"{path}, line {line_of_token[head[bad]] + 1}: user {values[head[bad]]} lists "
            f"{lengths[bad]} item(s), fewer than {min_items}"
        )
    user = np.repeat(values[head], lengths)
    item = values[~first]
    position = np.arange(len(values)) - np.repeat(head, lengths + 1)
    return user, item, position[~first] - 1


def read_split_lines(
    path: str | Path, sep: str, names: Sequence[str], *, encoding: str = "utf-8", header: bool = False
) -> pd.DataFrame:
    """Small metadata files whose last field may itself hold the separator's character (titles).

    Each line is split on the full ``sep`` at most ``len(names) - 1`` times, so ``Star Wars: ...``
    survives a ``::`` separator. Columns are strings; a line with too few fields names its number.
    """
    path = Path(path)
    check_encoding(encoding)
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not valid {encoding} text ({_first_line(exc)}); set data.encoding (e.g. latin-1)"
        ) from None
    lines = pd.Series(text.splitlines())
    offset = 2 if header else 1
    if header:
        lines = lines.iloc[1:].reset_index(drop=True)
    keep = lines.str.strip() != ""
    parts = lines[keep].str.split(sep, n=len(names) - 1, expand=True, regex=False)
    if parts.shape[1] < len(names) or parts[len(names) - 1].isna().any():
        bad = 0 if parts.shape[1] < len(names) else int(np.flatnonzero(parts[len(names) - 1].isna().to_numpy())[0])
        line = int(np.flatnonzero(keep.to_numpy())[bad]) + offset if len(parts) else offset
        raise DataError(
            f"{path}, line {line}: malformed line (expected {len(names)} fields separated by {sep!r}: "
            f"{', '.join(names)})"
        )
    parts.columns = list(names)
    return parts.reset_index(drop=True)
