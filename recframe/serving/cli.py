"""``recframe recommend`` and ``recframe serve``: a saved run's model from the shell.

``recframe recommend RUN_DIR --users 1,2,3 --k 10`` prints a table; ``--all --k 100 --out
recs.parquet`` (or ``.csv``) writes every user's list batch by batch (memory bounded by
``--batch-users``), with a progress bar on a terminal, atomically (the file appears complete or not at
all). ``recframe serve RUN_DIR --host 127.0.0.1 --port 8000 [--index ann]`` starts the HTTP server
(recframe/serving/server.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from recframe.errors import ConfigError

OUT_SUFFIXES = (".parquet", ".csv")


def _user_list(text: str) -> list[str]:
    users = [u.strip() for u in text.split(",") if u.strip()]
    if not users:
        raise ConfigError("--users: give comma-separated user ids, e.g. --users 1,2,3")
    return users


def print_table(frame: Any, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    columns = [c for c in ("user", "rank", "item", "score", "title", "genres", "source") if c in frame.columns]
    for col in columns:
        table.add_column(col, justify="right" if col in ("rank", "score") else "left")
    for row in frame[columns].itertuples(index=False):
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    Console().print(table)


def write_all(
    handle: Any, out: Path, k: int, exclude_seen: bool, items: list[str] | None, metadata: bool, batch_users: int
) -> int:
    """Every user's top-``k`` into ``out`` (Parquet or CSV), one batch of users at a time; returns the rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from rich.progress import Progress

    from recframe.atomic import atomic_path
    from recframe.serving.handle import check_k

    candidates = handle._candidates(items)
    k = check_k(k, len(candidates) if candidates is not None else handle.n_items)
    users = np.arange(len(handle.users))
    rows = 0
    with atomic_path(out) as tmp, Progress(disable=not sys.stderr.isatty(), transient=True) as progress:
        task = progress.add_task("recommending", total=len(users))
        writer = None
        try:
            for start in range(0, len(users), batch_users):
                batch = users[start : start + batch_users]
                top, scores, sources = handle.recommend_internal(batch, k, exclude_seen, candidates)
                frame = handle._frame(handle.users.original(batch), top, scores, sources, metadata)
                if out.suffix == ".csv":
                    frame.to_csv(tmp, mode="w" if start == 0 else "a", header=start == 0, index=False)
                else:
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                rows += len(frame)
                progress.advance(task, len(batch))
        finally:
            if writer is not None:
                writer.close()
    return rows


def recommend_main(argv: list[str]) -> int:
    """recframe recommend RUN_DIR (--users 1,2,3 | --all) [--k 10] [--out recs.parquet]: a saved run's top-k."""
    parser = argparse.ArgumentParser(prog="recframe recommend", description=recommend_main.__doc__)
    parser.add_argument("run_dir", help="a run folder with a saved model (model/)")
    parser.add_argument(
        "--stage", default=None, help="a compressed stage's model instead: index, folder (1-quantize) or unique name"
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--users", help="comma-separated original user ids")
    who.add_argument("--all", action="store_true", help="every user of the run (use with --out)")
    parser.add_argument("--k", type=int, default=10, help="items per user (default 10)")
    parser.add_argument("--out", help="write a .parquet or .csv file instead of printing a table")
    parser.add_argument("--items", help="comma-separated candidate item ids (default: every item)")
    parser.add_argument("--include-seen", action="store_true", help="do not mask items the user interacted with")
    parser.add_argument("--metadata", action="store_true", help="add the item table's columns (titles, genres)")
    parser.add_argument("--batch-users", type=int, default=2048, help="users scored at once (bounds memory)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix not in OUT_SUFFIXES:
        raise ConfigError(f"--out {out}: the file must end in .parquet or .csv")
    if args.all and out is None:
        raise ConfigError("--all writes every user's list to a file: add --out recs.parquet (or .csv)")
    if args.batch_users < 1:
        raise ConfigError(f"--batch-users must be >= 1, got {args.batch_users}")
    from recframe.serving.handle import load

    handle = load(args.run_dir, stage=args.stage)
    items = [i.strip() for i in args.items.split(",") if i.strip()] if args.items else None
    if args.all:
        rows = write_all(handle, out, args.k, not args.include_seen, items, args.metadata, args.batch_users)
        print(f"wrote {rows} rows for {len(handle.users)} users to {out}")
        return 0
    frame = handle.recommend(_user_list(args.users), args.k, not args.include_seen, items, args.metadata)
    if out is not None:
        from recframe.atomic import atomic_path

        with atomic_path(out) as tmp:
            frame.to_csv(tmp, index=False) if out.suffix == ".csv" else frame.to_parquet(tmp, index=False)
        print(f"wrote {len(frame)} rows to {out}")
        return 0
    print_table(frame, f"{handle.model_name} top-{args.k} ({args.run_dir})")
    return 0


def serve_main(argv: list[str]) -> int:
    """recframe serve RUN_DIR [--host 127.0.0.1] [--port 8000] [--index exact|ann]: an HTTP server for a saved run."""
    parser = argparse.ArgumentParser(prog="recframe serve", description=serve_main.__doc__)
    parser.add_argument("run_dir", help="a run folder with a saved model (model/)")
    parser.add_argument(
        "--stage", default=None, help="a compressed stage's model instead: index, folder (1-quantize) or unique name"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument(
        "--index",
        default="exact",
        choices=("exact", "ann"),
        help="exact ranking (default) or an approximate inner-product index (faiss)",
    )
    parser.add_argument("--metadata", action="store_true", help="add item titles/genres to answers")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    args = parser.parse_args(argv)
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("recframe serve needs FastAPI and uvicorn: pip install 'recframe[serve]'") from None
    from recframe.serving.ann import attach_index
    from recframe.serving.handle import load
    from recframe.serving.server import serve

    handle = load(args.run_dir, stage=args.stage)
    attach_index(handle, args.index)
    info = handle.describe()["index"]
    print(
        f"recframe serve: {handle.model_name} ({len(handle.users)} users, {handle.n_items} items) from "
        f"{args.run_dir}; index: " + ", ".join(f"{k}={v}" for k, v in info.items()),
        flush=True,
    )
    serve(handle, args.host, args.port, args.metadata, args.log_level)
    return 0
