"""A run folder's state: complete and valid, or visibly not.

:func:`guarded` wraps one run in its folder:

* a lock (``.run.lock``, an advisory ``flock`` holding the owner's pid and host) stops a second run in
  the same folder at once with a one-line error naming the holder; the operating system releases it when
  the holder dies, so a killed run's lock is taken over by the next run;
* ``status.json`` is written atomically: ``running`` (pid, host, start time), then ``failed`` (with the
  one-line reason) or ``complete``;
* a new run (not ``resume=true``) first moves the previous run's outputs (``results.json``,
  ``checkpoints/``, logs, ...) into ``.previous/`` and removes them only once it has completed itself.
  A run that fails or is killed leaves the previous complete run's files in ``.previous/``. The outputs of
  a previous run that had failed are not results and are replaced.

:func:`run_health` reads a folder's state for ``recframe report``, ``compare`` and ``stability``: a
``running`` status whose pid is gone on this host is ``stale`` (killed).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from recframe.atomic import write_json
from recframe.errors import ConfigError, DataError, RecframeError, TrainingError

STATUS_FILE = "status.json"
LOCK_FILE = ".run.lock"
PREVIOUS = ".previous"
#: entries of a run folder that belong to the folder, not to one run's outputs
#: The sweep marker (recframe/sweeps/identity.py) says which sweep the folder belongs to: not a run output.
SWEEP_MARKER = ".recframe_sweep.json"
INPUT = "input"  # the DataFrames a run was given (recframe/experiment.py): its data, not an output
FOLDER_ENTRIES = frozenset({".hydra", STATUS_FILE, LOCK_FILE, PREVIOUS, SWEEP_MARKER, INPUT})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_status(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The folder's ``status.json`` as a dict, or ``None`` when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(run_dir) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to someone else
        return True
    except OSError:
        return False
    return True


def run_health(run_dir: str | os.PathLike) -> tuple[str, str]:
    """``(state, detail)`` of a run folder.

    state is ``complete``, ``failed``, ``running``, ``stale`` (a running status whose process is gone),
    or ``incomplete`` (its status says complete but ``results.json`` is gone). A folder without
    ``status.json`` (written before run statuses existed, or by another tool) is judged by its files alone:
    ``complete``, and the reader reports any file it lacks.
    """
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    has_results = (run_dir / "results.json").is_file()
    if status is None:
        return "complete", ""
    state = str(status.get("state"))
    if state == "complete":
        return ("complete", "") if has_results else ("incomplete", "status complete but results.json is missing")
    if state == "failed":
        return "failed", str(status.get("reason") or "no reason recorded")
    if state == "running":
        pid, host = int(status.get("pid") or 0), str(status.get("host") or "")
        if host == socket.gethostname() and not pid_alive(pid):
            return "stale", f"pid {pid} stopped without finishing (killed?) after starting {status.get('started')}"
        return "running", f"pid {pid} on {host} since {status.get('started')}"
    return "incomplete", f"unknown state {state!r} in {STATUS_FILE}"


def require_complete(run_dir: str | os.PathLike) -> None:
    """Raise a one-line :class:`DataError` unless the run in ``run_dir`` is complete."""
    state, detail = run_health(run_dir)
    if state != "complete":
        raise DataError(
            f"run {run_dir} is {state} ({detail}); its results are not valid: rerun it "
            f"(or resume=true) and pass complete runs only"
        )


def write_status(run_dir: Path, state: str, **facts: Any) -> None:
    write_json(run_dir / STATUS_FILE, {"state": state, **facts})


# --- the lock --------------------------------------------------------------------------------------


def acquire_lock(run_dir: Path) -> IO[str] | None:
    """Take the folder's lock, or raise :class:`ConfigError` naming the pid that holds it.

    Returns the open lock file (closing it releases the lock); ``None`` where ``fcntl`` is missing.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory locks, the status file still tells
        return None
    path = run_dir / LOCK_FILE
    fh = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.seek(0)
        holder = fh.read().strip() or "unknown pid"
        fh.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise ConfigError(
                f"run folder {run_dir} is in use by another run ({holder}); wait for it to finish, "
                f"or give this run another folder (e.g. name=... or hydra.run.dir=...)"
            ) from None
        raise ConfigError(
            f"cannot lock run folder {run_dir} ({exc.strerror}); put paths.output_dir on a local file system"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {_now()}\n")
    fh.flush()
    return fh


# --- previous outputs ------------------------------------------------------------------------------


def run_outputs(run_dir: Path) -> list[Path]:
    """The entries of ``run_dir`` written by a run (not the folder's config, status, lock or job logs)."""
    if not run_dir.is_dir():
        return []
    return [
        p
        for p in sorted(run_dir.iterdir())
        if p.name not in FOLDER_ENTRIES and not (p.suffix == ".log" and p.is_file())
    ]  # Hydra's job log is open while the run goes on


def set_aside_previous(run_dir: Path) -> None:
    """Move the previous run's outputs into ``.previous/`` (see the module doc)."""
    outputs = run_outputs(run_dir)
    if not outputs:
        return
    previous = run_dir / PREVIOUS
    complete = run_health(run_dir)[0] == "complete"
    if previous.exists() and not complete:  # a failed attempt after a complete run: keep the complete one
        for entry in outputs:
            _remove(entry)
        return
    staging = run_dir / f"{PREVIOUS}.new"
    _remove(staging)
    staging.mkdir()
    for entry in outputs:
        os.replace(entry, staging / entry.name)
    _remove(previous)
    os.replace(staging, previous)


def move_aside(path: Path) -> None:
    """Move one output (e.g. a stale ``checkpoints/`` folder) into ``<its folder>/.previous/``."""
    if not path.exists():
        return
    target = path.parent / PREVIOUS / path.name
    target.parent.mkdir(exist_ok=True)
    _remove(target)
    os.replace(path, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# --- one run ---------------------------------------------------------------------------------------


def _worker_of_a_launched_run() -> bool:
    """A DDP worker process started by Lightning re-running the command: the rank-0 process holds the folder."""
    try:
        return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0
    except ValueError:
        return False


def disk_full_error(exc: OSError) -> TrainingError | None:
    """One line for a full, over-quota or read-only disk met anywhere in a run (else ``None``)."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return None
    where = f" writing {exc.filename}" if exc.filename else ""
    what = "read-only file system" if exc.errno == errno.EROFS else "no space left on the device"
    return TrainingError(
        f"{what}{where} ({exc.strerror}); free some space or set paths.output_dir to another "
        f"disk, then rerun (resume=true continues from the last checkpoint)"
    )


def reason_of(exc: BaseException) -> str:
    """One line saying why a run stopped."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    text = " ".join(str(exc).split())
    text = text if isinstance(exc, RecframeError) else f"{type(exc).__name__}: {text}"
    return text if len(text) <= 500 else text[:497] + "..."


@contextmanager
def guarded(run_dir: str | os.PathLike, resume: bool = False) -> Iterator[None]:
    """Hold ``run_dir`` for one run: lock, status, previous outputs set aside (see the module doc)."""
    run_dir = Path(run_dir)
    if _worker_of_a_launched_run():
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = acquire_lock(run_dir)
    try:
        if not resume:
            set_aside_previous(run_dir)
        started = _now()
        write_status(run_dir, "running", pid=os.getpid(), host=socket.gethostname(), started=started)
        try:
            try:
                yield
            except OSError as exc:
                disk = disk_full_error(exc)
                if disk is None:
                    raise
                raise disk from None
        except BaseException as exc:
            try:
                write_status(
                    run_dir,
                    "failed",
                    reason=reason_of(exc),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    started=started,
                    finished=_now(),
                )
            except OSError:  # the disk is still full: the running status with a dead pid reads as stale
                pass
            raise
        write_status(run_dir, "complete", pid=os.getpid(), host=socket.gethostname(), started=started, finished=_now())
        _remove(run_dir / PREVIOUS)
    finally:
        if lock is not None:
            lock.close()
