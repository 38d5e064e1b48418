"""Stage ``data``: build the data source from the plan and load its interactions through the cache."""

from __future__ import annotations

from recframe.data.interactions import Interactions
from recframe.data.source import build_source, load_dataset
from recframe.plan import Plan
from recframe.stages.context import RunContext


def load_planned(plan: Plan, use_cache: bool = True) -> Interactions:
    """The planned data source's interactions (parsed, or from the cache)."""
    name = plan.source.name
    source = build_source(plan.source.factory, name, {"name": name, **plan.source.params})
    return load_dataset(name, source, use_cache=use_cache)


def data(ctx: RunContext) -> None:
    """Fill ``ctx.data``."""
    ctx.data = load_planned(ctx.require("plan"), use_cache=bool(ctx.cfg.data_cache))
