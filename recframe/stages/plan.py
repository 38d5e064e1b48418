"""Stage ``plan``: check the config and resolve every name and parameter set, before any data.

Validates the core keys (:func:`recframe.config.validate`), derives the run's seeds, fixes the
protocol block stored in ``results.json``, looks up the evaluation mode and runs the plan check
(:func:`recframe.plan.make_plan`).
"""

from __future__ import annotations

import numpy as np

from recframe import config as rconfig
from recframe.plan import make_plan
from recframe.protocol import protocol_block
from recframe.stages.context import RunContext, Seeds
from recframe.stages.modes import evaluation_mode


def derive_seeds(seed: int, n: int) -> list[int]:
    """Independent seeds for the split, the sampler and model init, from one run seed."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(int(seed)).spawn(n)]


def plan(ctx: RunContext) -> None:
    """Fill ``ctx.seeds``, ``ctx.protocol`` and ``ctx.plan``; every mistake is one line, here."""
    rconfig.validate(ctx.cfg)
    from recframe.training.devices import check_eval_device

    check_eval_device(ctx.cfg.trainer)
    ctx.seeds = Seeds(*derive_seeds(ctx.cfg.seed, 4))
    ctx.protocol = protocol_block(ctx.cfg)
    evaluation_mode(ctx.protocol)
    ctx.plan = make_plan(ctx.cfg)
