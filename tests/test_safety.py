"""Safety and integrity: no code runs from a checkpoint, no run destroys or misreports another.

One real ML-100K run (one batch, ``debug=fast``) is trained once per module; each test works on a copy of
its folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from recframe.cli import main
from recframe.errors import ConfigError, TrainingError

FAST = ["debug=fast", "print_table=false", "data=ml-100k", "model=bpr"]


class Payload:
    """Unpickling this object creates ``marker``: stands for any code a crafted checkpoint would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (open, (str(self.marker), "w"))


def plant(path: Path, marker: Path) -> None:
    """Replace ``path`` with a checkpoint-shaped file whose unpickling would create ``marker``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    torch.save({"state_dict": {}, "epoch": 0, "hook": Payload(marker)}, path)


def one_line_error(capsys, *args: str) -> str:
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and len(lines[0]) > 20, err
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, ml100k) -> Path:
    """A complete run folder of BPR on ML-100K (one training batch)."""
    out = tmp_path_factory.mktemp("trained")
    run_dir = out / "run"
    assert main([*FAST, f"hydra.run.dir={run_dir}"]) == 0
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / "results.json").is_file()
    return run_dir


@pytest.fixture()
def run_copy(trained, tmp_path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(trained, target)
    return target


# --- nothing loaded can execute code ----------------------------------------------------------------


def test_resume_refuses_a_crafted_last_checkpoint_without_running_it(capsys, run_copy, tmp_path):
    marker = tmp_path / "marker"
    plant(run_copy / "checkpoints" / "last.ckpt", marker)
    err = one_line_error(capsys, *FAST, f"hydra.run.dir={run_copy}", "resume=true")
    assert not marker.exists()
    assert "last.ckpt (resume=true) was refused" in err and "never runs code" in err
    assert json.loads((run_copy / "status.json").read_text())["state"] == "failed"


def test_from_run_refuses_a_crafted_best_checkpoint_without_running_it(capsys, run_copy, tmp_path):
    marker = tmp_path / "marker"
    plant(run_copy / "checkpoints" / "best.ckpt", marker)
    err = one_line_error(
        capsys, *FAST, "compressor=prune", f"+compressor.from_run={run_copy}", f"hydra.run.dir={tmp_path / 'pruned'}"
    )
    assert not marker.exists()
    assert "best.ckpt (compressor.from_run) was refused" in err


def test_every_loader_refuses_the_payload(tmp_path):
    """The loaders behind resume (Lightning's restore), the best checkpoint and the public API."""
    from recframe import api
    from recframe.training.checkpoint_io import SafeCheckpointIO

    marker = tmp_path / "marker"
    plant(tmp_path / "best.ckpt", marker)
    loaders = [api.load_checkpoint, api.load_model_state, SafeCheckpointIO().load_checkpoint]
    for load in loaders:
        with pytest.raises(TrainingError, match="was refused") as info:
            load(tmp_path / "best.ckpt")
        assert "\n" not in str(info.value)
    assert not marker.exists()


def test_a_truncated_checkpoint_on_resume_is_one_line(capsys, run_copy):
    last = run_copy / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    err = one_line_error(capsys, *FAST, f"hydra.run.dir={run_copy}", "resume=true")
    assert "last.ckpt (resume=true) is damaged or not a checkpoint" in err and "delete it" in err


def test_unreadable_and_directory_checkpoints_are_one_line(tmp_path):
    from recframe.checkpoints import load_checkpoint

    (tmp_path / "dir.ckpt").mkdir()
    with pytest.raises(TrainingError, match="is a directory"):
        load_checkpoint(tmp_path / "dir.ckpt")
    with pytest.raises(TrainingError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt")
    if os.geteuid() != 0:  # root reads any file
        path = tmp_path / "locked.ckpt"
        torch.save({"state_dict": {}}, path)
        path.chmod(0)
        with pytest.raises(TrainingError, match="permission denied"):
            load_checkpoint(path)


def test_a_real_checkpoint_loads_with_weights_only(trained):
    from recframe.checkpoints import load_model_state

    state = load_model_state(trained / "checkpoints" / "best.ckpt")
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())


# --- the run folder's state ----------------------------------------------------------------------------


def test_complete_run_has_status_complete(trained):
    status = json.loads((trained / "status.json").read_text())
    assert status["state"] == "complete" and status["pid"] > 0 and status["finished"] >= status["started"]
    assert not (trained / ".previous").exists()


def test_rerun_keeps_previous_outputs_until_it_completes(capsys, run_copy, monkeypatch):
    """A rerun that fails after training started leaves the old complete run intact in .previous/."""
    old_results = (run_copy / "results.json").read_text()
    old_best = (run_copy / "checkpoints" / "best.ckpt").read_bytes()
    import recframe.stages.results as results_stage

    def broken_save(*args, **kwargs):
        raise TrainingError("simulated failure after training")

    monkeypatch.setattr(results_stage, "save_per_user", broken_save)
    one_line_error(capsys, *FAST, f"hydra.run.dir={run_copy}")
    status = json.loads((run_copy / "status.json").read_text())
    assert status["state"] == "failed" and status["reason"] == "simulated failure after training"
    assert (run_copy / ".previous" / "results.json").read_text() == old_results
    assert (run_copy / ".previous" / "checkpoints" / "best.ckpt").read_bytes() == old_best
    assert not (run_copy / "results.json").exists()  # nothing in the folder claims to be this run's result


def test_rerun_that_completes_replaces_previous_outputs(run_copy):
    assert main([*FAST, f"hydra.run.dir={run_copy}"]) == 0
    assert json.loads((run_copy / "status.json").read_text())["state"] == "complete"
    assert not (run_copy / ".previous").exists() and (run_copy / "checkpoints" / "best.ckpt").is_file()


def test_a_rerun_that_fails_early_is_reported_failed_with_the_old_run_kept_aside(run_copy):
    """A rerun that stops at once (here a config mistake reaching ``execute``) must not leave the old
    results looking like this run's: the folder says failed, the old run is in .previous/."""
    from recframe import config as rconfig
    from recframe.run_state import run_health
    from recframe.runner import execute

    old_results = (run_copy / "results.json").read_text()
    cfg = rconfig.compose([*FAST, "trainer.lr=-1"])
    with pytest.raises(ConfigError, match="trainer.lr must be > 0"):
        execute(cfg, run_copy)
    assert run_health(run_copy) == ("failed", "trainer.lr must be > 0, got -1")
    assert (run_copy / ".previous" / "results.json").read_text() == old_results


def test_failing_on_run_end_marks_the_run_failed(recframe_plugin, run_copy, capsys):
    from recframe import hookimpl

    class FailsAtEnd:
        @hookimpl
        def on_run_end(self, run, results):
            raise TrainingError("the plugin's upload failed")

    recframe_plugin(FailsAtEnd(), name="fails_at_end")
    one_line_error(capsys, *FAST, f"hydra.run.dir={run_copy}")
    status = json.loads((run_copy / "status.json").read_text())
    assert status["state"] == "failed" and "upload failed" in status["reason"]
    from recframe.run_state import run_health

    assert run_health(run_copy)[0] == "failed"


def _holder(run_dir: Path) -> subprocess.Popen:
    """Another process holding ``run_dir`` through recframe's own guard, until it is killed."""
    code = (
        "import sys, time; from recframe.run_state import guarded\n"
        "with guarded(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_in_a_held_folder_stops_naming_the_pid(capsys, tmp_path):
    run_dir = tmp_path / "busy"
    proc = _holder(run_dir)
    try:
        err = one_line_error(capsys, *FAST, f"hydra.run.dir={run_dir}")
        assert f"pid {proc.pid}" in err and "in use by another run" in err
        assert json.loads((run_dir / "status.json").read_text())["pid"] == proc.pid  # the holder's status kept
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_runs_lock_is_taken_over_and_its_status_reads_stale(tmp_path):
    from recframe.run_state import guarded, run_health

    run_dir = tmp_path / "killed"
    proc = _holder(run_dir)
    proc.kill()
    proc.wait()
    state, detail = run_health(run_dir)
    assert state == "stale" and f"pid {proc.pid}" in detail
    with guarded(run_dir):  # the dead process's lock does not block
        assert json.loads((run_dir / "status.json").read_text())["pid"] == os.getpid()
    assert run_health(run_dir)[0] == "incomplete"  # complete status, but this body wrote no results.json


def test_compare_and_stability_refuse_incomplete_runs(run_copy, trained, capsys):
    from recframe.run_state import write_status

    write_status(run_copy, "failed", reason="killed by the test")
    assert main(["compare", str(trained), str(run_copy)]) == 2
    err = capsys.readouterr().err
    assert f"run {run_copy} is failed (killed by the test)" in err and len(err.strip().splitlines()) == 1
    assert main(["stability", str(trained), str(run_copy)]) == 0
    out = capsys.readouterr().out
    assert f"skipped {run_copy}: failed (killed by the test)" in " ".join(out.split())


# --- folder names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override",
    [
        "data.path=../../x",
        "name=../../..",
        "name=/etc",
        "data.name=..",
        "+data.note=a/../../b",
        "+data.note='a b ; rm -rf ~/*'",
    ],
)
def test_override_values_cannot_place_a_run_outside_the_output_dir(override, tmp_path):
    from recframe import config as rconfig

    out = tmp_path / "outputs"
    cfg = rconfig.compose([f"paths.output_dir={out}", override])
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(cfg)
    run_dir = Path(str(cfg.hydra.run.dir))
    assert run_dir.resolve().is_relative_to(out.resolve()) and ".." not in run_dir.parts
    assert len(run_dir.relative_to(out).parts) == 5  # runs/<name>/<data>/<model>/<overrides>
    sweep_dir = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
    assert sweep_dir.resolve().is_relative_to(out.resolve()) and ".." not in sweep_dir.parts


def test_folder_names_are_single_safe_segments():
    from recframe.folder_names import folder_name

    assert folder_name("seed=3,trainer.lr=0.01") == "seed=3,trainer.lr=0.01"  # ordinary names unchanged
    assert folder_name("") == "default" and folder_name("..") == "__" and folder_name(".hidden") == "_hidden"
    assert "/" not in folder_name("data.path=../../x") and "\\" not in folder_name("a\\b")
    long = folder_name("x=" + "9" * 400)
    assert len(long.encode()) <= 200 and long != folder_name("x=" + "9" * 401)


# --- file permissions -----------------------------------------------------------------------------------


def test_written_files_get_the_usual_permissions(trained, tmp_path):
    from recframe.atomic import atomic_dir, write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"a": 1})
        with atomic_dir(tmp_path / "folder"):
            pass
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755
        os.umask(0o027)
        write_json(tmp_path / "b.json", {"b": 1})
        assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    for name in ("results.json", "per_user.npz", "topk.npz", "status.json", "checkpoints/best.ckpt"):
        assert (trained / name).stat().st_mode & 0o077 != 0, name  # not owner-only


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import errno

    from recframe.training.checkpoint_io import SafeCheckpointIO

    target = tmp_path / "last.ckpt"
    target.write_bytes(b"previous checkpoint")

    def full_disk(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(TrainingError, match="no space left on the device writing .*last.ckpt"):
        SafeCheckpointIO().save_checkpoint({"state_dict": {}}, target)
    assert target.read_bytes() == b"previous checkpoint" and sorted(os.listdir(tmp_path)) == ["last.ckpt"]


def test_report_counts_only_complete_jobs_and_names_the_others(trained, tmp_path):
    from recframe.run_state import write_status
    from recframe.sweeps.report import build_report, header_lines

    sweep = tmp_path / "sweep"
    for job in ("j0", "j1", "j2"):
        shutil.copytree(trained, sweep / job)
    write_status(sweep / "j1", "failed", reason="loss became NaN at epoch 2")  # its results.json is stale
    write_status(sweep / "j2", "running", pid=_dead_pid(), host=__import__("socket").gethostname(), started="t0")
    report = build_report(sweep)
    assert [(j.name, j.status) for j in report.jobs] == [("j0", "ok"), ("j1", "failed"), ("j2", "stale")]
    assert report.jobs[1].results is None and report.best == 0
    header = "\n".join(header_lines(report))
    assert "jobs: 3 (1 ok, 1 failed, 1 stale)" in header
    assert "not counted: j1 (failed: loss became NaN at epoch 2)" in header and "not counted: j2 (stale: pid" in header


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_full_disk_when_writing_results_is_one_line_and_marks_the_run_failed(capsys, tmp_path, monkeypatch):
    import errno

    import recframe.stages.results as results_stage

    def full_disk(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(results_stage, "write_json", full_disk)
    run_dir = tmp_path / "full"
    err = one_line_error(capsys, *FAST, f"hydra.run.dir={run_dir}")
    assert f"no space left on the device writing {run_dir / 'results.json'}" in err
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and "no space left" in status["reason"]
