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
    rows = [
        {
            "name": p.name,
            "version": p.version,
            "distribution": p.distribution,
            "builtin": p.builtin,
            "hooks": p.hooks,
            "registered": p.registered,
        }
        for p in regs.plugins.values()
    ]
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
            registered = "\n".join(
                f"{kind} {name}: {r['descriptions'].get(kind, {}).get(name, '')}".rstrip(": ")
                for kind, names in sorted(r["registered"].items())
                for name in names
            )
        else:
            registered = "\n".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(r["registered"].items()))
        table.add_row(
            r["name"] + ("" if r["builtin"] else f"\n({r['distribution']})"),
            r["version"],
            "\n".join(r["hooks"]),
            registered,
        )
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
    parser.add_argument(
        "--metric", help="mark the best row by this key (default valid/<protocol.valid_metric>); KEY:min to minimise"
    )
    parser.add_argument(
        "--objectives", nargs="+", metavar="KEY:max|min", help="two or more objectives: mark and plot the Pareto front"
    )
    parser.add_argument("--no-plot", action="store_true", help="do not write pareto.png")
    parser.add_argument("--metrics", nargs="+", metavar="KEY", help="metric columns to show (names or globs: 'test/*')")
    parser.add_argument(
        "--columns",
        nargs="+",
        metavar="COL",
        help="exactly these columns, in this order, after job (names or globs: 'cost.*')",
    )
    parser.add_argument("--sweep", metavar="ID", help="only the jobs of this sweep (the folder holds several)")
    parser.add_argument("--mix", action="store_true", help="tabulate jobs of different sweeps together")
    parser.add_argument("--scaling", action="store_true", help="fit the scaling law over sizes (docs/scaling.md)")
    parser.add_argument("--knee-threshold", type=float, default=0.005, help="--scaling: knee below this gain/decade")
    parser.add_argument("--level", type=float, default=0.95, help="--scaling: bootstrap interval level")
    args = parser.parse_args(argv)
    if args.scaling:
        from recframe.sweeps.scaling import main as scaling_main

        return scaling_main(args)
    from pathlib import Path

    from recframe.sweeps.report import build_report, print_report, write_report

    report = build_report(
        Path(args.sweep_dir),
        args.metric,
        args.objectives,
        sweep=args.sweep,
        mix=args.mix,
        columns=args.columns,
        metrics_shown=args.metrics,
    )
    print_report(report)
    for path in write_report(report, plot=not args.no_plot):
        print(f"wrote {path}")
    return 0


@subcommand("recommend")
def recommend_command(argv: list[str]) -> int:
    """recframe recommend RUN_DIR (--users 1,2,3 | --all --out recs.parquet) [--k 10]: a saved run's top-k."""
    from recframe.serving.cli import recommend_main

    return recommend_main(argv)


@subcommand("evaluate")
def evaluate_command(argv: list[str]) -> int:
    """recframe evaluate --recs lists.csv [data=... protocol=...]: score external top-k lists as a run."""
    from recframe.evaluation.recs_cli import main

    return main(argv)


@subcommand("serve")
def serve_command(argv: list[str]) -> int:
    """recframe serve RUN_DIR [--port 8000] [--index exact|ann]: an HTTP server for a saved run's model."""
    from recframe.serving.cli import serve_main

    return serve_main(argv)


@subcommand("explain")
def explain_command(argv: list[str]) -> int:
    """recframe explain RUN_DIR --user U [--k 10] [--reasons 5] | --fidelity [--users N]: reasons, or fidelity."""
    from recframe.explain.cli import explain_main

    return explain_main(argv)


USAGE = """usage: recframe [-m] OVERRIDE [OVERRIDE ...]   run one experiment (-m: a multirun sweep over comma lists)
       recframe COMMAND [ARGS ...]
       recframe --version | --help

Overrides are Hydra's: pick a config option (model=ease, data=ml-1m, debug=fast) or set a key
(trainer.lr=0.005, seed=3). `recframe data=ml-100k model=bpr` runs BPR on MovieLens-100K;
`recframe -c job model=ease` prints the composed config, `recframe model=ease --help` the config groups,
`recframe --info` the config search path, `recframe --hydra-help` Hydra's own flags (shell completion:
`eval "$(recframe -sc install=bash)"`). Datasets are read from {data_dir}
(RECFRAME_DATA_DIR; `recframe download ml-100k` fetches one).

commands:"""


def print_usage() -> None:
    from recframe.paths import data_dir

    lines = [USAGE.format(data_dir=data_dir())]
    for name, fn in sorted(SUBCOMMANDS.items()):
        summary = (fn.__doc__ or "").strip().split(":", 1)[-1].strip()
        lines.append(f"  {name:<10} {summary}")
    print("\n".join(lines))


