"""Stage ``results``: the final evaluation of validation and test, the cost, and the results record.

Stage ``write`` then stores ``results.json``, ``per_user.npz`` and ``topk.npz`` atomically and calls
the ``on_run_end`` lifecycle hook.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

import recframe
from recframe import config as rconfig
from recframe.atomic import atomic_path, write_json
from recframe.cost import environment
from recframe.latency import measure as measure_latency
from recframe.models import count_parameters, model_bytes
from recframe.stages.context import RunContext


def final_evaluation(ctx: RunContext) -> None:
    """Evaluate the fitted model on every non-empty part; fill ``ctx.values`` and ``ctx.per_user``."""
    model, split = ctx.require("model"), ctx.require("split")
    start = time.perf_counter()
    for part in [p for p in ("valid", "test") if len(ctx.targets[p].users)]:  # NCF may have no validation
        scores, per = ctx.evaluator.evaluate(model, ctx.targets[part], keep_per_user=True, keep_lists=part == "test")
        if part == "test" and "topk" in per:
            save_topk(ctx.run_dir / "topk.npz", ctx.targets[part].users, per.pop("topk"))
        if ctx.extra_metrics:
            from recframe.evaluation.pointwise import evaluate_pointwise

            scores.update(evaluate_pointwise(model, split.part(part), ctx.extra_metrics))
        ctx.values.update({f"{part}/{k}": v for k, v in scores.items()})
        if per:
            ctx.per_user[part] = per
    ctx.eval_seconds = time.perf_counter() - start


def results(ctx: RunContext) -> None:
    """Evaluate, measure the cost and fill ``ctx.results`` (what ``results.json`` holds)."""
    final_evaluation(ctx)
    cfg, model, split, data = ctx.cfg, ctx.require("model"), ctx.require("split"), ctx.require("data")
    latency = measure_latency(model, split.n_users)  # the method: recframe/latency.py
    cost = {
        "params": count_parameters(model),
        "model_bytes": model_bytes(model),
        "fit_seconds": round(ctx.fit_seconds, 4),
        "eval_seconds": round(ctx.eval_seconds, 4),
        "score_latency_ms_per_1k_users": round(latency.median, 4),
    }
    cost.update(ctx.cost_overrides)
    ctx.results = {
        "recframe_version": recframe.__version__,
        "run": {
            "model": str(cfg.model.name),
            "data": str(cfg.data.name),
            "seed": int(cfg.seed),
            "config_hash": rconfig.config_hash(cfg),
            "name": str(cfg.name),
            **ctx.run_facts,
            **ctx.fit_facts,
        },
        "protocol": ctx.protocol,
        "data": {
            **data.counts(),
            **split.counts(),
            "filtered": {"users": split.n_users, "items": split.n_items, "interactions": sum(split.counts().values())},
        },
        "metrics": ctx.values,
        "cost": cost,
        "latency": latency.as_dict(),  # the median's spread, repeats, warm-up, users and threads
        "environment": environment(str(ctx.fit_facts.get("train_device") or "cpu")),
    }


def write(ctx: RunContext) -> None:
    """Store ``per_user.npz`` and ``results.json`` (atomically), then call ``on_run_end``."""
    from recframe.plugins import call_lifecycle

    save_per_user(ctx.run_dir / "per_user.npz", ctx.per_user, ctx.targets)
    write_json(ctx.run_dir / "results.json", ctx.results)
    from recframe.training.loggers import finish as finish_logger

    finish_logger(ctx.cfg, ctx.run_dir, ctx.results)  # hyper-parameters and final metrics, once per run
    call_lifecycle("on_run_end", run=ctx.run, results=ctx.results)


def save_topk(path: Path, users: np.ndarray, items: np.ndarray) -> None:
    """Each test user's top-K list: ``users: int64[n]``, ``items: int32[n, K]`` (``-1`` padded)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, users=users, items=items)


def save_per_user(path: Path, per_user: dict[str, dict[str, np.ndarray]], targets: dict[str, Any]) -> None:
    """Per-user metric values (``<part>/<metric>`` arrays aligned with ``<part>/users``)."""
    arrays: dict[str, np.ndarray] = {f"{part}/users": targets[part].users for part in per_user}
    for part, per in per_user.items():
        arrays.update({f"{part}/{k}": v for k, v in per.items()})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
