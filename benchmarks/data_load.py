"""Cold and warm load times of MovieLens 1M, side by side with pandas' own ``read_csv``.

Usage::

    RECFRAME_DATA_DIR=/path/to/data python benchmarks/data_load.py [--repeats 5]

* cold: ``load_dataset`` with an empty cache: parse ``ratings.dat``, ``users.dat`` and
  ``movies.dat``, remap ids, build side features, write the cache entry;
* parse only: the same without the cache write (``use_cache=False``);
* warm: ``load_dataset`` again, served from the binary cache;
* pandas: ``pd.read_csv(ratings.dat, sep="::", engine="python")``, the usual way to read the file
  (pandas' C engine does not take a multi-character separator), and, for reference, the C engine
  with the ``sep=":"`` trick recframe uses, on ``ratings.dat`` alone.

It also times, on the loaded data, 1M uniform / popularity training negatives
(``NegativeSampler.sample``) and 99 fixed evaluation candidates per user (``build_candidates``).

Each figure is the median of ``--repeats`` runs (the python-engine pandas read runs once per
repeat too). Numbers depend on the machine and on the page cache; run it twice and read the second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def timed(fn, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data_dir = Path(os.environ.get("RECFRAME_DATA_DIR", "")).expanduser()
    folder = data_dir / "ml-1m"
    if not (folder / "ratings.dat").is_file():
        raise SystemExit(f"error: {folder}/ratings.dat not found; set RECFRAME_DATA_DIR")

    import pandas as pd

    from recframe.data.source import load_dataset
    from recframe_datasets.movielens import MovieLens1M

    source = MovieLens1M(folder)
    ratings = folder / "ratings.dat"
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RECFRAME_CACHE_DIR"] = tmp
        load_dataset("ml-1m", source, use_cache=False)  # import and page-cache warm-up

        def cold() -> None:
            for entry in (Path(tmp) / "datasets").glob("ml-1m-*"):
                import shutil

                shutil.rmtree(entry)
            load_dataset("ml-1m", source)

        t_cold = timed(cold, args.repeats)
        t_parse = timed(lambda: load_dataset("ml-1m", source, use_cache=False), args.repeats)
        load_dataset("ml-1m", source)
        t_warm = timed(lambda: load_dataset("ml-1m", source), args.repeats)
    t_pd_py = timed(
        lambda: pd.read_csv(
            ratings, sep="::", engine="python", header=None, names=["user", "item", "rating", "timestamp"]
        ),
        args.repeats,
    )
    t_pd_c = timed(lambda: pd.read_csv(ratings, sep=":", header=None, usecols=[0, 2, 4, 6]), args.repeats)

    import numpy as np

    from recframe.data.candidates import build_candidates
    from recframe.training.sampling import NegativeSampler

    data = load_dataset("ml-1m", source, use_cache=False)
    users = np.random.default_rng(0).integers(0, data.n_users, 1_000_000)
    uniform, popular = NegativeSampler(data), NegativeSampler(data, distribution="popularity")
    t_uni = timed(lambda: uniform.sample(users, 1, np.random.default_rng(1)), args.repeats)
    t_pop = timed(lambda: popular.sample(users, 1, np.random.default_rng(1)), args.repeats)
    t_cand = timed(lambda: build_candidates(data, 99, seed=0), args.repeats)

    rows = [
        ("recframe cold (parse + side info + cache write)", t_cold),
        ("recframe parse only (no cache)", t_parse),
        ("recframe warm (cache hit)", t_warm),
        ("pandas read_csv(sep='::', engine='python'), ratings only", t_pd_py),
        ("pandas read_csv(sep=':', C engine), ratings only", t_pd_c),
    ]
    print(f"MovieLens 1M ({ratings.stat().st_size / 1e6:.1f} MB ratings.dat), median of {args.repeats} runs")
    for label, sec in rows:
        print(f"  {label:<58} {sec:8.3f} s")
    print(f"  {'1M uniform training negatives':<58} {t_uni:8.3f} s")
    print(f"  {'1M popularity training negatives':<58} {t_pop:8.3f} s")
    print(f"  {'99 fixed candidates x 6,040 users (build_candidates)':<58} {t_cand:8.3f} s")
    print(f"  ratio pandas(python '::') / recframe cold  {t_pd_py / t_cold:8.1f}x")
    print(f"  ratio pandas(python '::') / recframe warm  {t_pd_py / t_warm:8.1f}x")
    print(f"  ratio recframe cold / pandas(C ':')        {t_cold / t_pd_c:8.1f}x")


if __name__ == "__main__":
    main()
