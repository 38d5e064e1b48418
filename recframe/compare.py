"""Paired comparison of two runs on their per-user metric values (``per_user.npz``).

For each metric the users evaluated in both runs are paired and we report both means, the paired
t-test and the Wilcoxon signed-rank test (``scipy.stats``; two-sided, zero differences dropped as
in Wilcoxon's original method), and two effect sizes: Cohen's d for paired samples
(``d_z = mean(diff) / sd(diff)``) and the matched-pairs rank-biserial correlation
``r = (W+ - W-) / (W+ + W-)`` over the non-zero differences (``diff = B - A``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from recframe.errors import DataError


def load_per_user(run_dir: str | Path) -> dict[str, np.ndarray]:
    """The run's per-user metric values; a failed, killed or running run is refused in one line."""
    from recframe.run_state import require_complete

    require_complete(run_dir)
    path = Path(run_dir) / "per_user.npz"
    if not path.is_file():
        raise DataError(f"{path} not found; pass run directories that hold a per_user.npz")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def paired_stats(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Statistics of paired samples ``a, b: float[n]`` (NaN where a test is undefined)."""
    diff = b - a
    out = {"n": int(len(diff)), "mean_a": float(a.mean()), "mean_b": float(b.mean()), "diff": float(diff.mean())}
    sd = diff.std(ddof=1) if len(diff) > 1 else 0.0
    out["cohen_d"] = float(diff.mean() / sd) if sd > 0 else (0.0 if diff.mean() == 0 else float("nan"))
    if len(diff) > 1 and sd > 0:
        out["t"], out["t_p"] = (float(x) for x in stats.ttest_rel(b, a))
    else:
        out["t"], out["t_p"] = float("nan"), (1.0 if np.all(diff == 0) else float("nan"))
    nz = diff[diff != 0]
    if len(nz):
        ranks = stats.rankdata(np.abs(nz))
        w_plus, w_minus = ranks[nz > 0].sum(), ranks[nz < 0].sum()
        out["rank_biserial"] = float((w_plus - w_minus) / (w_plus + w_minus))
        res = stats.wilcoxon(b, a, zero_method="wilcox")
        out["w"], out["w_p"] = float(res.statistic), float(res.pvalue)
    else:
        out["rank_biserial"], out["w"], out["w_p"] = 0.0, float("nan"), 1.0
    return out


def compare(run_a: str | Path, run_b: str | Path, part: str = "test") -> dict[str, dict[str, Any]]:
    """``{metric: paired_stats}`` for every per-user metric both runs saved for ``part``."""
    pa, pb = load_per_user(run_a), load_per_user(run_b)
    if f"{part}/users" not in pa or f"{part}/users" not in pb:
        raise DataError(f"both runs need per-user values for '{part}' (keys {part}/...) in per_user.npz")
    common, ia, ib = np.intersect1d(pa[f"{part}/users"], pb[f"{part}/users"], return_indices=True)
    if len(common) == 0:
        raise DataError(f"the two runs have no {part} user in common")
    metrics = sorted(
        k.split("/", 1)[1] for k in pa if k.startswith(f"{part}/") and k in pb and not k.endswith("/users")
    )
    out = {}
    for m in metrics:
        a, b = pa[f"{part}/{m}"][ia].astype(np.float64), pb[f"{part}/{m}"][ib].astype(np.float64)
        ok = ~(np.isnan(a) | np.isnan(b))
        out[m] = paired_stats(a[ok], b[ok])
    return out


def protocol_difference(run_a: str | Path, run_b: str | Path) -> list[str]:
    """Protocol keys (other than the seed) whose values differ between two runs' results.json."""
    import json

    blocks = []
    for run in (run_a, run_b):
        path = Path(run) / "results.json"
        blocks.append(json.loads(path.read_text()).get("protocol", {}) if path.is_file() else {})
    keys = sorted((set(blocks[0]) | set(blocks[1])) - {"seed"})
    return [k for k in keys if blocks[0].get(k) != blocks[1].get(k)]


def table(result: dict[str, dict[str, Any]], name_a: str, name_b: str):
    """A rich table of :func:`compare`'s result."""
    from rich.table import Table

    t = Table(title=f"A = {name_a}\nB = {name_b}", title_justify="left")
    for col in ("metric", "users", "A", "B", "B - A", "t", "p (t)", "W", "p (Wilcoxon)", "Cohen d_z", "rank-biserial"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for m, s in result.items():
        t.add_row(
            m,
            f"{s['n']:,}",
            f"{s['mean_a']:.4f}",
            f"{s['mean_b']:.4f}",
            f"{s['diff']:+.4f}",
            f"{s['t']:.3f}",
            _p(s["t_p"]),
            f"{s['w']:.1f}",
            _p(s["w_p"]),
            f"{s['cohen_d']:+.3f}",
            f"{s['rank_biserial']:+.3f}",
        )
    return t


def _p(p: float) -> str:
    return "nan" if np.isnan(p) else (f"{p:.2e}" if p < 1e-3 else f"{p:.4f}")


def main(argv: list[str]) -> int:
    """``recframe compare RUN_A RUN_B [--part test]``."""
    import argparse

    from rich.console import Console

    parser = argparse.ArgumentParser(prog="recframe compare", description=main.__doc__)
    parser.add_argument("run_a")
    parser.add_argument("run_b")
    parser.add_argument("--part", default="test", choices=["valid", "test"])
    args = parser.parse_args(argv)
    result = compare(args.run_a, args.run_b, args.part)
    differs = protocol_difference(args.run_a, args.run_b)
    if differs:
        print(f"warning: the runs' protocols differ in {', '.join(differs)}; their numbers may not be comparable")
    Console(highlight=False, width=max(Console().width, 150)).print(table(result, args.run_a, args.run_b))
    return 0
