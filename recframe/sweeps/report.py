"""``recframe report SWEEP_DIR``: one table for a whole sweep.

Every job folder under the sweep (one with ``.hydra/overrides.yaml``) is a row: the parameters that
vary between jobs (from the overrides), every metric and the cost columns from its ``results.json``;
a job without ``results.json`` is a ``failed`` row (``pruned`` when the Optuna sweeper pruned it), and
so is a job whose ``status.json`` says it failed, is still running or was killed (``stale``): its
``results.json``, if any, is an older run's and is not counted (``recframe/run_state.py``); the header
names each such job and why.
The protocol is printed once above the table, or, when jobs differ in protocol, a ``protocol``
column says which. The best row (by ``valid/<protocol.valid_metric>`` or ``--metric``) is marked;
with ``--objectives`` (two or more), or for a multi-objective Optuna study, the Pareto front is
marked and plotted to ``pareto.png``. ``report.md`` and ``report.csv`` are written atomically.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recframe.atomic import write_text
from recframe.errors import ConfigError
from recframe.explain.report import explain_columns
from recframe.run_state import run_health
from recframe.sweeps.identity import read_marker
from recframe.sweeps.objectives import COST_KEYS, Objective, parse_objective, value_of

HIDDEN_PREFIXES = ("trial.", "+trial.", "paths.output_dir", "print_table", "trainer.progress_bar")
BEST, FRONT = "★", "◆"
#: Other results.json numbers shown as columns when some job has them (privacy: docs/privacy.md).
RESULT_COLUMNS = ("privacy.epsilon", "privacy.attack_auc")


@dataclass
class Job:
    """One job of a sweep."""

    name: str  # its folder, relative to the sweep folder
    overrides: dict[str, str]
    results: dict[str, Any] | None
    status: str  # ok | failed | pruned | running | stale | incomplete
    detail: str = ""  # why a job is not ok
    values: dict[str, float | None] = field(default_factory=dict)
    sweep: dict[str, str] | None = None  # {"id", "command"} of the sweep that ran it (identity.py)


def _natural(text: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def collect(sweep_dir: Path) -> list[Job]:
    """The sweep's jobs, in natural order of their folders."""
    from omegaconf import OmegaConf

    if not sweep_dir.is_dir():
        raise ConfigError(f"sweep folder {sweep_dir} does not exist")
    jobs = []
    for ov in sorted(sweep_dir.rglob(".hydra/overrides.yaml"), key=lambda p: _natural(str(p))):
        job_dir = ov.parent.parent
        overrides: dict[str, str] = {}
        for line in OmegaConf.to_container(OmegaConf.load(ov)) or []:
            key, _, value = str(line).partition("=")
            if not key.startswith(HIDDEN_PREFIXES):
                overrides[key.lstrip("+~")] = value
        results_path = job_dir / "results.json"
        results = _read_json(results_path)
        status = "ok" if results is not None else "failed"
        state, detail = run_health(job_dir)
        if results is not None and state != "complete":  # an older run's results.json: not this job's result
            results, status = None, state
        trial_path = job_dir / "trial.json"
        if results is None and trial_path.is_file() and json.loads(trial_path.read_text()).get("state") == "PRUNED":
            status, detail = "pruned", ""
        jobs.append(
            Job(
                str(job_dir.relative_to(sweep_dir)),
                overrides,
                results,
                status,
                detail if status != "ok" else "",
                sweep=read_marker(job_dir),
            )
        )
    if not jobs:
        raise ConfigError(f"no jobs under {sweep_dir} (no */.hydra/overrides.yaml): is it a multirun folder?")
    return jobs


