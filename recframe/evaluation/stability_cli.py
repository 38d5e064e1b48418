"""``recframe stability RUN_DIR [RUN_DIR ...]``: mean ± std of every metric and pairwise churn."""

from __future__ import annotations

import argparse
from typing import Any

from recframe.evaluation.stability import aggregate, load_results, pairwise_churn


def complete_runs(runs: list[str], console: Any) -> list[str]:
    """The complete runs among ``runs``; each other one is named with its state and skipped."""
    from recframe.errors import DataError
    from recframe.run_state import run_health

    kept = []
    for run in runs:
        state, detail = run_health(run)
        if state == "complete":
            kept.append(run)
        else:
            console.print(f"skipped {run}: {state} ({detail})", soft_wrap=True)
    if not kept:
        raise DataError(f"none of the {len(runs)} runs is complete; rerun them (or resume=true)")
    return kept


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="recframe stability",
        description="Mean ± sample std of every metric over runs (e.g. seeds), "
        "and the mean Jaccard overlap / churn of their test top-K lists.",
    )
    parser.add_argument("runs", nargs="+", help="run directories (each with results.json and topk.npz)")
    parser.add_argument("-k", type=int, default=None, help="compare the first k positions (default: all saved)")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=max(Console().width, 120))
    args.runs = complete_runs(args.runs, console)
    agg = aggregate([load_results(d) for d in args.runs])
    t = Table(title=f"{len(args.runs)} runs", title_justify="left")
    for col in ("metric", "mean", "± std", "n"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for key, s in agg.items():
        t.add_row(key, f"{s['mean']:.4f}", f"{s['std']:.4f}", str(s["n"]))
    console.print(t)
    if len(args.runs) > 1:
        c = Table(title="top-K churn (test)", title_justify="left")
        for col in ("run A", "run B", "users", "K", "Jaccard overlap", "churn"):
            c.add_column(col, justify="left" if col.startswith("run") else "right")
        for row in pairwise_churn(args.runs, args.k):
            c.add_row(
                row["a"], row["b"], f"{row['users']:,}", str(row["k"]), f"{row['overlap']:.4f}", f"{row['churn']:.4f}"
            )
        console.print(c)
    return 0
