"""The ``recframe`` command.

``recframe [overrides...]`` runs one experiment (``-m`` for a multirun sweep) through Hydra;
``recframe plugins [--json]`` lists plugins and what they registered; ``recframe report SWEEP_DIR``
tabulates a sweep (docs/sweeps.md). Config mistakes are reported
in one line before Hydra starts; errors inside a run are reported in one line by the task.
Imports are deferred so ``recframe plugins`` and ``--help`` stay quick.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence

from recframe.errors import ConfigError, RecframeError

SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {}


def subcommand(name: str) -> Callable[[Callable[[list[str]], int]], Callable[[list[str]], int]]:
    def wrap(fn: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
        SUBCOMMANDS[name] = fn
        return fn

    return wrap


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


@subcommand("plugins")
def plugins_command(argv: list[str]) -> int:
    """recframe plugins [--json] [--descriptions]: every plugin, its version, hooks and registered names."""
    import argparse

    parser = argparse.ArgumentParser(prog="recframe plugins", description=plugins_command.__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--descriptions", action="store_true", help="show each registered name's description")
    args = parser.parse_args(argv)
    from recframe.plugins import registries, registry_descriptions

    regs = registries()
    rows = [{"name": p.name, "version": p.version, "distribution": p.distribution, "builtin": p.builtin,
             "hooks": p.hooks, "registered": p.registered} for p in regs.plugins.values()]
    if args.descriptions:
        for row in rows:
            row["descriptions"] = registry_descriptions(regs, row["registered"])
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="recframe plugins", title_justify="left")
    for col in ("plugin", "version", "hooks", "registered"):
        table.add_column(col)
    for r in rows:
        if args.descriptions:
            registered = "\n".join(f"{kind} {name}: {r['descriptions'].get(kind, {}).get(name, '')}".rstrip(": ")
                                   for kind, names in sorted(r["registered"].items()) for name in names)
        else:
            registered = "\n".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(r["registered"].items()))
        table.add_row(r["name"] + ("" if r["builtin"] else f"\n({r['distribution']})"), r["version"],
                      "\n".join(r["hooks"]), registered)
    Console().print(table)
    return 0


@subcommand("download")
def download_command(argv: list[str]) -> int:
    """recframe download NAME [--path DIR] [--force]: fetch, verify and extract a dataset archive."""
    from recframe.data.download import main as download_main

    return download_main(argv)


@subcommand("stability")
def stability_command(argv: list[str]) -> int:
    """recframe stability RUN_DIR [RUN_DIR ...]: metric mean ± std over runs and pairwise top-K churn."""
    from recframe.evaluation.stability_cli import main as stability_main

    return stability_main(argv)


@subcommand("compare")
def compare_command(argv: list[str]) -> int:
    """recframe compare RUN_A RUN_B: paired t-test, Wilcoxon test and effect sizes per metric."""
    from recframe.compare import main as compare_main

    return compare_main(argv)


@subcommand("repro")
def repro_command(argv: list[str]) -> int:
    """recframe repro [NAME [overrides...]]: list reproductions, or run one against its paper."""
    from recframe.repro import repro_command as run_repro

    return run_repro(argv)


@subcommand("report")
def report_command(argv: list[str]) -> int:
    """recframe report SWEEP_DIR: one table (Markdown, CSV, printed) of a sweep's jobs."""
    import argparse

    parser = argparse.ArgumentParser(prog="recframe report", description=report_command.__doc__)
    parser.add_argument("sweep_dir", help="a multirun folder, e.g. outputs/multiruns/<name>")
    parser.add_argument("--metric", help="mark the best row by this key (default valid/<protocol.valid_metric>); "
                                         "KEY:min to minimise")
    parser.add_argument("--objectives", nargs="+", metavar="KEY:max|min",
                        help="two or more objectives: mark and plot the Pareto front")
    parser.add_argument("--no-plot", action="store_true", help="do not write pareto.png")
    args = parser.parse_args(argv)
    from pathlib import Path

    from recframe.sweeps.report import build_report, print_report, write_report

    report = build_report(Path(args.sweep_dir), args.metric, args.objectives)
    print_report(report)
    for path in write_report(report, plot=not args.no_plot):
        print(f"wrote {path}")
    return 0


