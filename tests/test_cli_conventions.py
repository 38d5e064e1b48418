"""The ``recframe`` command follows Hydra's and Python's conventions (run as a real subprocess).

``--version`` names recframe's version; ``-c job``, ``--info`` and shell completion reach Hydra
untouched by the config pre-check; the app is called recframe in help and logs; a bare ``recframe``
prints help; runs and sweeps end with where their results are; Ctrl-C ends with the ``resume=true`` line;
the data folder follows one rule (``recframe/paths.py``) for the CLI, ``recframe.run`` and ``make run``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import recframe

ROOT = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.executable).parent / "recframe"
RECFRAME = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "recframe.cli"]


def recframe_cmd(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*RECFRAME, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines, "no output"
    return lines[-1]


def test_version_is_recframes(tmp_path):
    out = recframe_cmd(["--version"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"recframe {recframe.__version__} "), out.stdout


def test_bare_recframe_prints_help_and_runs_nothing(tmp_path):
    out = recframe_cmd([], tmp_path, {"RECFRAME_OUTPUT_DIR": str(tmp_path / "outputs")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: recframe"), out.stdout
    for command in ("download", "plugins", "report", "repro"):
        assert f"\n  {command} " in out.stdout
    assert os.environ["RECFRAME_DATA_DIR"] in out.stdout  # the data folder in use is named
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow  # several recframe processes
def test_hydra_flags_reach_hydra(tmp_path):
    job = recframe_cmd(["-c", "job", "model=pop"], tmp_path)
    assert job.returncode == 0, job.stderr
    assert "model:\n  name: pop" in job.stdout
    info = recframe_cmd(["--info", "searchpath"], tmp_path)
    assert info.returncode == 0, info.stderr
    assert "pkg://recframe.conf" in info.stdout
    install = recframe_cmd(["-sc", "install=bash"], tmp_path)
    assert install.returncode == 0, install.stderr
    assert "complete -o nospace -o default -F hydra_bash_completion recframe" in install.stdout
    query = recframe_cmd(
        ["-sc", "query=bash"], tmp_path, {"COMP_LINE": "recframe model=ea", "COMP_POINT": str(len("recframe model=ea"))}
    )
    assert query.returncode == 0, query.stderr
    assert query.stdout.split() == ["model=ease"]


@pytest.mark.slow  # several recframe processes
def test_help_names_recframe_not_hydra(tmp_path):
    out = recframe_cmd(["model=pop", "--help"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("recframe: ")
    assert "Powered by Hydra" not in out.stdout and "is powered by Hydra" not in out.stdout
    assert "model: bpr, " in out.stdout or "model:" in out.stdout  # the config groups are listed


@pytest.mark.slow  # several recframe processes
def test_a_bad_override_still_fails_in_one_line(tmp_path):
    bad = recframe_cmd(["model=nosuchmodel"], tmp_path)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "nosuchmodel" in bad.stderr


@pytest.mark.slow  # several recframe processes
def test_run_ends_with_its_results_path_and_logs_as_recframe(tmp_path):
    outputs = tmp_path / "outputs"
    out = recframe_cmd(["data=ml-100k", "model=pop"], tmp_path, {"RECFRAME_OUTPUT_DIR": str(outputs)})
    assert out.returncode == 0, out.stderr
    line = last_line(out.stdout)
    assert line.startswith("results: "), line
    results = Path(line.removeprefix("results: "))
    assert results.name == "results.json" and results.is_file()
    assert results.parent == outputs / "runs" / "default" / "ml-100k" / "pop" / "default"
    assert (results.parent / "recframe.log").is_file()
    assert not (results.parent / "cli.log").exists()


@pytest.mark.slow  # several recframe processes
def test_sweep_ends_with_summary_and_report_pointer(tmp_path):
    outputs = tmp_path / "outputs"
    out = recframe_cmd(
        ["-m", "data=ml-100k", "model=pop", "seed=0,1", "print_table=false"],
        tmp_path,
        {"RECFRAME_OUTPUT_DIR": str(outputs)},
    )
    assert out.returncode == 0, out.stderr
    results = [ln for ln in out.stdout.splitlines() if ln.startswith("results: ")]
    assert len(results) == 2 and all(Path(r.removeprefix("results: ")).is_file() for r in results)
    line = last_line(out.stdout)
    assert line.startswith("sweep: 2 job(s); results under "), line
    sweep_dir = line.split("results under ", 1)[1].split(";", 1)[0]
    assert Path(sweep_dir).is_dir() and Path(sweep_dir).resolve().is_relative_to(outputs.resolve())
    assert line.endswith(f"table: recframe report {sweep_dir}")


@pytest.mark.slow
def test_ctrl_c_ends_with_the_resume_line(tmp_path):
    outputs = tmp_path / "outputs"
    args = ["data=ml-100k", "model=bpr", "trainer.max_epochs=10000", "trainer.patience=10000"]
    proc = subprocess.Popen(
        [*RECFRAME, *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RECFRAME_OUTPUT_DIR": str(outputs)},
    )
    last = outputs / "runs" / "default" / "ml-100k" / "bpr" / "trainer.max_epochs=10000,trainer.patience=10000"
    deadline = time.monotonic() + 600
    while not (last / "checkpoints" / "last.ckpt").is_file():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "training never wrote a checkpoint"
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    line = last_line(stderr)
    assert line.startswith("interrupted; ") and line.endswith(" ".join(["recframe", *args, "resume=true"])), line
    assert "Traceback" not in stderr
    assert not list(outputs.rglob("results.json"))


@pytest.mark.slow  # several recframe processes
def test_data_folder_rule_is_the_same_for_cli_and_api(tmp_path):
    """RECFRAME_DATA_DIR unset: ``<XDG_CACHE_HOME>/recframe/data`` for the CLI's config and for recframe.run."""
    env = {k: v for k, v in os.environ.items() if k not in ("RECFRAME_DATA_DIR", "RECFRAME_CACHE_DIR")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    expected = tmp_path / "xdg" / "recframe" / "data"
    job = subprocess.run(
        [*RECFRAME, "-c", "job", "--resolve", "data=ml-100k"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert job.returncode == 0, job.stderr
    assert f"path: {expected / 'ml-100k'}" in job.stdout
    code = (
        "import recframe, sys\n"
        "try:\n    recframe.run(['data=ml-100k', 'model=pop'])\n"
        "except recframe.runner.RecframeError as exc:\n    print(exc)\n"
    )
    api = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert f"looked for {expected / 'ml-100k' / 'u.data'}" in api.stdout, api.stdout + api.stderr
    assert f"fetch it into {expected}" in api.stdout
    cli = subprocess.run(
        [*RECFRAME, "data=ml-100k", "model=pop"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert cli.returncode == 2 and f"looked for {expected / 'ml-100k' / 'u.data'}" in cli.stderr


@pytest.mark.slow
def test_make_run_fetches_ml100k_when_absent(tmp_path, ml100k):
    """``make run`` on a machine without the data downloads them (here from a local archive) and runs."""
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("u.data", "u.user", "u.item"):
            zf.write(ml100k / name, f"ml-100k/{name}")
    # Under CI this test itself runs inside ``make test-all``: the parent's MAKELEVEL/MAKEFLAGS would
    # make the child print "Entering directory" lines around the run's own output.
    parent_make = {"RECFRAME_DATA_DIR", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
    env = {k: v for k, v in os.environ.items() if k not in parent_make}
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
        RECFRAME_CACHE_DIR=str(tmp_path / "cache"),
        RECFRAME_OUTPUT_DIR=str(tmp_path / "outputs"),
    )
    out = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            "setup",
            "-o",
            ".venv/.installed",
            "run",
            f"VENV={Path(sys.prefix)}",
            f"DOWNLOAD_ARGS=--url {archive.as_uri()}",
            "RUN_ARGS=model=pop",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    data = tmp_path / "cache" / "data" / "ml-100k"  # RECFRAME_CACHE_DIR set: <cache>/data
    assert f"ml-100k: downloaded to {data}; sha256 verified: u.data, u.user, u.item" in out.stdout
    assert last_line(out.stdout).startswith("results: ")
    assert sorted(p.name for p in data.iterdir()) == ["u.data", "u.item", "u.user"]
