"""A real third-party plugin, installed with pip, used from the CLI with no edit to recframe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "recframe-plugin-example"
RECFRAME = str(Path(sys.executable).parent / "recframe")


@pytest.fixture(scope="module")
def installed_example():
    """pip-install the example package into this environment (and remove it afterwards)."""
    try:
        metadata.distribution("recframe-plugin-example")
        already = True
    except metadata.PackageNotFoundError:
        already = False
    if not already:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(EXAMPLE)],
            check=True,
        )
    from recframe import plugins

    plugins.reset()
    yield
    if not already:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "recframe-plugin-example"], check=True)
    plugins.reset()


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RECFRAME, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=300
    )


def test_plugins_command_lists_the_example(installed_example):
    out = cli("plugins", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    example = rows["example"]
    assert example["distribution"] == "recframe-plugin-example" and example["version"] == "0.2.0"
    assert example["builtin"] is False
    assert example["registered"]["model"] == ["item_bias"] and example["registered"]["metric"] == ["arhr"]
    assert sorted(example["hooks"]) == ["register_config_dirs", "register_metrics", "register_models"]


@pytest.mark.slow  # a CLI training run in a subprocess (~16 s CPU)
def test_example_model_runs_from_its_own_config_and_its_metric_is_reported(installed_example, tmp_path, ml100k):
    out = cli(
        "data=ml-100k",
        "model=item_bias",
        "metrics=with_arhr",
        "trainer.max_epochs=2",
        "trainer.progress_bar=false",
        f"paths.output_dir={tmp_path}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    results_file = next(tmp_path.rglob("results.json"))
    results = json.loads(results_file.read_text())
    assert results["run"]["model"] == "item_bias"
    metrics = results["metrics"]
    # ARHR sums the reciprocal ranks of all hits, MRR keeps only the first: ARHR >= MRR > 0
    assert metrics["test/arhr@10"] >= metrics["test/mrr@10"] > 0
    assert metrics["test/arhr@10"] > metrics["test/arhr@5"]
    assert "arhr@10" in out.stdout


def test_allow_list_excludes_the_example(installed_example):
    out = cli("plugins", "--json", env={"RECFRAME_LOAD_PLUGINS": "something-else"})
    names = {r["name"] for r in json.loads(out.stdout)}
    assert "example" not in names and {"cf", "datasets", "metrics", "losses"} <= names
    out = cli("model=item_bias", env={"RECFRAME_LOAD_PLUGINS": "something-else"})
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: unknown model 'item_bias'")
    assert len(out.stderr.strip().splitlines()) == 1
    allowed = cli("plugins", "--json", env={"RECFRAME_LOAD_PLUGINS": "recframe-plugin-example"})
    assert "example" in {r["name"] for r in json.loads(allowed.stdout)}


@pytest.mark.slow  # a second pytest session in a subprocess (~20 s CPU)
def test_the_example_packages_own_tests_pass_with_recframe_fixtures(installed_example):
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=EXAMPLE,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert "3 passed" in out.stdout
