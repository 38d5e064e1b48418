"""Explanation fidelity of the built-in explainers (docs/explain.md): one run per model with
``explain=fidelity``, then a Markdown table of rank drop at 1/3/5 removed reasons vs random and the
area between the curves, all from the runs' ``results.json``.

    python benchmarks/explain_fidelity.py --out /tmp/explain-fidelity [--only ease,ials] [--users 200]

``--loop-vs-batched`` then times the deletion test of each saved run twice on the same sample and seed:
one ``rescore`` per deletion (the loop) and one ``rescore_many`` per user (batched), checks that both give
the same numbers and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import time
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
    "multvae-ml100k": [
        "data=ml-100k",
        "model=multvae",
        "trainer.max_epochs=20",
        "explain.compare=[row_integrated_gradients]",
    ],
    "multvae-ml1m": ["data=ml-1m", "model=multvae", "trainer.max_epochs=10"],
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


def loop_vs_batched(run_dir: Path, users: int, seed: int) -> str:
    """Time both deletion-test paths on the run's saved model (same users, same seed); one table row."""
    from recframe.explain.choose import choose_explainer
    from recframe.explain.fidelity import FidelityProtocol, deletion_curve, sample_users
    from recframe.explain.posthoc import test_users

    handle = recframe.load(run_dir)
    name, explainer = choose_explainer(handle.model, handle.model_name)
    train = handle.saved.train.to_csr()
    train.data[:] = 1.0
    explainer.use_history(train)
    protocol = FidelityProtocol(sample_users=users, seed=seed)
    sample = sample_users(test_users(run_dir), users, seed)
    seconds, curves = {}, {}
    for batched in (False, True):
        start = time.perf_counter()
        curves[batched] = deletion_curve(explainer, handle.model, sample, handle.seen, protocol, batched=batched)
        seconds[batched] = time.perf_counter() - start
    same = curves[False].summary() == curves[True].summary()
    return (
        f"| {run_dir.name} | {name} | {len(sample)} | {seconds[False]:.1f} | {seconds[True]:.1f} | "
        f"{seconds[False] / seconds[True]:.1f}x | {'yes' if same else 'NO'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated run names (default: all)")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--loop-vs-batched", action="store_true", help="time the loop against the batched path")
    parser.add_argument("--seed", type=int, default=0, help="--loop-vs-batched: the sample's seed")
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
    if args.loop_vs_batched:
        timing = [
            "| run | explainer | users | loop s | batched s | speed-up | same numbers |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in names:
            timing.append(loop_vs_batched(args.out / name, args.users, args.seed))
            print(timing[-1], flush=True)
        print("\n".join(timing))


if __name__ == "__main__":
    main()
