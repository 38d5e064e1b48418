"""Command-line conventions shared by every ``recframe`` invocation.

What a user of Hydra and of Python tools expects from a command: ``--version`` names the program's own
version, Hydra's flags (``-c job``, ``--info``, ``--shell-completion``) are read exactly as Hydra reads
them (so the config pre-check never mistakes a flag's value for an override), every run says where its
results went, and Ctrl-C ends with one line telling how to continue (``resume=true``).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

#: Hydra flags after which no experiment runs (help, config printing, plugin info, completion).
_NO_RUN_FLAGS = ("help", "hydra_help", "info", "shell_completion", "cfg")


def version_line() -> str:
    """``recframe X.Y.Z`` followed by the Python and Hydra versions it runs with."""
    import platform

    import recframe

    try:
        from hydra import __version__ as hydra_version
    except ImportError:  # pragma: no cover - hydra-core is a dependency
        hydra_version = "missing"
    return f"recframe {recframe.__version__} (Python {platform.python_version()}, Hydra {hydra_version})"


def wants_version(argv: Sequence[str]) -> bool:
    """True for ``recframe --version`` / ``recframe -V`` (Hydra's own ``--version`` would print Hydra's)."""
    return any(a in ("--version", "-V") for a in argv)


def parse_hydra_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """Parse ``argv`` with Hydra's own argument parser; ``None`` if Hydra would reject it (Hydra says why)."""
    try:
        from hydra._internal.utils import get_args_parser
    except ImportError:  # pragma: no cover - a future Hydra moved it; the caller falls back
        return None
    parser = get_args_parser()
    parser.exit_on_error = False
    try:
        args, _unknown = parser.parse_known_args(list(argv))
    except (argparse.ArgumentError, SystemExit):
        return None
    return args


def config_overrides(argv: Sequence[str]) -> tuple[list[str], bool]:
    """The overrides the pre-check should compose, and whether an experiment will run at all.

    Flag values (``-c job``, ``--info defaults``, ``--config-name X``) are not overrides; with
    ``--shell-completion`` the words after it are completion queries (``install=bash``), not overrides.
    """
    args = parse_hydra_args(argv)
    if args is None:  # let Hydra print its own usage error
        return [], False
    runs = not any(getattr(args, flag, None) for flag in _NO_RUN_FLAGS)
    return list(args.overrides or []), runs


def results_line(run_dir: str | Path) -> str:
    """The closing line of a run: where its ``results.json`` is."""
    return f"results: {Path(run_dir) / 'results.json'}"


def sweep_summary(sweep_dir: str | Path, n_jobs: int, n_failed: int) -> str:
    """The closing line of a sweep: how many jobs ran and the command that tabulates them."""
    failed = f", {n_failed} failed" if n_failed else ""
    return (
        f"sweep: {n_jobs} job(s){failed}; results under {sweep_dir}; "
        f"table: recframe report {shlex.quote(str(sweep_dir))}"
    )


def resume_hint(argv: Sequence[str]) -> str:
    """One line for an interrupted run: the same command with ``resume=true``."""
    kept = [a for a in argv if not a.startswith("resume=")]
    command = " ".join(shlex.quote(a) for a in ["recframe", *kept, "resume=true"])
    return f"interrupted; to continue from the last checkpoint run: {command}"


class Interrupted(Exception):
    """Raised in place of Lightning's ``sys.exit(1)`` when the exit was caused by Ctrl-C."""


@contextmanager
def interrupt_guard() -> Iterator[dict[str, bool]]:
    """Note a Ctrl-C (SIGINT) before it is turned into ``KeyboardInterrupt``.

    Lightning catches the ``KeyboardInterrupt``, saves what it can and calls ``sys.exit(1)``; the flag
    lets the command tell that exit from any other and print its one-line hint instead.
    """
    state = {"interrupted": False}

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        state["interrupted"] = True
        signal.default_int_handler(signum, frame)

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: leave signals alone
        yield state
        return
    try:
        yield state
    except (KeyboardInterrupt, SystemExit):
        if state["interrupted"]:
            raise Interrupted() from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def print_line(line: str) -> None:
    """Print a closing line to stdout and flush it (so it is the last line even when piped)."""
    print(line, flush=True)
    sys.stdout.flush()
