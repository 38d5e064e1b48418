"""Per-trial overhead of recframe's Optuna sweeper: what a trial costs besides fitting and evaluating.

Runs a small Optuna sweep in this process (the basic launcher, SQLite storage in a temporary
folder) and, per trial, measures

* **start**: from the sweeper asking the study for the trial to the model's fit starting (Hydra composing the
  job's config, setting up its folder and logging, loading the dataset from the cache, the split,
  building the model; the lifecycle hook ``on_run_start`` marks the end);
* **finish**: from the evaluation ending to the trial being told to the study (writing
  ``per_user.npz`` and ``results.json``, reading the results back, ``study.tell``, ``trial.json``).

The overhead is start + finish; it prints the median and the worst over the trials after the first
(the first also pays one-time imports, printed separately). Not a timed test; run it by hand::

    RECFRAME_DATA_DIR=/path/to/data python benchmarks/sweep_overhead.py --data ml-100k --trials 6
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="ml-100k", help="dataset (ml-100k needs RECFRAME_DATA_DIR; or synthetic)")
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()

    import recframe.stages.results as runner  # the write stage calls save_per_user after the evaluation
    from recframe import hookimpl
    from recframe.plugins import register_plugin
    from recframe.sweeps import optuna_sweeper

    marks: dict[int, dict[str, float]] = {}
    current: list[int] = []

    class Timer:
        @hookimpl
        def on_run_start(self, run):  # noqa: ANN001
            marks[int(run.cfg.trial.number)]["fit_start"] = time.perf_counter()

    register_plugin(Timer(), "sweep-overhead-timer")

    original_save = runner.save_per_user

    def timed_save(*a, **kw):  # noqa: ANN002, ANN003  (called right after the evaluation)
        marks[current[-1]]["eval_end"] = time.perf_counter()
        return original_save(*a, **kw)

    runner.save_per_user = timed_save

    original_ask, original_tell = optuna_sweeper.OptunaSweeperImpl._ask, optuna_sweeper.OptunaSweeperImpl._tell

    def ask(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003
        launch = time.perf_counter()  # asking the study for the trial is part of launching it
        trial, overrides, run_dir = original_ask(self, *a, **kw)
        marks[trial.number] = {"launch": launch}
        current.append(trial.number)
        return trial, overrides, run_dir

    def tell(self, study, settings, trial, ret, run_dir):  # noqa: ANN001
        ok = original_tell(self, study, settings, trial, ret, run_dir)
        marks[trial.number]["told"] = time.perf_counter()
        return ok

    optuna_sweeper.OptunaSweeperImpl._ask, optuna_sweeper.OptunaSweeperImpl._tell = ask, tell

    from recframe.cli import main as cli

    with tempfile.TemporaryDirectory() as out:
        code = cli(
            [
                "-m",
                "hydra/sweeper=optuna",
                f"data={args.data}",
                "name=overhead",
                f"paths.output_dir={out}",
                f"hydra.sweeper.n_trials={args.trials}",
                "hydra.sweeper.sampler=random",
                "hydra.sweeper.seed=0",
                "trainer.max_epochs=1",
                "trainer.limit_train_batches=1",
                "trainer.progress_bar=false",
                "print_table=false",
                "hydra.job_logging.root.level=WARNING",
                "trainer.lr=tag(log,interval(0.0001,0.1))",
            ]
        )
        if code != 0:
            print(f"the sweep failed (exit {code})", file=sys.stderr)
            return 1
    rows = []
    for number in sorted(marks):
        m = marks[number]
        start, finish = m["fit_start"] - m["launch"], m["told"] - m["eval_end"]
        rows.append((number, start, finish, start + finish, m["told"] - m["launch"]))
    print(f"\nper-trial overhead on {args.data} ({len(rows)} trials; seconds)")
    print(f"{'trial':>5} {'start':>7} {'finish':>7} {'overhead':>9} {'trial wall':>11}")
    for number, start, finish, total, wall in rows:
        print(f"{number:>5} {start:7.3f} {finish:7.3f} {total:9.3f} {wall:11.3f}")
    steady = [r[3] for r in rows[1:]] or [rows[0][3]]
    print(f"\nfirst trial (with one-time imports): {rows[0][3]:.3f} s")
    print(f"per-trial overhead: median {statistics.median(steady):.3f} s, worst {max(steady):.3f} s (target <= 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
