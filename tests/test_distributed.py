"""Distribution on existing engines: two sweeper processes share one Optuna study in PostgreSQL.

Needs a PostgreSQL server: ``eval "$(bash scripts/ci_postgres.sh)"`` starts one and exports
RECFRAME_TEST_POSTGRES_URL. In CI (CI=true) a missing URL fails the test; locally it skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sweeps_helpers import FAST

ENV = "RECFRAME_TEST_POSTGRES_URL"


def postgres_url(environ=os.environ) -> str:
    url = environ.get(ENV)
    if url:
        return url
    if environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f'{ENV} is unset in CI: run `eval "$(bash scripts/ci_postgres.sh)"` before the tests')
    pytest.skip(f'{ENV} is unset: start a local server with `eval "$(bash scripts/ci_postgres.sh)"` to run this')


def test_a_missing_url_fails_in_ci_and_skips_locally():
    with pytest.raises(pytest.fail.Exception, match="unset in CI"):
        postgres_url({"CI": "true"})
    with pytest.raises(pytest.skip.Exception, match="scripts/ci_postgres.sh"):
        postgres_url({})
    assert postgres_url({ENV: "postgresql+psycopg://x@127.0.0.1/db", "CI": "true"}).startswith("postgresql")


def test_two_workers_share_one_study_in_postgres(tmp_path):
    import optuna
    from optuna.trial import TrialState

    url = postgres_url()
    study_name = f"dist-{uuid.uuid4().hex[:8]}"
    n_trials = 4
    cmd = [
        sys.executable,
        "-m",
        "recframe.cli",
        "-m",
        "hydra/sweeper=optuna",
        *FAST,
        "name=dist",
        f"paths.output_dir={tmp_path}",
        f"hydra.sweeper.study_name={study_name}",
        f"hydra.sweeper.storage='{url}'",
        f"hydra.sweeper.n_trials={n_trials}",
        "hydra.sweeper.sampler=random",
        "+hydra.sweeper.pruner={name:median,n_startup_trials:100}",
        "trainer.lr=tag(log,interval(0.001,0.1))",
    ]
    workers = [
        subprocess.Popen(
            [*cmd, f"hydra.sweeper.seed={seed}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for seed in (0, 1)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    study = optuna.load_study(study_name=study_name, storage=url)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    # each worker stops once the study holds n_trials complete; a race can add one trial per extra worker
    assert n_trials <= len(complete) <= n_trials + 1
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len({t.user_attrs["pid"] for t in complete}) == 2  # both workers ran trials
    sweep = Path(tmp_path) / "multiruns" / "dist"
    for t in complete:
        results = json.loads((sweep / f"trial_{t.number}" / "results.json").read_text())
        assert t.value == results["metrics"]["valid/ndcg@10"]
        # the job reached its trial in PostgreSQL: it reported the epoch's value for pruning
        assert t.intermediate_values == {0: pytest.approx(results["metrics"]["valid/ndcg@10"], rel=1e-6)}  # float32 log
