"""Printing results: the protocol block above a rich table of metrics and cost."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from recframe.protocol import describe

# Piped or logged output has no terminal width; rich would squeeze wide tables (a compression table
# has two columns a stage) into 80 columns, so such output gets 200 unless COLUMNS says otherwise.
console = Console(
    stderr=False, highlight=False, width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
)


def protocol_table(block: dict[str, Any], privacy: dict[str, Any] | None = None) -> Table:
    from recframe.privacy.stage import describe as describe_privacy

    table = Table(title="Protocol", show_header=False, title_justify="left", box=None, padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    for key, value in describe(block) + (describe_privacy(privacy) if privacy else []):
        table.add_row(key, value)
    return table


def results_table(results: dict[str, Any]) -> Table:
    run = results["run"]
    table = Table(title=f"{run['model']} on {run['data']} (seed {run['seed']})", title_justify="left")
    table.add_column("metric")
    table.add_column("valid", justify="right")
    table.add_column("test", justify="right")
    names = sorted({k.split("/", 1)[1] for k in results["metrics"]}, key=_metric_order)
    for name in names:
        valid = results["metrics"].get(f"valid/{name}")
        test = results["metrics"].get(f"test/{name}")
        table.add_row(name, _fmt(valid), _fmt(test))
    cost = results["cost"]
    table.add_section()
    table.add_row("params", f"{cost['params']:,}", "")
    table.add_row("model bytes", f"{cost['model_bytes']:,}", "")
    table.add_row("fit seconds", f"{cost['fit_seconds']:.2f}", "")
    table.add_row("eval seconds", f"{cost['eval_seconds']:.2f}", "")
    table.add_row("latency ms / 1k users", f"{cost['score_latency_ms_per_1k_users']:.2f}", "")
    return table


def compressed_table(results: dict[str, Any]) -> Table:
    """The original model beside every compressed stage: test metrics, cost and retention."""
    rows = results["compressed"]
    table = Table(
        title=f"Compression of {results['run']['model']} (retention = compressed / original)", title_justify="left"
    )
    table.add_column("")
    table.add_column("original", justify="right")
    for row in rows:
        table.add_column(f"{row['index']}:{row['stage']}", justify="right")
        table.add_column("ret.", justify="right")
    part = "test" if any(k.startswith("test/") for k in results["metrics"]) else "valid"
    names = sorted({k.split("/", 1)[1] for k in results["metrics"] if k.startswith(part + "/")}, key=_metric_order)
    for name in names:
        key = f"{part}/{name}"
        cells = [_fmt(results["metrics"].get(key))]
        for row in rows:
            cells += [_fmt(row["metrics"].get(key)), _pct(row["retention"].get(key))]
        table.add_row(f"{part} {name}", *cells)
    table.add_section()
    for label, key, fmt in [
        ("params", "params", "{:,}"),
        ("model bytes", "model_bytes", "{:,}"),
        ("latency ms / 1k users", "score_latency_ms_per_1k_users", "{:.2f}"),
        ("fit seconds", "fit_seconds", "{:.2f}"),
    ]:
        base = results["cost"].get(key)
        cells = [fmt.format(base) if base is not None else ""]
        for row in rows:
            value = row["cost"].get(key)
            ratio = None if not base or value is None else value / base
            cells += [fmt.format(value) if value is not None else "", _pct(ratio) if key != "fit_seconds" else ""]
        table.add_row(label, *cells)
    return table


def baseline_table(row: dict[str, Any], metric: str) -> Table | None:
    """A distilled student beside the same model trained without the teacher, on ``metric``: per
    seed, and (several seeds) mean, standard deviation and the paired difference; ``None`` when the
    stage trained no baseline."""
    facts = row.get("facts") or {}
    per_seed = facts.get("seeds") or ({"": {"metrics": row["metrics"], **facts}} if "baseline" in facts else {})
    if not per_seed or any("baseline" not in f for f in per_seed.values()):
        return None
    table = Table(
        title=f"{row['index']}:{row['stage']} student vs the same model without the teacher ({metric})",
        title_justify="left",
    )
    for head in ("seed", "student", "baseline", "difference"):
        table.add_column(head, justify="right")
    for seed, f in per_seed.items():
        student, base = f["metrics"].get(metric), f["baseline"]["metrics"].get(metric)
        if student is None or base is None:
            return None
        table.add_row(seed or "run", _fmt(student), _fmt(base), f"{student - base:+.4f}")
    summary = facts.get("summary")
    if summary and "difference" in summary:
        s, b, d = (summary[k][metric] for k in ("student", "baseline", "difference"))
        table.add_section()
        table.add_row(
            f"mean ± sd ({summary['n']})",
            f"{s['mean']:.4f} ± {s['std']:.4f}",
            f"{b['mean']:.4f} ± {b['std']:.4f}",
            f"{d['mean']:+.4f} ± {d['std']:.4f}, {d['wins']}/{summary['n']} won",
        )
    return table


def print_results(results: dict[str, Any]) -> None:
    console.print(protocol_table(results["protocol"], results.get("privacy")))
    console.print(results_table(results))
    if results.get("compressed"):
        console.print(compressed_table(results))
        part = "test" if any(k.startswith("test/") for k in results["metrics"]) else "valid"
        metric = f"{part}/{results['protocol'].get('valid_metric', 'ndcg@10')}"
        for row in results["compressed"]:
            table = baseline_table(row, metric)
            if table is not None:
                console.print(table)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _metric_order(name: str) -> tuple[str, int]:
    base, _, k = name.partition("@")
    return base, int(k) if k.isdigit() else 0
