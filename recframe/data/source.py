"""The data-source contract and the cached loading every run goes through.

A data source is a class registered with ``register_data_sources``. recframe builds it from the
``data`` config group (``name`` picks the class, ``path`` the folder, every other key is passed to
the constructor) and calls :meth:`DataSource.load` only when the cache has no entry for the current
files and options.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from recframe import paths
from recframe.data import cache
from recframe.data.interactions import Interactions
from recframe.errors import ConfigError, DataError
from recframe.factory import build, check_params

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Download:
    """Where a dataset's archive can be fetched from, and the sha256 each extracted file must have."""

    url: str
    sha256: dict[str, str]
    archive_root: str = ""  # folder inside the archive holding the files


class DataSource:
    """Base class of data-source plugins.

    Subclasses set ``files`` (paths relative to the dataset folder that must exist) and implement
    :meth:`load`. Constructor keyword arguments are the source's options; they are part of the
    cache key.
    """

    files: ClassVar[tuple[str, ...]] = ()
    download: ClassVar[Download | None] = None
    homepage: ClassVar[str] = ""
    #: Part of the parsed-data cache key: raise it when ``load`` changes what it returns, so entries
    #: written by the older parser are never served.
    cache_version: ClassVar[int] = 0

    def __init__(self, path: str | Path, **options: Any) -> None:
        self.path = Path(path).expanduser()
        self.options = options

    def source_files(self) -> list[Path]:
        return [self.path / f for f in self.files]

    def load(self) -> Interactions:  # pragma: no cover - abstract
        raise NotImplementedError


def build_source(cls: type[DataSource], name: str, data_cfg: dict[str, Any]) -> DataSource:
    """Instantiate a data source from its config, checking the keys against its constructor."""
    unset = [k for k, v in data_cfg.items() if v == "???"]  # OmegaConf's mandatory-value marker
    if unset:
        raise ConfigError(
            f"data.{unset[0]} must be set for data source '{name}' (e.g. {' '.join(f'data.{k}=...' for k in unset)})"
        )
    # data.features declares model inputs (recframe/data/features.py), not a source option
    options = {k: v for k, v in data_cfg.items() if k not in {"name", "path", "features"}}
    check_params(cls, "data", name, options, 1, owner=f"data source '{name}'", noun="option")
    if not data_cfg.get("path"):
        raise ConfigError(f"data.path is empty for data source '{name}'; set RECFRAME_DATA_DIR or data.path=...")
    return build(cls, "data", name, options, data_cfg["path"], owner=f"data source '{name}'", noun="option")


def missing_files_message(name: str, source: DataSource, missing: list[Path]) -> str:
    how = (
        f"run 'recframe download {name}' to fetch it into {paths.data_dir()}"
        if source.download
        else "copy the dataset files there"
    )
    env = "RECFRAME_DATA_DIR is not set" if not _env_set() else "RECFRAME_DATA_DIR points elsewhere"
    return (
        f"dataset '{name}' not found: looked for {missing[0]} ({len(missing)} file(s) missing); "
        f"{how}, or point RECFRAME_DATA_DIR at the folder holding '{source.path.name}/' ({env})"
    )


def _env_set() -> bool:
    import os

    return bool(os.environ.get("RECFRAME_DATA_DIR"))


def load_dataset(name: str, source: DataSource, *, use_cache: bool = True) -> Interactions:
    """Load a dataset through the cache; parse the source files only on a miss."""
    files = source.source_files()
    for f in files:  # a folder or an unreadable file where a data file belongs is not "not found"
        if f.is_dir():
            raise DataError(
                f"dataset '{name}': {f} is a directory, not a data file; point data.path at the "
                f"folder that holds {f.name} as a file"
            )
        if f.is_file() and not os.access(f, os.R_OK):
            raise DataError(
                f"dataset '{name}': {f} cannot be read (permission denied); fix its permissions "
                f"(chmod a+r) or copy the dataset somewhere readable"
            )
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DataError(missing_files_message(name, source, missing))
    # The class (and its optional ``cache_version``) is part of the key: a changed parser never
    # serves an entry written by an older one.
    identity = {
        "class": f"{type(source).__module__}.{type(source).__qualname__}",
        "version": source.cache_version,
        "options": source.options,
    }
    key = cache.cache_key(name, identity, files)
    entry = paths.cache_dir() / "datasets" / f"{name}-{key}"
    if use_cache:
        hit = cache.load(entry)
        if hit is not None:
            log.info("loaded %s from cache %s", name, entry)
            return hit
        cache.discard(entry)  # a damaged entry would otherwise block the fresh one below, run after run
    start = time.perf_counter()
    data = source.load()
    if len(data) == 0:
        raise DataError(f"dataset '{name}' at {source.path} has no interactions; check the files are not empty")
    data.meta.setdefault("source", name)
    log.info("parsed %s in %.2fs (%d interactions)", name, time.perf_counter() - start, len(data))
    if use_cache:
        try:
            cache.store(entry, data)
        except Exception as exc:  # noqa: BLE001 - a failed cache write (read-only, full disk) must not stop the run
            log.warning("could not write dataset cache %s: %s", entry, exc)
    return data