USAGE = """usage: recframe [-m] [OVERRIDE ...]     run one experiment (-m: a multirun sweep over comma lists)
       recframe COMMAND [ARGS ...]

Overrides are Hydra's: pick a config option (model=ease, data=ml-1m, debug=fast) or set a key
(trainer.lr=0.005, seed=3). `recframe --cfg job` prints the composed config; `recframe --hydra-help`
lists Hydra's own flags.

commands:"""


def print_usage() -> None:
    lines = [USAGE]
    for name, fn in sorted(SUBCOMMANDS.items()):
        summary = (fn.__doc__ or "").strip().split(":", 1)[-1].strip()
        lines.append(f"  {name:<10} {summary}")
    print("\n".join(lines))


def _is_config_override(arg: str) -> bool:
    return not arg.startswith("-") and not arg.startswith("hydra.") and not arg.startswith("hydra/") \
        and not arg.startswith("+hydra")


def precheck(overrides: Sequence[str]) -> None:
    """Compose (each sweep value in turn) and validate, so mistakes fail in one line up front."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from recframe import config as rconfig

    config_overrides = [o for o in overrides if _is_config_override(o)]
    try:
        parsed = OverridesParser.create().parse_overrides(config_overrides)
    except Exception as exc:
        raise rconfig.explain_hydra_error(exc, config_overrides) from None
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    sweeps = [o for o in parsed if o.is_sweep_override()]
    from recframe.sweeps.settings import check_overrides

    optuna_variants = check_overrides(fixed, [o.input_line for o in sweeps], overrides)
    variants = [fixed]
    if optuna_variants is not None:  # the Optuna sweeper: each choice and the ends of each range
        variants += optuna_variants
        sweeps = []
    for sweep in sweeps:
        key = sweep.get_key_element()
        if type(sweep.value()).__name__ == "IntervalSweep":
            raise ConfigError(f"{sweep.input_line}: interval() needs the Optuna sweeper "
                              f"(add hydra/sweeper=optuna, or use an hparams_search config)")
        for value in sweep.sweep_string_iterator():
            variants.append(fixed + [f"{key}={value}"])
    for variant in variants:
        cfg = rconfig.compose(variant)
        rconfig.validate(cfg)


def run_hydra(argv: list[str]) -> int:
    import hydra
    from hydra.core.hydra_config import HydraConfig

    import recframe.config  # noqa: F401  (resolvers and the plugin config search path)

    failures: list[RecframeError] = []

    @hydra.main(config_path="pkg://recframe.conf", config_name="config", version_base="1.3")
    def task(cfg):  # type: ignore[no-untyped-def]
        from pathlib import Path

        from recframe.runner import execute

        try:
            results = execute(cfg, Path(HydraConfig.get().runtime.output_dir))
        except RecframeError as exc:  # reported here, per job, so a sweep goes on
            print(f"error: {exc}", file=sys.stderr)
            failures.append(exc)
            return None
        if cfg.print_table:
            from recframe.console import print_results

            print_results(results)
        return results["metrics"].get(f"valid/{cfg.protocol.valid_metric}")

    saved = sys.argv
    sys.argv = ["recframe", *argv]
    try:
        task()
    finally:
        sys.argv = saved
    return 2 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return SUBCOMMANDS[argv[0]](argv[1:])
        if argv in (["--help"], ["-h"], ["help"]):
            print_usage()
            return 0
        from recframe.param_aliases import resolve_override_aliases

        argv = resolve_override_aliases(argv)  # deprecated model.<old>= keys renamed for Hydra too
        if not any(a in ("--help", "-h", "--hydra-help", "--info") or a.startswith("--cfg") for a in argv):
            precheck(argv)
        return run_hydra(argv)
    except RecframeError as exc:
        return fail(str(exc))
    except BrokenPipeError:  # e.g. `recframe plugins --json | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
