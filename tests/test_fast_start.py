"""Composing a config, listing plugins and every one-line config error import no torch.

Each command runs in a fresh interpreter through the real entry point (``recframe.cli.main``); the
child reports the modules it loaded. Built-in plugins register lazy targets, so the registry names
exist without importing any model, metric or loss module. No timing is asserted here:
``benchmarks/startup.py`` measures the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchmetrics", "lightning", "recframe_cf.bpr", "recframe_metrics.ranking")
CHILD = """
import contextlib, io, json, sys
from recframe.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    rc = main(json.loads(sys.argv[1]))
heavy = [m for m in json.loads(sys.argv[2]) if m in sys.modules]
print(json.dumps({"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue(), "heavy": heavy}))
"""


def run_cli(argv: list[str]) -> dict:
    env = {**os.environ, "RECFRAME_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv, rc, needle",
    [
        (["model=bprr"], 2, "unknown model 'bprr'"),
        (["trainer.lr=-1"], 2, "trainer.lr must be > 0"),
        (["trainer.positive_sampling=each"], 2, "trainer.positive_sampling must be one of"),
        (["model.embeding_dim=8"], 2, "did you mean 'model.embedding_dim'"),
        (["-m", "model=bpr,eas"], 2, "unknown model 'eas'"),
        (["--cfg", "job", "model=ease"], 0, "name: ease"),
        (["plugins"], 0, "register_models"),
    ],
)
def test_command_imports_no_torch(argv, rc, needle):
    child = run_cli(argv)
    assert child["rc"] == rc, child
    assert needle in child["stdout"] + child["stderr"]
    if rc:
        assert len(child["stderr"].strip().splitlines()) == 1, child["stderr"]
    assert child["heavy"] == []


def test_plugins_listing_names_every_builtin_and_its_plugin_without_importing_it():
    child = run_cli(["plugins", "--json"])
    assert child["heavy"] == []
    rows = {r["name"]: r for r in json.loads(child["stdout"])}
    assert {"bpr", "ease", "lightgcn", "sasrec"} <= set(rows["cf"]["registered"]["model"]) | set(
        rows["sequential"]["registered"]["model"]
    )
    assert "ndcg" in rows["metrics"]["registered"]["metric"]
    assert "ml-1m" in rows["datasets"]["registered"]["data_source"]
