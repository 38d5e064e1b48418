"""Helpers for the sweep tests: run the CLI in-process and read a study back."""

from __future__ import annotations

import json
from pathlib import Path

FAST = ["data=synthetic", "debug=fast", "print_table=false", "logger=none", "data_cache=false"]


def recframe_cli(args: list[str], capsys=None) -> tuple[int, str]:
    """Run ``recframe ARGS`` in this process; (exit code, stderr when capsys is given)."""
    from recframe.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:  # Hydra exits on errors it reports itself
        code = int(exc.code or 0)
    err = capsys.readouterr().err if capsys is not None else ""
    return code, err


def optuna_sweep(out: Path, name: str, *args: str) -> list[str]:
    """Command-line arguments of an Optuna sweep on the synthetic data writing under ``out``."""
    return ["-m", "hydra/sweeper=optuna", *FAST, f"name={name}", f"paths.output_dir={out}", *args]


def load_study(sweep_dir: Path, study_name: str):
    import optuna

    from recframe.sweeps.storage import open_storage

    return optuna.load_study(study_name=study_name, storage=open_storage(f"sqlite:///{sweep_dir / 'optuna.db'}"))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
