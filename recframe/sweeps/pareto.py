"""Pareto fronts: which points no other point beats on every objective at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` on every objective and better on one."""
    better = False
    for x, y, d in zip(a, b, directions):
        if d == "maximize":
            x, y = -x, -y
        if x > y:
            return False
        if x < y:
            better = True
    return better


def pareto_mask(points: Sequence[Sequence[float] | None], directions: Sequence[str]) -> list[bool]:
    """``True`` for each point on the front; ``None`` points (failed runs) are never on it."""
    mask = []
    for i, p in enumerate(points):
        if p is None:
            mask.append(False)
            continue
        mask.append(not any(q is not None and j != i and dominates(q, p, directions) for j, q in enumerate(points)))
    return mask


def plot_front(
    path: Path,
    labels: Sequence[str],
    points: Sequence[Sequence[float] | None],
    mask: Sequence[bool],
    names: Sequence[str],
    directions: Sequence[str],
) -> Path:
    """Scatter the runs on the first two objectives, the front marked and joined; written atomically."""
    try:
        import matplotlib
    except ImportError:
        from recframe.errors import ConfigError

        raise ConfigError("the Pareto plot needs matplotlib: pip install 'recframe[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from recframe.atomic import atomic_path

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    points, inf_at = finite_points(points)
    rows = [(lab, p, m) for lab, p, m in zip(labels, points, mask) if p is not None]
    others = [p for _, p, m in rows if not m]
    front = sorted((p for _, p, m in rows if m), key=lambda p: p[0])
    if others:
        ax.scatter([p[0] for p in others], [p[1] for p in others], c="tab:gray", alpha=0.6, label="runs")
    if front:
        ax.plot([p[0] for p in front], [p[1] for p in front], "-o", c="tab:red", label="Pareto front")
    for lab, p, m in rows:
        if m:
            ax.annotate(lab, (p[0], p[1]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    arrow = {"maximize": "higher is better", "minimize": "lower is better"}
    ax.set_xlabel(f"{names[0]} ({arrow[directions[0]]})")
    ax.set_ylabel(f"{names[1]} ({arrow[directions[1]]})")
    if len(names) > 2 and rows:  # the third objective as each run's colour
        shade = ax.scatter(
            [p[0] for _, p, _ in rows],
            [p[1] for _, p, _ in rows],
            c=[p[2] for _, p, _ in rows],
            cmap="viridis",
            s=18,
            zorder=3,
        )
        fig.colorbar(shade, ax=ax, label=f"{names[2]} ({arrow[directions[2]]})")
        ax.set_title(f"colour: {names[2]}; front over all {len(names)} objectives", fontsize=9)
    for axis, at in zip((ax.xaxis, ax.yaxis), inf_at[:2]):
        if at is not None:  # an infinite value (epsilon of a non-private model) drawn at the axis's end
            ticks = [t for t in axis.get_ticklocs() if t < at * 0.9] + [at]
            axis.set_ticks(ticks, labels=[f"{t:g}" for t in ticks[:-1]] + ["inf"])
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def finite_points(
    points: Sequence[Sequence[float] | None],
) -> tuple[list[tuple[float, ...] | None], list[float | None]]:
    """``points`` with each infinite coordinate moved to 1.5 x its axis's largest finite magnitude
    (or 1), and where each axis put them (``None``: no infinite value), so they can be drawn."""
    rows = [None if p is None else tuple(float(v) for v in p) for p in points]
    dims = max((len(p) for p in rows if p is not None), default=0)
    inf_at: list[float | None] = []
    for d in range(dims):
        finite = [abs(p[d]) for p in rows if p is not None and math.isfinite(p[d])]
        if not any(p is not None and math.isinf(p[d]) for p in rows):
            inf_at.append(None)
            continue
        at = 1.5 * max(finite) if finite and max(finite) > 0 else 1.0
        inf_at.append(at)
        rows = [p if p is None or math.isfinite(p[d]) else (*p[:d], math.copysign(at, p[d]), *p[d + 1 :]) for p in rows]
    return rows, inf_at


def front_rows(rows: Sequence[dict[str, Any]], keys: Sequence[str], directions: Sequence[str]) -> list[bool]:
    """The front mask of report rows (``row["values"][key]``; rows missing a value are off it)."""
    points = []
    for row in rows:
        values = row.get("values") or {}
        points.append(None if any(values.get(k) is None for k in keys) else tuple(values[k] for k in keys))
    return pareto_mask(points, directions)
