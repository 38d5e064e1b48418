"""``recframe download NAME``: fetch a dataset archive, verify it, and extract it atomically.

The source class's :class:`~recframe.data.source.Download` spec names the archive URL, the folder
inside the archive (``archive_root``) and the sha256 of each file it can vouch for. The steps:

1. the archive is streamed to a temporary file beside the target folder;
2. the source's files (and every file with a listed hash) are extracted into a temporary folder;
3. each listed sha256 is checked; a mismatch or a missing file is a :class:`DataError` and
   everything temporary is removed, so nothing is left behind;
4. only then is each file moved into the dataset folder with an atomic rename.

Files with no listed hash are extracted unverified, and the command says so. Files already present
are checked (when a hash is listed) and kept. The dataset folder is the data config's ``path`` (by
default ``$RECFRAME_DATA_DIR/<folder>``; ``RECFRAME_DATA_DIR`` unset means ``<cache>/data``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from recframe.data.source import DataSource, Download
from recframe.errors import ConfigError, DataError

log = logging.getLogger(__name__)
CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, target: Path, opener: Callable[[str], Any] | None = None) -> None:
    """Stream ``url`` into ``target`` with ``opener`` (default ``urllib.request.urlopen``; ``file://`` works)."""
    from recframe.progress import task

    opener = opener or urllib.request.urlopen
    try:
        with closing(opener(url)) as response, open(target, "wb") as out:
            size = getattr(response, "headers", {}).get("Content-Length") if hasattr(response, "headers") else None
            with task(f"downloading {url.rsplit('/', 1)[-1]}", float(size) if size else None, unit="bytes") as advance:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    advance(len(block))
    except OSError as exc:  # URLError is an OSError
        raise DataError(f"could not download {url}: {exc}; check the network or fetch it by hand") from None


def wanted_files(source: DataSource, spec: Download) -> list[str]:
    """The files to extract: the source's required files plus every file with a listed hash."""
    return list(dict.fromkeys([*source.files, *spec.sha256]))


def extract(archive: Path, spec: Download, names: list[str], into: Path) -> None:
    """Extract ``names`` (relative to ``spec.archive_root``) from a zip archive into ``into``."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise DataError(f"the download of {spec.url} is not a zip archive (truncated or an error page?)") from None
    with zf:
        members = set(zf.namelist())
        for name in names:
            member = f"{spec.archive_root.strip('/')}/{name}" if spec.archive_root else name
            if member not in members:
                raise DataError(f"{spec.url} has no {member}; the archive layout changed, please report it")
            with zf.open(member) as src, open(into / name, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)


def verify(folder: Path, spec: Download, names: list[str]) -> list[str]:
    """Check each listed sha256 in ``folder``; return the names that have no listed hash."""
    for name in names:
        expected = spec.sha256.get(name)
        if expected is not None:
            got = sha256_file(folder / name)
            if got != expected:
                raise DataError(
                    f"checksum mismatch for {name} from {spec.url}: sha256 {got[:16]}..., expected "
                    f"{expected[:16]}...; the download is corrupt or the file changed upstream"
                )
    return [n for n in names if n not in spec.sha256]


def download_source(
    name: str,
    source: DataSource,
    *,
    force: bool = False,
    opener: Callable[[str], Any] | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Fetch ``source``'s archive into ``source.path`` unless its files are already there.

    ``url`` replaces the archive's address (a mirror or a local ``file://`` copy); the listed
    checksums are verified all the same. Returns a summary ``{"path", "fetched", "verified", "unverified"}``.
    """
    spec = source.download
    if spec is None:
        raise DataError(f"dataset '{name}' has no download location; copy its files into {source.path}")
    if url is not None:
        spec = dataclasses.replace(spec, url=url)
    target = source.path
    names = wanted_files(source, spec)
    present = [n for n in names if (target / n).is_file()]
    if len(present) == len(names) and not force:
        unverified = verify(target, spec, names)
        return {
            "path": str(target),
            "fetched": False,
            "verified": [n for n in names if n in spec.sha256],
            "unverified": unverified,
        }
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.download.", dir=target.parent))
    try:
        archive = work / "archive.zip"
        log.info("downloading %s", spec.url)
        fetch(spec.url, archive, opener)
        staged = work / "files"
        staged.mkdir()
        extract(archive, spec, names, staged)
        unverified = verify(staged, spec, names)
        target.mkdir(exist_ok=True)
        for n in names:  # every check passed: move the files in, one atomic rename each
            os.replace(staged / n, target / n)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for n in unverified:
        log.warning("%s: %s was extracted without a checksum (none is published for it)", name, n)
    return {
        "path": str(target),
        "fetched": True,
        "verified": [n for n in names if n in spec.sha256],
        "unverified": unverified,
    }


def download(
    name: str,
    *,
    path: str | Path | None = None,
    force: bool = False,
    opener: Callable[[str], Any] | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Download the registered dataset ``name`` (a ``conf/data`` name or a data-source name).

    The target folder is ``path`` if given, else the data config's ``path`` (``conf/data/NAME.yaml``),
    else ``<data dir>/NAME``.
    """
    from recframe import paths
    from recframe.data.source import build_source
    from recframe.plugins import registries

    data_cfg: dict[str, Any] = {"name": name}
    try:
        from omegaconf import OmegaConf

        from recframe import config as rconfig

        cfg = rconfig.compose([f"data={name}"])
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    except ConfigError:  # no conf/data/NAME.yaml: fall back to the source of that name
        data_cfg = {"name": name, "path": str(paths.data_dir() / name)}
    if path is not None:
        data_cfg["path"] = str(path)
    source_name = str(data_cfg["name"])
    cls = registries().data_source.get(source_name, config_key="download NAME")
    source = build_source(cls, source_name, data_cfg)
    return download_source(name, source, force=force, opener=opener, url=url)


def main(argv: list[str]) -> int:
    """recframe download NAME [--path DIR] [--force]: fetch and verify a dataset archive."""
    import argparse

    parser = argparse.ArgumentParser(prog="recframe download", description=main.__doc__)
    parser.add_argument("name", help="dataset name, e.g. ml-100k or ml-1m")
    parser.add_argument("--path", help="dataset folder (default: the data config's path)")
    parser.add_argument("--force", action="store_true", help="download even if the files are present")
    parser.add_argument(
        "--url",
        help="fetch the archive from here instead (a mirror or file:///path/to.zip); checksums are verified the same",
    )
    args = parser.parse_args(argv)
    summary = download(args.name, path=args.path, force=args.force, url=args.url)
    state = "downloaded to" if summary["fetched"] else "already present in"
    print(
        f"{args.name}: {state} {summary['path']}; sha256 verified: {', '.join(summary['verified']) or 'none'}"
        + (f"; not verified (no known checksum): {', '.join(summary['unverified'])}" if summary["unverified"] else "")
    )
    return 0