def _is_config_override(arg: str) -> bool:
    return (
        not arg.startswith("-")
        and not arg.startswith("hydra.")
        and not arg.startswith("hydra/")
        and not arg.startswith("+hydra")
    )


def precheck(overrides: Sequence[str], argv: Sequence[str] | None = None) -> None:
    """Compose (each sweep value in turn) and validate, so mistakes fail in one line up front.

    ``overrides`` are the command line's overrides as Hydra's parser reads them; ``argv`` the whole
    command line (its flags say whether this is a multirun).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from recframe import config as rconfig

    config_overrides = [o for o in overrides if _is_config_override(o)]
    try:
        parsed = OverridesParser.create().parse_overrides(config_overrides)
    except Exception as exc:
        raise rconfig.explain_hydra_error(exc, config_overrides) from None
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    sweeps = [o for o in parsed if o.is_sweep_override()]
    from recframe.sweeps.precheck import check_overrides

    optuna_variants = check_overrides(fixed, [o.input_line for o in sweeps], overrides if argv is None else argv)
    variants = [fixed]
    if optuna_variants is not None:  # the Optuna sweeper: each choice and the ends of each range
        variants += optuna_variants
        sweeps = []
    for sweep in sweeps:
        key = sweep.get_key_element()
        if type(sweep.value()).__name__ == "IntervalSweep":
            raise ConfigError(
                f"{sweep.input_line}: interval() needs the Optuna sweeper "
                f"(add hydra/sweeper=optuna, or use an hparams_search config)"
            )
        for value in sweep.sweep_string_iterator():
            variants.append(fixed + [f"{key}={value}"])
    for variant in variants:
        cfg = rconfig.compose(variant)
        rconfig.validate(cfg)


def is_multirun(argv: Sequence[str]) -> bool:
    return any(a in ("-m", "--multirun") for a in argv)


def run_hydra(argv: list[str]) -> int:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    import recframe.config  # noqa: F401  (resolvers and the plugin config search path)
    from recframe.cli_conventions import print_line, results_line, sweep_summary

    failures: list[RecframeError] = []
    finished: list[str] = []
    sweep_dirs: set[str] = set()  # filled by the jobs of a multirun (in this process)

    @hydra.main(config_path="pkg://recframe.conf", config_name="config", version_base="1.3")
    def task(cfg):  # type: ignore[no-untyped-def]
        from pathlib import Path

        from recframe.progress import set_enabled
        from recframe.runner import execute

        set_enabled(cfg.get("progress"))
        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            from recframe.sweeps.identity import write_marker

            sweep_dirs.add(str(hydra_cfg.sweep.dir))
            write_marker(run_dir)
        try:
            results = execute(cfg, run_dir)
        except RecframeError as exc:  # reported here, per job, so a sweep goes on
            print(f"error: {exc}", file=sys.stderr)
            failures.append(exc)
            return None
        if cfg.print_table:
            from recframe.console import print_results

            print_results(results)
        finished.append(str(run_dir))
        print_line(results_line(run_dir))
        return results["metrics"].get(f"valid/{cfg.protocol.valid_metric}")

    saved = sys.argv
    sys.argv = ["recframe", *argv]
    try:
        task()
    finally:
        sys.argv = saved
    for sweep_dir in sorted(sweep_dirs):
        print_line(sweep_summary(sweep_dir, len(finished) + len(failures), len(failures)))
    return 2 if failures else 0


#: Subcommands that run an experiment: Ctrl-C there ends with the ``resume=true`` hint.
RUNNING_SUBCOMMANDS = {"repro"}


def main(argv: Sequence[str] | None = None) -> int:
    from recframe.cli_conventions import (
        Interrupted,
        config_overrides,
        interrupt_guard,
        resume_hint,
        version_line,
        wants_version,
    )

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            if argv[0] not in RUNNING_SUBCOMMANDS:
                return SUBCOMMANDS[argv[0]](argv[1:])
            with interrupt_guard():
                return SUBCOMMANDS[argv[0]](argv[1:])
        if not argv or argv in (["--help"], ["-h"], ["help"]):
            print_usage()
            return 0
        from recframe import config as rconfig
        from recframe.alias_overrides import resolve_override_aliases

        argv = resolve_override_aliases(
            argv, rconfig.compose_plain
        )  # deprecated model.<old>= keys renamed for Hydra too
        if wants_version(argv):
            print(version_line())
            return 0
        overrides, runs = config_overrides(argv)
        from recframe.sweeps.identity import announced

        with announced(overrides, " ".join(["recframe", *argv]), runs and is_multirun(argv)):
            if runs:
                precheck(overrides, argv)
            with interrupt_guard():
                return run_hydra(argv)
    except RecframeError as exc:
        return fail(str(exc))
    except Interrupted:
        print(resume_hint(argv), file=sys.stderr, flush=True)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `recframe plugins --json | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
