"""``recframe explain RUN_DIR --user U [--k 10] [--reasons 5] [--explainer auto] [--json]``: a saved run's
recommendations for one user with the reasons for each (original ids and titles)."""

from __future__ import annotations

import argparse
import json
import sys


def explain_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="recframe explain", description=__doc__)
    parser.add_argument("run_dir", help="a run folder with a saved model (model/)")
    parser.add_argument("--user", required=True, help="the user's original id")
    parser.add_argument("--k", default=10, type=int, help="recommendations (default 10)")
    parser.add_argument("--reasons", default=5, type=int, help="reasons per recommendation (default 5)")
    parser.add_argument("--explainer", default="auto", help="explainer name (recframe plugins lists them)")
    parser.add_argument("--include-seen", action="store_true", help="do not mask the user's history")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    args = parser.parse_args(argv)

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
