"""``recframe explain RUN_DIR --user U [--k 10] [--reasons 5] [--explainer auto] [--json]``: a saved run's
recommendations for one user with the reasons for each (original ids and titles).

``recframe explain RUN_DIR --fidelity [--users 200] [--seed 0] [--overwrite]``: the run's explanation
fidelity (the deletion test of ``explain=fidelity``), printed and stored in its ``results.json``."""

from __future__ import annotations

import argparse
import json
import sys


def explain_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="recframe explain", description=__doc__)
    parser.add_argument("run_dir", help="a run folder with a saved model (model/)")
    parser.add_argument("--user", help="the user's original id")
    parser.add_argument("--k", default=10, type=int, help="recommendations (default 10)")
    parser.add_argument("--reasons", default=5, type=int, help="reasons per recommendation (default 5)")
    parser.add_argument("--explainer", default="auto", help="explainer name (recframe plugins lists them)")
    parser.add_argument("--include-seen", action="store_true", help="do not mask the user's history")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.add_argument(
        "--fidelity", action="store_true", help="measure the deletion-test fidelity and store it in results.json"
    )
    parser.add_argument("--users", default=200, type=int, help="--fidelity: test users sampled (default 200)")
    parser.add_argument("--seed", default=0, type=int, help="--fidelity: the sample's seed (default 0)")
    parser.add_argument("--compare", default="", help="--fidelity: more explainers to measure, comma-separated")
    parser.add_argument("--overwrite", action="store_true", help="--fidelity: replace an existing explain block")
    args = parser.parse_args(argv)
    if args.fidelity:
        if args.user is not None:
            parser.error("--fidelity measures a sample of test users; leave out --user")
        return fidelity_main(args)
    if args.user is None:
        parser.error("the following arguments are required: --user (or --fidelity)")

    from recframe.explain.answer import ExplainedModel
    from recframe.serving.handle import load

    explained = ExplainedModel(load(args.run_dir), args.explainer)
    answer = explained.answer(args.user, args.k, args.reasons, not args.include_seen)
    if args.json:
        json.dump(answer, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n".join(explained.lines(answer)))
    return 0


def fidelity_main(args: argparse.Namespace) -> int:
    from recframe.explain.posthoc import fidelity_lines, posthoc_fidelity

    compare = tuple(n.strip() for n in args.compare.split(",") if n.strip())
    block = posthoc_fidelity(args.run_dir, args.users, args.seed, args.explainer, compare, args.overwrite)
    if args.json:
        json.dump(block, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n".join(fidelity_lines(block)))
        print(f"stored under 'explain' in {args.run_dir}/results.json")
    return 0
