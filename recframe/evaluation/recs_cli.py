"""``recframe evaluate --recs lists.csv OVERRIDES...``: score lists made elsewhere under recframe's protocol.

The lists become a run of the ``precomputed`` model (``model=precomputed model.recs=<file>``), so the
data, filters, split, masking of seen items, tie rule, metrics and ``results.json`` are a run's own,
and the run folder joins ``recframe compare`` and ``recframe report`` like any other. Before the run,
the lists are checked against the split (unknown ids, repeated items: one-line errors naming the file
and line, or dropped and counted with ``--unknown drop``) and counted: test users without a list (their
metrics are 0, as a model that recommends nothing relevant), lists shorter than the largest cut-off
once masked items are out, and masked rows. The counts are printed and stored under ``recs`` in
``results.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recframe.errors import ConfigError

MODEL = "precomputed"


def quoted(value: str | Path) -> str:
    """A Hydra override value in single quotes (paths may hold ``=``, ``,`` or spaces)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def precheck(overrides: list[str], recs: Path, unknown: str) -> dict[str, Any]:
    """Read the lists against the run's split, before any model work; the declared counts."""
    from omegaconf import OmegaConf

    from recframe import config as rconfig
    from recframe.evaluation.recs import list_counts, read_recs
    from recframe.runner import derive_seeds, load_data, make_split

    cfg = rconfig.compose(overrides)
    ranking = str(OmegaConf.select(cfg, "protocol.ranking", default="full"))
    if ranking != "full":
        raise ConfigError(
            f"protocol.ranking is {ranking!r}: recframe evaluate --recs scores full-ranking lists; use a protocol "
            f"with ranking: full (e.g. protocol=random_811)"
        )
    split = make_split(cfg, load_data(cfg), derive_seeds(int(cfg.seed), 4)[0])
    assert split.train.user_ids is not None and split.train.item_ids is not None  # set in __post_init__
    lists = read_recs(recs, split.train.user_ids, split.train.item_ids, unknown=unknown)
    filter_seen = bool(OmegaConf.select(cfg, "protocol.filter_seen", default=True))
    test = split.part("test").to_csr()
    import numpy as np

    users = np.flatnonzero(np.diff(test.indptr) > 0)
    k = max(int(c) for c in cfg.protocol.cutoffs)
    counts = {**lists.counts, **list_counts(lists, users, split.seen_before("test") if filter_seen else None, k)}
    return {"file": str(recs), "order": lists.order, "counts": counts}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="recframe evaluate",
        description="Score external top-k lists (CSV: user,item[,rank|score]) with a run's data, protocol and "
        "metrics; writes a run folder with results.json. Other arguments are overrides (data=..., protocol=...).",
    )
    parser.add_argument("--recs", required=True, help="the lists: CSV with a header user,item[,rank|score]")
    parser.add_argument(
        "--unknown", choices=("error", "drop"), default="error", help="ids the data does not know (default: error)"
    )
    parser.add_argument("--run-dir", default=None, help="the run folder (default: the CLI's for these overrides)")
    args, overrides = parser.parse_known_args(argv)
    flags = [o for o in overrides if o.startswith("-")]
    if flags:
        parser.error(f"unknown option {flags[0]}")
    if any(o.split("=", 1)[0].lstrip("+~") in ("model", "model.name") for o in overrides):
        raise ConfigError("model=...: recframe evaluate scores the lists themselves (model=precomputed); drop it")
    recs = Path(args.recs).expanduser().resolve()
    full = [*overrides, f"model={MODEL}", f"model.recs={quoted(recs)}", f"model.unknown={args.unknown}"]
    block = precheck(full, recs, args.unknown)
    for key, value in block["counts"].items():
        print(f"{key.replace('_', ' ')}: {value:,}", flush=True)
    from recframe.atomic import write_json
    from recframe.runner import run

    results = run(full, run_dir=args.run_dir, print_table=True)
    results["recs"] = block
    from recframe import config as rconfig

    run_dir = Path(args.run_dir) if args.run_dir else Path(str(rconfig.compose(full).hydra.run.dir))
    write_json(run_dir / "results.json", results)
    return 0
