"""recframe's Optuna sweeper: ask a batch of trials, launch them as Hydra jobs, tell the results.

Each trial is one ordinary recframe run in ``<sweep dir>/trial_<number>``, launched through the
configured Hydra launcher (basic, joblib, submitit), with ``trial.study``, ``trial.storage`` and
``trial.id`` in its config so the job can report per-epoch values for pruning. The objective values
are read from the job's ``results.json``. The study lives in a persistent storage (SQLite in the
sweep folder by default), so a killed sweep restarted with the same study name goes on where it
stopped: ``n_trials`` counts COMPLETE trials in the study, a trial that fails is recorded as FAIL
and the sweep goes on, and several sweeper processes can share one study.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from recframe.atomic import write_json, write_text
from recframe.errors import ConfigError, RecframeError
from recframe.redact import STORAGE_ENV, env_reference, has_secret, redact
from recframe.sweeps.objectives import value_of
from recframe.sweeps.pruning import STUDY_ATTR
from recframe.sweeps.search_space import quote
from recframe.sweeps.settings import Settings, parse_settings

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results"
POLL_SECONDS = 2.0
#: A sweeper stamps its host and pid on a trial right after asking for it; a RUNNING trial still
#: without a pid this long after it started was asked by a process that died in between.
UNSTAMPED_GRACE_SECONDS = 60.0


def continued_seed(storage: Any, study_name: str, seed: int | None) -> int | None:
    """The sampler seed for this start of the sweep: ``seed`` for a new study; for a study that already
    has trials, ``seed`` plus their count, so that a restarted seeded sweep does not replay the
    parameters of the trials it already ran (deterministic all the same)."""
    import optuna

    if seed is None:
        return None
    try:
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler())
    except KeyError:  # no such study yet
        return seed
    return int(seed) + len(study.get_trials(deepcopy=False))


def trial_subdir(number: int) -> str:
    return f"trial_{number}"


class OptunaSweeperImpl:
    """The sweeper's logic; the Hydra plugin class in ``hydra_plugins`` delegates to it."""

    def __init__(self, **settings: Any) -> None:
        self.raw = settings
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.hydra_context: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # -- the loop --------------------------------------------------------------------------------

    def sweep(self, arguments: list[str]) -> dict[str, Any]:
        import optuna

        from hydra.core.override_parser.overrides_parser import OverridesParser

        from recframe.alias_overrides import rename_search_space
        from recframe.sweeps.samplers import make_sampler, pruner_spec
        from recframe.sweeps.storage import dashboard_hint, open_storage, storage_url

        assert self.config is not None and self.launcher is not None
        parsed = OverridesParser.create().parse_overrides(list(arguments))
        fixed_cli = [o.input_line for o in parsed if not o.is_sweep_override()]
        sweep_cli = [o.input_line for o in parsed if o.is_sweep_override()]
        cfg = self.config
        settings = parse_settings(
            self.raw,
            str(cfg.protocol.valid_metric),
            sweep_cli,
            list(cfg.metrics.names),
            [int(k) for k in cfg.protocol.cutoffs],
        )
        settings.space.fixed = fixed_cli + settings.space.fixed
        rename_search_space(settings.space, str(cfg.model.name))  # deprecated model.<old> keys -> new names
        sweep_dir = Path(str(cfg.hydra.sweep.dir)).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        write_text(sweep_dir / "multirun.yaml", redact(OmegaConf.to_yaml(cfg)))
        url = storage_url(settings.storage, sweep_dir)
        storage = open_storage(url)
        self._trial_storage = self._hide_secret(url)
        grid = settings.space.grid if len(settings.space.grid) == len(settings.space.distributions) else None
        seed = continued_seed(storage, settings.study_name, settings.seed)
        sampler = make_sampler(settings.sampler, seed, grid, len(settings.objectives))
        if settings.seed is not None:
            sampler_note = f"seed {settings.seed}"
            if seed != settings.seed:  # a restarted study: see continued_seed
                sampler_note += f" (continued: {seed})"
        else:
            sampler_note = "no seed"
        try:
            study = optuna.create_study(
                study_name=settings.study_name,
                storage=storage,
                sampler=sampler,
                directions=settings.directions,
                load_if_exists=True,
            )
        except ValueError as exc:
            raise ConfigError(f"study '{settings.study_name}': {exc}") from None
        existing = [d.name.lower() for d in study.directions]
        if existing != settings.directions:
            raise ConfigError(
                f"study '{settings.study_name}' in {dashboard_hint(url).split(' ', 1)[1]} was created "
                f"with directions {existing}, not {settings.directions}; use another study_name"
            )
        with warnings.catch_warnings():  # experimental in Optuna 4 (ExperimentalWarning), stable in use
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([o.key for o in settings.objectives])  # optuna-dashboard's column names
        study.set_user_attr(
            STUDY_ATTR,
            {
                "objectives": [o.key for o in settings.objectives],
                "directions": settings.directions,
                "pruner": pruner_spec(settings.pruner),
            },
        )
        self._fail_stale(study)
        log.info(
            "Optuna study '%s' (%s, %s): %d trials to complete; storage %s; dashboard: %s",
            settings.study_name,
            "grid" if settings.is_grid else type(sampler).__name__,
            sampler_note,
            settings.n_trials,
            dashboard_hint(url).split(" ", 1)[1],
            dashboard_hint(url),
        )
        self._loop(study, settings, url, sweep_dir)
        return self.write_results(study, settings, url, sweep_dir)

    def _loop(self, study: Any, settings: Settings, url: str, sweep_dir: Path) -> None:
        from optuna.trial import TrialState

        failures = launched = 0
        job_idx = len(study.get_trials(deepcopy=False))
        grid_keys = list(settings.space.grid) if settings.is_grid else []
        self._failed_here: set[tuple[Any, ...]] = set()
        while True:
            trials = study.get_trials(deepcopy=False)
            complete = sum(t.state == TrialState.COMPLETE for t in trials)
            running = sum(t.state == TrialState.RUNNING for t in trials)
            if complete >= settings.n_trials:
                break
            budget = min(settings.n_jobs, settings.n_trials - complete - running, settings.max_trials - launched)
            if grid_keys:
                todo = self._grid_todo(trials, settings, grid_keys)
                if not todo and running == 0:
                    log.info("every point of the grid has been tried")
                    break
                budget = min(budget, len(todo))
                if budget > 0:
                    for point in todo[:budget]:
                        study.enqueue_trial(dict(zip(grid_keys, point)))
            if launched >= settings.max_trials:
                log.warning(
                    "stopping after %d trials launched (hydra.sweeper.max_trials) with %d of %d complete",
                    launched,
                    complete,
                    settings.n_trials,
                )
                break
            if budget <= 0:  # the rest is running in other workers: wait for them, unless they died
                time.sleep(POLL_SECONDS)
                self._fail_stale(study)
                continue
            batch = [self._ask(study, settings, url) for _ in range(budget)]
            for trial, _overrides, run_dir in batch:
                (run_dir / "results.json").unlink(missing_ok=True)  # never read a stale file
            returns = self.launcher.launch([overrides for _, overrides, _ in batch], initial_job_idx=job_idx)
            job_idx += len(batch)
            launched += len(batch)
            for (trial, overrides, run_dir), ret in zip(batch, returns):
                if not self._tell(study, settings, trial, ret, run_dir):
                    failures += 1
                    if grid_keys:
                        self._failed_here.add(tuple(trial.params.get(k) for k in grid_keys))
            if failures > settings.max_failures:
                raise RecframeError(
                    f"{failures} trials failed (hydra.sweeper.max_failures={settings.max_failures}); "
                    f"see the trial folders under {sweep_dir}"
                )

    def _hide_secret(self, url: str) -> str:
        """What trial jobs get as ``trial.storage``: the URL, or, when it holds a password, a reference to
        the environment variable holding it; the password is also removed from the Hydra config the jobs'
        ``.hydra/`` files are written from."""
        if not has_secret(url):
            return url
        os.environ[STORAGE_ENV] = url  # inherited by the jobs of every launcher (in-process, joblib, submitit)
        assert self.config is not None
        with open_dict(self.config):
            if OmegaConf.select(self.config, "hydra.sweeper.storage", default=None) is not None:
                self.config.hydra.sweeper.storage = redact(str(self.config.hydra.sweeper.storage))
            given = OmegaConf.select(self.config, "hydra.overrides.hydra", default=None)
            if given is not None:
                self.config.hydra.overrides.hydra = [redact(str(o)) for o in given]
        return env_reference()

    def _grid_todo(self, trials: list[Any], settings: Settings, keys: list[str]) -> list[tuple[Any, ...]]:
        """Grid points still to run, in order: not complete, pruned, running or queued, and not failed in
        this run of the sweep (points that failed or were interrupted before a restart are retried)."""
        import itertools

        from optuna.trial import TrialState

        keep = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
        done = {tuple(t.params.get(k) for k in keys) for t in trials if t.state in keep}
        points = itertools.product(*(settings.space.grid[k] for k in keys))
        return [p for p in points if p not in done and p not in self._failed_here]

    def _ask(self, study: Any, settings: Settings, url: str) -> tuple[Any, list[str], Path]:
        trial = study.ask(fixed_distributions=settings.space.distributions)
        assert self.config is not None
        run_dir = Path(str(self.config.hydra.sweep.dir)).resolve() / trial_subdir(trial.number)
        overrides = settings.space.overrides(trial.params) + [
            f"trial.study={quote(settings.study_name)}",
            f"trial.storage={quote(self._trial_storage)}",
            f"trial.id={trial._trial_id}",
            f"trial.number={trial.number}",
            f"hydra.sweep.subdir={trial_subdir(trial.number)}",
        ]
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("overrides", [o for o in overrides if not o.startswith(("trial.", "hydra."))])
        return trial, overrides, run_dir

    def _tell(self, study: Any, settings: Settings, trial: Any, ret: Any, run_dir: Path) -> bool:
        """Record one finished job; True if it completed."""
        import optuna
        from hydra.core.utils import JobStatus
        from optuna.trial import TrialState

        hydra_cfg = getattr(ret, "hydra_cfg", None)
        out = OmegaConf.select(hydra_cfg, "hydra.runtime.output_dir", default=None) if hydra_cfg is not None else None
        run_dir = Path(str(out)) if out else run_dir
        error = getattr(ret, "_return_value", None) if ret.status == JobStatus.FAILED else None
        state, values, reason = TrialState.FAIL, None, None
        if isinstance(error, optuna.TrialPruned):
            state, reason = TrialState.PRUNED, str(error)
        elif error is not None:
            reason = f"{type(error).__name__}: {error}"
        elif not (run_dir / "results.json").is_file():
            reason = "the job wrote no results.json (see its log)"
        else:
            results = json.loads((run_dir / "results.json").read_text())
            try:
                values = [value_of(results, o.key) for o in settings.objectives]
                state = TrialState.COMPLETE
            except KeyError as exc:
                reason = str(exc.args[0])
        if reason and state == TrialState.FAIL:
            trial.set_user_attr("fail_reason", reason[:500])
            log.warning("trial %d failed: %s", trial.number, reason.splitlines()[0] if reason else "")
        study.tell(trial, values if state == TrialState.COMPLETE else None, state=state)
        record = {
            "number": trial.number,
            "state": state.name,
            "params": trial.params,
            "values": None if values is None else dict(zip([o.key for o in settings.objectives], values)),
            "reason": reason,
        }
        if run_dir.is_dir():
            write_json(run_dir / "trial.json", record)
        return state != TrialState.FAIL

    @staticmethod
    def _fail_stale(study: Any) -> None:
        """Mark FAIL the RUNNING trials whose sweeper died: a dead pid on this host, or no pid stamped
        ``UNSTAMPED_GRACE_SECONDS`` after the trial started (killed between asking and stamping)."""
        from datetime import datetime

        from optuna.trial import TrialState

        host = socket.gethostname()
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            pid = t.user_attrs.get("pid")
            if isinstance(pid, int):
                if t.user_attrs.get("host") != host or _alive(pid):
                    continue
                why = f"its sweeper process (pid {pid}) died"
            else:
                started = t.datetime_start
                if started is None or (datetime.now() - started).total_seconds() < UNSTAMPED_GRACE_SECONDS:
                    continue
                why = "its sweeper process died before stamping it"
            study._storage.set_trial_user_attr(t._trial_id, "fail_reason", why)
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            log.info("trial %d was left RUNNING: %s; marked FAIL", t.number, why)

    # -- the outcome -----------------------------------------------------------------------------

    def write_results(self, study: Any, settings: Settings, url: str, sweep_dir: Path) -> dict[str, Any]:
        """Write ``optimization_results.yaml``/``.json`` (the best trial or the Pareto front) and print it."""
        from optuna.trial import TrialState

        from recframe.sweeps.storage import _redact

        keys = [o.key for o in settings.objectives]
        trials = study.get_trials(deepcopy=False)
        best = study.best_trials if any(t.state == TrialState.COMPLETE for t in trials) else []
        front = [
            {
                "number": t.number,
                "values": dict(zip(keys, t.values)),
                "params": t.params,
                "overrides": t.user_attrs.get("overrides", []),
                "run_dir": t.user_attrs.get("run_dir"),
            }
            for t in sorted(best, key=lambda t: t.number)
        ]
        out: dict[str, Any] = {
            "name": "optuna",
            "study_name": settings.study_name,
            "storage": _redact(url),
            "objectives": [o.short for o in settings.objectives],
            "directions": settings.directions,
            "n_trials": {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState},
        }
        if len(keys) == 1 and front:
            out["best_params"], out["best_value"] = front[0]["params"], front[0]["values"][keys[0]]
            out["best_trial"] = front[0]
        else:
            out["pareto_front"] = front
        write_text(sweep_dir / f"{RESULTS_FILE}.yaml", OmegaConf.to_yaml(OmegaConf.create(out)))
        write_json(sweep_dir / f"{RESULTS_FILE}.json", out)
        _print_front(out, keys, front, sweep_dir)
        return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _print_front(out: dict[str, Any], keys: list[str], front: list[dict[str, Any]], sweep_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    title = "Best trial" if len(keys) == 1 else f"Pareto front ({len(front)} trials)"
    table = Table(title=f"{title} of study '{out['study_name']}'", title_justify="left")
    table.add_column("trial", justify="right")
    params = sorted({p for row in front for p in row["params"]})
    for p in params:
        table.add_column(p)
    for k in keys:
        table.add_column(k, justify="right")
    cells = [
        [
            str(row["number"]),
            *(_short(row["params"].get(p, "")) for p in params),
            *(f"{row['values'][k]:.4g}" for k in keys),
        ]
        for row in front
    ]
    for row in cells:
        table.add_row(*row)
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(["trial", *params, *keys])]
    console = Console(highlight=False)
    console = Console(highlight=False, width=max(console.width, sum(widths) + 3 * len(widths) + 1))
    counts = ", ".join(f"{v} {k}" for k, v in out["n_trials"].items() if v)
    console.print(f"Optuna study '{out['study_name']}': {counts}")
    console.print(table)
    console.print(f"Saved {sweep_dir / (RESULTS_FILE + '.yaml')}; storage {out['storage']}", soft_wrap=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
