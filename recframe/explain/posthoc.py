"""Fidelity of a trained run after the fact: ``recframe explain RUN_DIR --fidelity [--users N] [--seed S]``.

The run's saved model is loaded (:func:`recframe.load`), its test users are read from ``per_user.npz``
(``test/users``, the users the test ranking scored; ``topk.npz``'s ``users`` when that is missing), and
the deletion test runs with the same protocol and code as ``explain=fidelity`` in a run
(:func:`recframe.explain.stage.fidelity_block`): the same model state (history before the test part
applied), the same masked items (train and validation) and the same sample for the same seed, so the
numbers equal what the run would have stored. The block is written into the run's ``results.json``
under ``explain`` in one atomic rename, every other key kept; a run that already has ``explain`` is
refused unless ``overwrite``. The run folder's lock is held meanwhile, so a run cannot start there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from recframe.errors import ConfigError

RESULTS = "results.json"


def test_users(run_dir: Path) -> np.ndarray:
    """``int64[n]``: the internal ids of the users the run's test ranking scored."""
    for name, key in (("per_user.npz", "test/users"), ("topk.npz", "users")):
        path = run_dir / name
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                if key in data.files:
                    return np.asarray(data[key], dtype=np.int64)
    raise ConfigError(
        f"{run_dir}: no test users to sample (per_user.npz 'test/users' and topk.npz 'users' are missing); "
        "run the experiment again with a test part"
    )


def read_results(run_dir: Path, overwrite: bool) -> dict[str, Any]:
    """The run's ``results.json``; refused in one line when it is missing, unreadable or (without
    ``overwrite``) already holds an ``explain`` block."""
    path = run_dir / RESULTS
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (is {run_dir} a finished run folder?)")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not readable JSON ({exc}); run the experiment again") from None
    if not isinstance(results, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(results).__name__}")
    if "explain" in results and not overwrite:
        raise ConfigError(
            f"{path} already has an 'explain' block (explainer {results['explain'].get('explainer')!r}); "
            "pass --overwrite to replace it"
        )
    return results


def posthoc_fidelity(
    run_dir: str | Path,
    sample: int = 200,
    seed: int = 0,
    explainer: str = "auto",
    compare: tuple[str, ...] = (),
    overwrite: bool = False,
) -> dict[str, Any]:
    """Measure the fidelity of the run in ``run_dir`` and store it in its ``results.json`` under ``explain``;
    returns the block. Bad values and refusals are one-line :class:`ConfigError`\\ s, raised before the model
    is loaded."""
    from recframe.atomic import write_json
    from recframe.explain.stage import fidelity_block, protocol_from
    from recframe.run_state import acquire_lock
    from recframe.serving.handle import load

    run_dir = Path(run_dir)
    protocol = protocol_from({"fidelity": {"sample_users": sample, "seed": seed}})
    read_results(run_dir, overwrite)
    users = test_users(run_dir)
    lock = acquire_lock(run_dir)
    try:
        results = read_results(run_dir, overwrite)  # again, under the lock
        handle = load(run_dir)
        train = handle.saved.train.to_csr()
        train.data[:] = 1.0
        block = fidelity_block(
            handle.model, handle.model_name, users, handle.seen, train, protocol, explainer, list(compare)
        )
        block["source"] = "recframe explain --fidelity"
        write_json(run_dir / RESULTS, {**results, "explain": block})
    finally:
        if lock is not None:
            lock.close()
    return block


def fidelity_lines(block: dict[str, Any]) -> list[str]:
    """The block as lines: the protocol, then per explainer the rank drops and the area."""
    p = block["protocol"]
    lines = [
        f"fidelity: {p['sample_users']} sampled test users (seed {p['seed']}), cutoffs {p['cutoffs']}, "
        f"{p['random_draws']} random draws; item: {p['item']}"
    ]
    parts = [(block["explainer"], block), *sorted((block.get("compared") or {}).items())]
    for name, part in parts:
        f = part["fidelity"]
        drops = "  ".join(
            f"drop@{r} {f[f'rank_drop@{r}']:.2f} / random {f[f'random_drop@{r}']:.2f}"
            for r in p["cutoffs"]
            if f"rank_drop@{r}" in f
        )
        area = f"area {f['area']:.3f}" if "area" in f else "no users with units"
        lines.append(
            f"  {name} ({'exact' if part['exact'] else 'not exact'}, unit {part['unit']}): {drops}  {area}  "
            f"[{f['users']} users, {f['skipped_users']} skipped, {part['seconds']:.1f} s]"
        )
    return lines
