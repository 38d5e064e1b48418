"""Reproductions of published results, run by name.

A reproduction is an experiment config under ``experiment/repro/`` (in recframe's tree or a
plugin's) with a ``repro`` block naming the source and, per metric, the published value and the
tolerance::

    repro:
      source: RecBole 1.2.1, ML-1M general benchmark
      targets:
        test/ndcg@10: {published: 0.2865, tolerance: 0.01}
        test/pointwise_auc: {published: 0.8935, tolerance: 0.005, bound: lower}  # passes at >= 0.8885
        test/logloss: {published: 0.3262, tolerance: 0.01, bound: upper}         # passes at <= 0.3362
        cost.fit_seconds: {published: 73, reported: true}                        # shown, never fails

``bound`` (default ``both``) makes a target one-sided: ``lower`` passes any value at or above
``published - tolerance`` (a metric where higher is better), ``upper`` any value at or below
``published + tolerance``. ``reported: true`` prints the published value beside ours without a
verdict (a number the source reports but the reproduction does not claim).

``recframe repro`` lists them; ``recframe repro NAME`` runs one and prints our value beside the
published one, the difference, the tolerance and pass/fail (exit code 1 when any target fails).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from recframe.errors import ConfigError, did_you_mean

REPRO_GROUP = "experiment/repro"


@dataclass(frozen=True)
class Reproduction:
    name: str  # e.g. "recbole_ml1m/ease"
    path: Path
    source: str
    targets: dict[str, dict[str, float]]
    note: str = ""


def config_roots() -> list[Path]:
    """recframe's config tree and every plugin's config folder."""
    import importlib.resources

    from recframe.plugins import registries

    return [Path(str(importlib.resources.files("recframe.conf")))] + [p for _, p in registries().config_dirs]


def reproductions() -> dict[str, Reproduction]:
    """Every reproduction config with a ``repro`` block, by name."""
    found: dict[str, Reproduction] = {}
    for root in config_roots():
        base = root / REPRO_GROUP
        for path in sorted(base.rglob("*.yaml")) if base.is_dir() else []:
            block = OmegaConf.to_container(OmegaConf.load(path)).get("repro")
            if not block:
                continue
            name = path.relative_to(base).with_suffix("").as_posix()
            found[name] = Reproduction(
                name, path, str(block.get("source", "")), dict(block.get("targets", {})), str(block.get("note") or "")
            )
    return found


def compare(results: dict[str, Any], repro: Reproduction) -> list[dict[str, Any]]:
    """One row per target: ours, published, difference, tolerance, pass."""
    rows = []
    for key, target in repro.targets.items():
        section, _, metric = key.partition(".")
        source = results["cost"] if section == "cost" else results["metrics"]
        ours = source.get(metric if section == "cost" else key)
        published, tolerance = float(target["published"]), float(target.get("tolerance", 0.01))
        bound = str(target.get("bound", "both"))
        if bound not in ("both", "lower", "upper"):
            raise ConfigError(f"repro.targets.{key}.bound must be both, lower or upper, got {bound!r}")
        diff = None if ours is None else ours - published
        ok = (
            diff is not None
            and {"both": abs(diff) <= tolerance, "lower": diff >= -tolerance, "upper": diff <= tolerance}[bound]
        )
        reported = bool(target.get("reported", False))
        rows.append(
            {
                "metric": key,
                "ours": ours,
                "published": published,
                "difference": diff,
                "tolerance": tolerance,
                "bound": bound,
                "reported": reported,
                "pass": True if reported else ok,
            }
        )
    return rows


def print_comparison(repro: Reproduction, rows: list[dict[str, Any]], seconds: float | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"reproduction {repro.name}: {repro.source}", title_justify="left")
    for col in ("metric", "ours", "published", "difference", "tolerance", "result"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for r in rows:
        ours = "missing" if r["ours"] is None else f"{r['ours']:.4f}"
        diff = "" if r["difference"] is None else f"{r['difference']:+.4f}"
        sign = {"both": "±", "lower": "≥ −", "upper": "≤ +"}[r.get("bound", "both")]
        verdict = "reported" if r.get("reported") else "[green]pass[/green]" if r["pass"] else "[red]FAIL[/red]"
        table.add_row(
            r["metric"],
            ours,
            f"{r['published']:.4f}",
            diff,
            "" if r.get("reported") else f"{sign}{r['tolerance']:.4f}",
            verdict,
        )
    console = Console()
    console.print(table)
    if repro.note:
        console.print(f"note: {repro.note}")
    if seconds is not None:
        console.print(f"run time {seconds:.1f} s")


def repro_command(argv: list[str]) -> int:
    """recframe repro [NAME [overrides...]]: list reproductions, or run one against its paper."""
    parser = argparse.ArgumentParser(prog="recframe repro", description=repro_command.__doc__)
    parser.add_argument("name", nargs="?", help="reproduction to run, e.g. recbole_ml1m/ease")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args(argv)
    known = reproductions()
    if args.name is None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="reproductions (recframe repro NAME runs one)", title_justify="left")
        for col in ("name", "source", "targets"):
            table.add_column(col)
        for r in known.values():
            table.add_row(r.name, r.source, ", ".join(f"{k} {v['published']}" for k, v in r.targets.items()))
        Console().print(table)
        return 0
    if args.name not in known:
        raise ConfigError(
            f"unknown reproduction '{args.name}'; available: {', '.join(known) or 'none'}"
            f"{did_you_mean(args.name, known)}"
        )
    import time

    from recframe.runner import run

    repro = known[args.name]
    start = time.perf_counter()
    results = run([f"experiment=repro/{repro.name}", *args.overrides], print_table=True)
    rows = compare(results, repro)
    print_comparison(repro, rows, time.perf_counter() - start)
    return 0 if all(r["pass"] for r in rows) else 1
