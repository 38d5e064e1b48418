"""Explanation fidelity of the built-in explainers (docs/explain.md): one run per model with
``explain=fidelity``, then a Markdown table of rank drop at 1/3/5 removed reasons vs random and the
area between the curves, all from the runs' ``results.json``.

    python benchmarks/explain_fidelity.py --out /tmp/explain-fidelity [--only ease,ials] [--users 200]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import recframe

FAST = ["trainer.progress_bar=false", "logger=none", "print_table=false"]
RUNS: dict[str, list[str]] = {
    "ease-ml1m": ["data=ml-1m", "model=ease"],
    "itemknn-ml1m": ["data=ml-1m", "model=itemknn"],
    "ials-ml1m": ["data=ml-1m", "model=ials"],
    "bpr-ml100k": ["data=ml-100k", "model=bpr", "trainer.max_epochs=10"],
    "fm-ml100k": ["data=ml-100k", "model=fm", "trainer.max_epochs=3", "explain.compare=[field_integrated_gradients]"],
    "deepfm-ml100k": ["data=ml-100k", "model=deepfm", "trainer.max_epochs=3"],
    "sasrec-ml100k": [
        "data=ml-100k",
        "model=sasrec",
        "protocol=leave_one_out",
        "trainer.max_epochs=10",
        "explain.compare=[attention,integrated_gradients]",
    ],
}


def rows(name: str, results: dict) -> list[str]:
    block = results["explain"]
    out = []
    for explainer, part in [(block["explainer"], block), *sorted((block.get("compared") or {}).items())]:
        f = part["fidelity"]
        cells = [f"{f[f'rank_drop@{r}']:.1f} / {f[f'random_drop@{r}']:.1f}" for r in (1, 3, 5)]
        out.append(
            f"| {name} | {explainer} | {'yes' if part['exact'] else 'no'} | {' | '.join(cells)} | {f['area']:.2f} | "
            f"{results['metrics'].get('test/ndcg@10', float('nan')):.4f} | {part['seconds']:.0f} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated run names (default: all)")
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    names = [n for n in RUNS if not args.only or n in args.only.split(",")]
    table = [
        "| run | explainer | exact | drop@1 reasons / random | drop@3 | drop@5 | area | test NDCG@10 | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        run_dir = args.out / name
        if not (run_dir / "results.json").is_file():
            recframe.run(
                [*FAST, *RUNS[name], "explain=fidelity", f"explain.fidelity.sample_users={args.users}"], run_dir=run_dir
            )
        table += rows(name, json.loads((run_dir / "results.json").read_text()))
        print(table[-1], flush=True)
    print("\n".join(table))


if __name__ == "__main__":
    main()
