"""``recframe report --scaling SWEEP_DIR``: the scaling law of a size sweep, with every cost beside it.

The jobs of a sweep are grouped into *sizes* (every swept override except ``seed``); each size's
point is the mean over its seeds of the accuracy (``--metric``, default ``test/ndcg@10``) at the
mean of each cost. The law is fitted by least squares in log-log space,
``log10 y = log10 a + b log10 x``, against parameters (``cost.params``), non-embedding parameters
(``cost.non_embedding_params``) and training FLOPs (``cost.train_flops``), whichever the jobs report.

Uncertainty: a bootstrap over seeds. Each replicate draws, within every size, as many seeds as it
has, with replacement, refits the law on the replicate's size means, and keeps the exponent; the
interval is the replicates' percentile interval (``--level``, default 0.95).

The knee: between consecutive sizes (in order of ``x``), the marginal return per decade is the
gain in the metric's size means divided by ``log10(x_next / x)``. The knee is the first size after
which that return falls below ``--knee-threshold`` (default 0.005 of the metric per decade of
``x``): growing the model past it buys less than the threshold per tenfold cost.

Every point carries the full balance row: accuracy, parameters, bytes, fit time, training FLOPs,
scoring latency (means over seeds), the seed spread (sample standard deviation of the metric) and
the churn between seeds (1 - mean Jaccard overlap of the test top-K lists, ``topk.npz``, over
pairs of seeds), plus any metric whose name mentions fidelity, privacy or membership (explanation
fidelity, a membership-inference attack's AUC) when the runs measured them. ``scaling.md``,
``scaling.json`` and ``scaling.png`` (the curves with the fitted lines, the knee marked) are written
atomically into the sweep folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, cast

import numpy as np

from recframe.atomic import write_text
from recframe.errors import ConfigError

AXES = ("cost.params", "cost.non_embedding_params", "cost.train_flops")
ROW_COSTS = (
    "cost.params",
    "cost.non_embedding_params",
    "cost.model_bytes",
    "cost.fit_seconds",
    "cost.train_flops",
    "cost.score_latency_ms_per_1k_users",
)
EXTRA_MARKERS = ("fidelity", "privacy", "membership")
# measured outside ``metrics``: DP-SGD's epsilon and the membership-inference AUC (stage ``privacy``)
PRIVACY_KEYS = ("privacy.epsilon", "privacy.attack_auc")


@dataclass
class PowerLaw:
    """``y = a * x**b`` fitted in log-log space, with the bootstrap interval of ``b``."""

    axis: str
    a: float
    b: float
    b_low: float
    b_high: float
    level: float
    r2: float
    n_sizes: int
    knee: str | None  # the size label at the knee, None when returns never fall below the threshold
    knee_x: float | None
    returns_per_decade: list[float] = field(default_factory=list)  # between consecutive sizes


@dataclass
class SizePoint:
    """One size of the sweep: its seeds' values and the balance row of their means."""

    label: str
    jobs: list[str]
    values: list[float]  # the metric, one per seed
    row: dict[str, float | None]  # means over seeds of the metric and every cost; seed spread, churn


