"""Stage ``model``: build the planned model from the training data's :class:`~recframe.models.DatasetInfo`.

Also applies ``protocol.cold_fallback`` (valid/test items absent from training, for models that
cannot score them) and calls the ``on_run_start`` lifecycle hook with the pieces built so far.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from recframe.data.split import Split
from recframe.errors import ConfigError
from recframe.factory import build
from recframe.models import DatasetInfo, Recommender
from recframe.stages.context import Run, RunContext

log = logging.getLogger(__name__)


def cold_fallback(
    protocol: dict[str, Any], model: Recommender, model_name: str, split: Split, info: DatasetInfo
) -> dict[str, Any]:
    """Apply ``protocol.cold_fallback`` when valid/test hold items absent from training.

    A model that cannot score such items (``scores_unseen_items`` False: its item parameters were
    never trained on them) either stops the run (``error``) or has them ranked below every trained
    item (``popularity``, the default, as Pop ranks them). Returns the facts stored under ``run``.
    """
    unseen = info.item_popularity == 0
    held = np.union1d(split.valid.item, split.test.item)
    n_cold = int(unseen[held].sum()) if len(held) else 0
    if not n_cold or getattr(model, "scores_unseen_items", False):
        return {"cold_items": n_cold} if n_cold else {}
    policy = str(protocol.get("cold_fallback") or "popularity")
    if policy == "error":
        raise ConfigError(
            f"model '{model_name}' is purely collaborative and cannot score the {n_cold} valid/test "
            f"items absent from training; use a content model (model=content_knn) or set "
            f"protocol.cold_fallback=popularity to rank them below every trained item"
        )
    if policy != "popularity":
        raise ConfigError(f"protocol.cold_fallback must be 'error' or 'popularity', got {policy!r}")
    model.unseen_items = torch.from_numpy(np.flatnonzero(unseen))
    log.info(
        "model '%s' cannot score %d valid/test items absent from training: ranked last "
        "(protocol.cold_fallback=popularity)",
        model_name,
        n_cold,
    )
    return {"cold_items": n_cold, "cold_fallback": "popularity"}


def model(ctx: RunContext) -> None:
    """Fill ``ctx.model`` (seeded by the run's init seed), the cold-item facts and ``ctx.run``."""
    planned = ctx.require("plan").model
    name = str(ctx.cfg.model.name)  # as configured (an alias stays an alias in messages and results)
    torch.manual_seed(ctx.require("seeds").init)
    ctx.model = build(planned.factory, "model", name, dict(planned.params), ctx.require("info"))
    ctx.run_facts.update(cold_fallback(ctx.protocol, ctx.model, name, ctx.require("split"), ctx.info))


def start(ctx: RunContext) -> None:
    """The ``on_run_start`` lifecycle hook, once the model is built."""
    from recframe.plugins import call_lifecycle

    ctx.run = Run(ctx.cfg, ctx.run_dir, ctx.data, ctx.split, ctx.model)
    call_lifecycle("on_run_start", run=ctx.run)