def _read_json(path: Path) -> dict[str, Any] | None:
    """The file's JSON object, or None if it is missing or unreadable (written by another tool)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("metrics"), dict) else None


def swept_keys(jobs: Sequence[Job]) -> tuple[list[str], dict[str, str]]:
    """(keys whose value differs between jobs, the overrides every job shares)."""
    keys: list[str] = []
    for job in jobs:
        keys += [k for k in job.overrides if k not in keys]
    varying = [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]
    fixed = {k: jobs[0].overrides[k] for k in keys if k not in varying}
    if len(jobs) == 1:
        return keys, {}
    return varying, fixed


def _metric_order(key: str) -> tuple[int, str, int]:
    part, _, name = key.partition("/")
    base, _, k = name.partition("@")
    return ({"valid": 0, "test": 1}.get(part, 2), base, int(k) if k.isdigit() else 0)


def protocol_label(block: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(block, sort_keys=True).encode()).hexdigest()[:6]
    return f"{block.get('name', 'custom')}#{digest}"


@dataclass
class Report:
    sweep_dir: Path
    jobs: list[Job]
    params: list[str]
    fixed: dict[str, str]
    metrics: list[str]
    protocols: dict[str, dict[str, Any]]  # label -> protocol block
    best_by: Objective
    best: int | None
    objectives: list[Objective]
    front: list[bool]
    chosen: list[str] | None = None  # --columns: the columns shown, in this order ("job" always first)

    @property
    def all_columns(self) -> list[str]:
        cols = ["job", "status", *self.params]
        if len(self.protocols) > 1:
            cols.append("protocol")
        cols += self.metrics + [f"cost.{c}" for c in COST_KEYS]
        cols += [c for c in RESULT_COLUMNS if any(_has(j.results, c) for j in self.jobs if j.results)]
        cols += explain_columns(self.jobs)  # explain=fidelity runs (recframe/explain/report.py)
        extra = [o.key for o in self.objectives + [self.best_by] if o.key not in cols]
        cols += list(dict.fromkeys(extra))
        cols.append("best")
        if self.objectives:
            cols.append("pareto")
        return cols

    @property
    def columns(self) -> list[str]:
        return self.all_columns if self.chosen is None else self.chosen

    def cell(self, i: int, col: str) -> Any:
        job = self.jobs[i]
        if col == "job":
            return job.name
        if col == "status":
            return job.status
        if col in self.params:
            return job.overrides.get(col, "")
        if col == "protocol":
            return protocol_label(job.results["protocol"]) if job.results else ""
        if col == "best":
            return i == self.best
        if col == "pareto":
            return bool(self.front[i])
        if job.results is None:
            return None
        try:
            return value_of(job.results, col)
        except KeyError:
            return None


def _default_metric(jobs: Sequence[Job]) -> str:
    for job in jobs:
        if job.results is not None:
            return f"valid/{job.results['protocol'].get('valid_metric', 'ndcg@10')}"
    return "valid/ndcg@10"


def _objective(spec: str) -> Objective:
    if ":" not in spec:
        spec += ":min" if spec.startswith("cost.") else ":max"
    return parse_objective(spec, "--metric/--objectives")


def one_sweep(jobs: list[Job], sweep_dir: Path, sweep: str | None, mix: bool) -> list[Job]:
    """The jobs of one sweep: those of ``sweep`` (an id), or all when they come from one sweep or ``mix``.

    Jobs record the sweep that ran them (``.recframe_sweep.json``); jobs without a record (older runs)
    count as one more sweep when recorded ones are present.
    """
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.sweep["id"] if job.sweep else "unrecorded", []).append(job)
    if sweep is not None:
        if sweep not in groups:
            raise ConfigError(f"--sweep {sweep}: no job of that sweep in {sweep_dir}; its sweeps: {', '.join(groups)}")
        return groups[sweep]
    if len(groups) <= 1 or mix:
        return jobs
    described = "; ".join(
        f"{sid} ({len(g)} jobs: {g[0].sweep['command'] if g[0].sweep else 'no record'})" for sid, g in groups.items()
    )
    raise ConfigError(
        f"{sweep_dir} holds jobs of {len(groups)} different sweeps: {described}; "
        f"tabulate one with --sweep ID, or all together with --mix"
    )


def select(names: Sequence[str], patterns: Sequence[str], flag: str) -> list[str]:
    """The ``names`` matching any of ``patterns`` (exact names or shell globs: ``test/*``), in pattern order."""
    from fnmatch import fnmatchcase

    from recframe.errors import did_you_mean

    chosen: list[str] = []
    for pattern in patterns:
        found = [n for n in names if fnmatchcase(n, pattern)]
        if not found:
            raise ConfigError(
                f"{flag} {pattern}: no such column{did_you_mean(pattern, list(names))}; columns: {', '.join(names)}"
            )
        chosen += [n for n in found if n not in chosen]
    return chosen


def build_report(
    sweep_dir: str | Path,
    metric: str | None = None,
    objectives: Sequence[str] | None = None,
    *,
    sweep: str | None = None,
    mix: bool = False,
    columns: Sequence[str] | None = None,
    metrics_shown: Sequence[str] | None = None,
) -> Report:
    """Collect the jobs of ``sweep_dir`` and compute the best row and the Pareto front.

    ``sweep``/``mix`` choose among several sweeps in one folder (:func:`one_sweep`); ``metrics_shown``
    (``--metrics``) keeps only the matching metric columns, ``columns`` (``--columns``) names exactly
    the columns shown.
    """
    from recframe.sweeps.pareto import pareto_mask

    sweep_dir = Path(sweep_dir)
    jobs = one_sweep(collect(sweep_dir), sweep_dir, sweep, mix)
    params, fixed = swept_keys(jobs)
    metrics = sorted({k for j in jobs if j.results for k in j.results.get("metrics", {})}, key=_metric_order)
    protocols: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if job.results is not None:
            protocols.setdefault(protocol_label(job.results["protocol"]), job.results["protocol"])
    best_by = _objective(metric or _default_metric(jobs))
    objs = [_objective(s) for s in objectives or []]
    if not objs:
        objs = _study_objectives(sweep_dir)
    if len(objs) == 1:
        raise ConfigError("--objectives needs two or more KEY:max|min (one objective: use --metric)")
    known = set(metrics) | {f"cost.{c}" for c in COST_KEYS}
    ok = [j for j in jobs if j.results is not None]
    for o in [best_by, *objs]:
        if ok and not any(_has(j.results, o.key) for j in ok):
            from recframe.errors import did_you_mean

            raise ConfigError(f"'{o.key}' is in no job's results.json{did_you_mean(o.key, sorted(known))}")
    for job in jobs:
        job.values = {o.key: _get(job.results, o.key) for o in [best_by, *objs]}
    scored = [(i, j.values[best_by.key]) for i, j in enumerate(jobs) if j.values.get(best_by.key) is not None]
    best = None
    if scored:
        sign = 1 if best_by.direction == "maximize" else -1
        best = max(scored, key=lambda iv: sign * iv[1])[0]
    front = (
        pareto_mask(
            [
                None if any(j.values.get(o.key) is None for o in objs) else tuple(j.values[o.key] for o in objs)
                for j in jobs
            ],
            [o.direction for o in objs],
        )
        if objs
        else [False] * len(jobs)
    )
    shown = select(metrics, metrics_shown, "--metrics") if metrics_shown else metrics
    report = Report(sweep_dir, jobs, params, fixed, shown, protocols, best_by, best, objs, front)
    if columns:
        report.chosen = ["job", *[c for c in select(report.all_columns, columns, "--columns") if c != "job"]]
    return report


def _has(results: dict[str, Any], key: str) -> bool:
    return _get(results, key) is not None


def _get(results: dict[str, Any] | None, key: str) -> float | None:
    if results is None:
        return None
    try:
        return value_of(results, key)
    except KeyError:
        return None


def _study_objectives(sweep_dir: Path) -> list[Objective]:
    """The objectives of a multi-objective Optuna study run in this folder, if any."""
    path = sweep_dir / "optimization_results.json"
    if not path.is_file():
        return []
    specs = json.loads(path.read_text()).get("objectives") or []
    return [_objective(s) for s in specs] if len(specs) > 1 else []


# -- output ----------------------------------------------------------------------------------------


def _fmt(value: Any, col: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return (BEST if col == "best" else FRONT) if value else ""
    if isinstance(value, float):
        if col.startswith("cost.") or "/" not in col:
            return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}" if col.startswith("cost.") else str(value)
    return str(value)


def header_lines(report: Report) -> list[str]:
    from recframe.protocol import describe

    lines = []
    if len(report.protocols) == 1:
        block = next(iter(report.protocols.values()))
        lines += [f"{k}: {v}" for k, v in describe(block)]
    elif report.protocols:
        lines.append(f"The jobs differ in protocol ({len(report.protocols)} protocols; see the protocol column):")
        for label, block in report.protocols.items():
            lines.append(f"  {label}: " + "; ".join(f"{k} {v}" for k, v in describe(block)))
    if report.fixed:
        lines.append("fixed overrides: " + " ".join(f"{k}={v}" for k, v in report.fixed.items()))
    counts = {
        s: sum(j.status == s for j in report.jobs) for s in ("ok", "failed", "pruned", "running", "stale", "incomplete")
    }
    lines.append(f"jobs: {len(report.jobs)} ({', '.join(f'{v} {k}' for k, v in counts.items() if v)})")
    lines += [f"not counted: {j.name} ({j.status}: {j.detail})" for j in report.jobs if j.detail]
    best = report.jobs[report.best].name if report.best is not None else "none"
    lines.append(f"best ({BEST}) by {report.best_by.short}: {best}")
    if report.objectives:
        lines.append(
            f"Pareto front ({FRONT}) over "
            + ", ".join(o.short for o in report.objectives)
            + ": "
            + ", ".join(j.name for j, m in zip(report.jobs, report.front) if m)
        )
    return lines


def to_markdown(report: Report) -> str:
    cols = report.columns
    out = [f"# Sweep report: {report.sweep_dir}", ""]
    out += [f"- {line}" if not line.startswith("  ") else f"  - {line.strip()}" for line in header_lines(report)]
    out += [
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" if c in ("job", "status") or c in report.params else "---:" for c in cols) + "|",
    ]
    for i in range(len(report.jobs)):
        out.append("| " + " | ".join(_fmt(report.cell(i, c), c).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(out) + "\n"


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = report.columns
    writer.writerow(cols)
    for i in range(len(report.jobs)):
        row = []
        for c in cols:
            v = report.cell(i, c)
            row.append(int(v) if isinstance(v, bool) else ("" if v is None else v))
        writer.writerow(row)
    return buf.getvalue()


def print_report(report: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for line in header_lines(report):
        console.print(line)
    cols = report.columns
    widths = [max([len(c)] + [len(_fmt(report.cell(i, c), c)) for i in range(len(report.jobs))]) for c in cols]
    console = Console(highlight=False, width=max(console.width, sum(widths) + 3 * len(cols) + 1))
    console.print(f"[bold]Sweep {report.sweep_dir}[/bold]", soft_wrap=True)
    table = Table()
    for c in cols:
        # fold, never an ellipsis: a job's folder must stay whole to be found again
        table.add_column(c, justify="left" if c in ("job", "status", *report.params) else "right", overflow="fold")
    for i in range(len(report.jobs)):
        style = "bold green" if i == report.best else ("red" if report.jobs[i].status != "ok" else None)
        table.add_row(*(_fmt(report.cell(i, c), c) for c in cols), style=style)
    console.print(table)


def write_report(report: Report, plot: bool = True) -> list[Path]:
    """Write ``report.md``, ``report.csv`` (and ``pareto.png``) into the sweep folder; return the paths."""
    written = [report.sweep_dir / "report.md", report.sweep_dir / "report.csv"]
    write_text(written[0], to_markdown(report))
    write_text(written[1], to_csv(report))
    if plot and report.objectives:
        from recframe.sweeps.pareto import plot_front

        points = [
            None
            if any(j.values.get(o.key) is None for o in report.objectives)
            else tuple(j.values[o.key] for o in report.objectives)
            for j in report.jobs
        ]
        written.append(
            plot_front(
                report.sweep_dir / "pareto.png",
                [j.name for j in report.jobs],
                points,
                report.front,
                [o.key for o in report.objectives],
                [o.direction for o in report.objectives],
            )
        )
    return written