def fit_power_law(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """``(a, b, r2)`` of the least-squares line ``log10 y = log10 a + b log10 x`` (all values > 0)."""
    lx, ly = np.log10(np.asarray(x, dtype=np.float64)), np.log10(np.asarray(y, dtype=np.float64))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ConfigError("a power law needs at least two sizes with different x")
    b, log_a = np.polyfit(lx, ly, 1)
    residual = ly - (log_a + b * lx)
    total = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else 1.0
    return float(10**log_a), float(b), r2


def bootstrap_exponent(
    x: Sequence[float], seeds: Sequence[Sequence[float]], n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the exponent under resampling seeds within each size.

    ``x[i]`` is size ``i``'s cost, ``seeds[i]`` its metric per seed. A size with one seed contributes
    its one value to every replicate (its spread is unknown, not zero: say so where it matters).
    """
    rng = np.random.default_rng(seed)
    lx = np.log10(np.asarray(x, dtype=np.float64))
    means = np.empty((n_boot, len(seeds)))  # [replicates, sizes]: each replicate's size means
    for i, s in enumerate(seeds):
        a = np.asarray(s, dtype=np.float64)
        means[:, i] = a[rng.integers(0, len(a), (n_boot, len(a)))].mean(axis=1)
    ly = np.log10(np.maximum(means, 1e-300))
    cx = lx - lx.mean()
    exps = (ly - ly.mean(axis=1, keepdims=True)) @ cx / (cx @ cx)  # least-squares slope of every replicate
    tail = (1.0 - level) / 2.0
    return float(np.quantile(exps, tail)), float(np.quantile(exps, 1.0 - tail))


def marginal_returns(x: Sequence[float], y: Sequence[float]) -> list[float]:
    """Gain in ``y`` per decade of ``x`` between consecutive points (``x`` increasing)."""
    return [(y[i + 1] - y[i]) / math.log10(x[i + 1] / x[i]) for i in range(len(x) - 1)]


def knee_index(returns: Sequence[float], threshold: float) -> int | None:
    """The first point after which the return per decade falls below ``threshold`` (``None``: never)."""
    for i, r in enumerate(returns):
        if r < threshold:
            return i
    return None


def _value(results: dict[str, Any], key: str) -> float | None:
    from recframe.sweeps.objectives import value_of

    try:
        v = value_of(results, key)
    except KeyError:
        return None
    return None if v is None else float(v)


def _churn(job_dirs: Sequence[Path]) -> float | None:
    """Mean churn of the test top-K lists over pairs of seeds (``None`` with fewer than two lists)."""
    from recframe.evaluation.stability import churn, load_topk

    lists = [load_topk(d) for d in job_dirs if (d / "topk.npz").is_file()]
    pairs = [churn(a, b)["churn"] for a, b in combinations(lists, 2)]
    return float(np.mean(pairs)) if pairs else None


def _nested_extras(jobs: Sequence[Any]) -> list[str]:
    """Balance columns stored outside ``metrics`` that some job measured: the explanation fidelity
    (``explain.fidelity.*``, ``explain=fidelity``) and the privacy block's finite epsilon (DP-SGD) and
    membership-inference AUC (an epsilon of ``inf``, no DP, is left out: every run has it)."""
    from recframe.explain.report import explain_columns

    def finite(key: str) -> bool:
        return any((v := _value(j.results, key)) is not None and math.isfinite(v) for j in jobs)

    return [*explain_columns(jobs), *(k for k in PRIVACY_KEYS if finite(k))]


def size_points(sweep_dir: Path, metric: str, jobs: Sequence[Any]) -> list[SizePoint]:
    """Group the ok jobs by every swept override except ``seed`` and ``name``; one point per group.

    ``name`` only names a sweep's folder: jobs of one size run as separate named sweeps (``--mix``
    over their common folder) are seeds of one point, not sizes."""
    from recframe.sweeps.report import swept_keys

    ok = [j for j in jobs if j.results is not None and _value(j.results, metric) is not None]
    if not ok:
        raise ConfigError(f"no job of {sweep_dir} reports '{metric}'; pick another with --metric")
    varying, _ = swept_keys(ok)
    size_keys = [k for k in varying if k not in ("seed", "name")]
    groups: dict[str, list[Any]] = {}
    for job in ok:
        label = " ".join(f"{k}={job.overrides.get(k, '')}" for k in size_keys) or "all"
        groups.setdefault(label, []).append(job)
    extras = [
        f"metrics.{k}"
        for k in sorted({k for j in ok for k in j.results["metrics"] if any(m in k for m in EXTRA_MARKERS)})
    ]
    extras += _nested_extras(ok)
    points = []
    for label, members in groups.items():
        values = [float(_value(j.results, metric)) for j in members]  # type: ignore[arg-type]
        row: dict[str, float | None] = {metric: float(np.mean(values))}
        for key in (*ROW_COSTS, *extras):
            found = [v for v in (_value(j.results, key) for j in members) if v is not None]
            row[key.removeprefix("metrics.")] = float(np.mean(found)) if found else None
        row["seeds"] = float(len(values))
        row["seed_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        row["churn"] = _churn([sweep_dir / j.name for j in members])
        points.append(SizePoint(label, [j.name for j in members], values, row))
    return points


def fit_axis(
    points: Sequence[SizePoint], metric: str, axis: str, threshold: float, level: float, n_boot: int
) -> PowerLaw | None:
    """The law of ``metric`` against ``axis`` over the sizes that report a positive ``axis`` (None: < 2)."""
    # the metric's mean is always set (size_points) and the filter keeps only points with a positive ``axis``
    usable = sorted(
        (p for p in points if (p.row.get(axis) or 0) > 0 and cast(float, p.row[metric]) > 0),
        key=lambda p: cast(float, p.row[axis]),
    )
    if len({p.row[axis] for p in usable}) < 2:
        return None
    x = [float(p.row[axis]) for p in usable]  # type: ignore[arg-type]
    y = [float(p.row[metric]) for p in usable]  # type: ignore[arg-type]
    a, b, r2 = fit_power_law(x, y)
    low, high = bootstrap_exponent(x, [p.values for p in usable], n_boot=n_boot, level=level)
    returns = marginal_returns(x, y)
    k = knee_index(returns, threshold)
    return PowerLaw(
        axis,
        a,
        b,
        low,
        high,
        level,
        r2,
        len(usable),
        None if k is None else usable[k].label,
        None if k is None else x[k],
        returns,
    )


@dataclass
class ScalingReport:
    sweep_dir: Path
    metric: str
    threshold: float
    points: list[SizePoint]
    laws: list[PowerLaw]


def build_scaling_report(
    sweep_dir: str | Path,
    metric: str = "test/ndcg@10",
    threshold: float = 0.005,
    level: float = 0.95,
    n_boot: int = 2000,
    *,
    sweep: str | None = None,
    mix: bool = False,
) -> ScalingReport:
    """Collect a sweep's jobs (as ``recframe report`` does), group them into sizes and fit the law."""
    from recframe.sweeps.report import collect, one_sweep

    if not 0 < level < 1:
        raise ConfigError(f"--level must be in (0, 1), got {level}")
    sweep_dir = Path(sweep_dir)
    jobs = one_sweep(collect(sweep_dir), sweep_dir, sweep, mix)
    points = size_points(sweep_dir, metric, jobs)
    laws = [law for axis in AXES if (law := fit_axis(points, metric, axis, threshold, level, n_boot)) is not None]
    if not laws:
        raise ConfigError(
            f"{sweep_dir}: fewer than two sizes report {metric} with a positive cost.params or cost.train_flops; "
            f"a scaling fit needs a sweep over at least two sizes"
        )
    return ScalingReport(sweep_dir, metric, threshold, points, laws)


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    if abs(v) >= 1e5 or (0 < abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:.4g}"


def to_markdown(report: ScalingReport) -> str:
    out = [f"# Scaling report: {report.sweep_dir}", ""]
    out.append(f"- metric: {report.metric}; knee threshold: {report.threshold} per decade")
    for law in report.laws:
        knee = f"knee at {law.knee} ({law.axis} = {_fmt(law.knee_x)})" if law.knee else "no knee (returns stay above)"
        out.append(
            f"- {report.metric} = {law.a:.4g} * ({law.axis})^{law.b:.4f}, exponent {law.level:.0%} interval "
            f"[{law.b_low:.4f}, {law.b_high:.4f}] (bootstrap over seeds), R² {law.r2:.3f}, {law.n_sizes} sizes; {knee}"
        )
    cols = [report.metric, *[k for k in report.points[0].row if k != report.metric]]
    out += ["", "| size | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    order = sorted(report.points, key=lambda p: p.row.get("cost.params") or 0)
    for p in order:
        out.append(f"| {p.label} | " + " | ".join(_fmt(p.row.get(c)) for c in cols) + " |")
    return "\n".join(out) + "\n"


def to_json(report: ScalingReport) -> str:
    return json.dumps(
        {
            "sweep_dir": str(report.sweep_dir),
            "metric": report.metric,
            "knee_threshold_per_decade": report.threshold,
            "laws": [asdict(law) for law in report.laws],
            "points": [asdict(p) for p in report.points],
        },
        indent=2,
    )


def plot(report: ScalingReport, path: Path) -> Path:
    """One log-log panel per fitted axis: every seed, the size means, the fitted line, the knee."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("the scaling plot needs matplotlib: pip install 'recframe[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from recframe.atomic import atomic_path

    fig, axes = plt.subplots(1, len(report.laws), figsize=(5.2 * len(report.laws), 4.4), squeeze=False)
    for ax, law in zip(axes[0], report.laws, strict=True):
        pts = sorted(
            (p for p in report.points if (p.row.get(law.axis) or 0) > 0), key=lambda p: cast(float, p.row[law.axis])
        )
        for p in pts:
            ax.scatter([p.row[law.axis]] * len(p.values), p.values, c="tab:gray", alpha=0.5, s=12)
        xs = np.array([p.row[law.axis] for p in pts], dtype=np.float64)
        ax.plot(xs, [p.row[report.metric] for p in pts], "o", c="tab:blue", label="size mean")
        grid = np.geomspace(xs.min(), xs.max(), 50)
        ax.plot(
            grid,
            law.a * grid**law.b,
            "-",
            c="tab:red",
            label=f"fit: exponent {law.b:.3f} [{law.b_low:.3f}, {law.b_high:.3f}]",
        )
        if law.knee_x is not None:
            ax.axvline(law.knee_x, ls="--", c="tab:green", label="knee")
        ax.set_xscale("log")
        ax.set_yscale("log")
        if xs.max() / xs.min() > 10:  # decades carry labels: the minor ones (2e9, 3e9, ...) would overlap
            from matplotlib.ticker import NullFormatter

            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(law.axis)
        ax.set_ylabel(report.metric)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def write_scaling_report(report: ScalingReport, draw: bool = True) -> list[Path]:
    """Write ``scaling.md``, ``scaling.json`` (and ``scaling.png``) into the sweep folder."""
    written = [report.sweep_dir / "scaling.md", report.sweep_dir / "scaling.json"]
    write_text(written[0], to_markdown(report))
    write_text(written[1], to_json(report))
    if draw:
        written.append(plot(report, report.sweep_dir / "scaling.png"))
    return written


def main(args: Any) -> int:
    """The ``--scaling`` branch of ``recframe report``: build, print and write the scaling report."""
    report = build_scaling_report(
        args.sweep_dir,
        args.metric or "test/ndcg@10",
        args.knee_threshold,
        args.level,
        sweep=args.sweep,
        mix=args.mix,
    )
    print(to_markdown(report), end="")
    for path in write_scaling_report(report, draw=not args.no_plot):
        print(f"wrote {path}")
    return 0
