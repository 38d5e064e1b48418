"""Stage ``save``: the loadable model folder ``<run_dir>/model/`` that :func:`recframe.load` reads.

Written after the results are computed, so a run that fails earlier leaves no model folder
(docs/serving.md describes the layout).
"""

from __future__ import annotations

from recframe.stages.context import RunContext


def save(ctx: RunContext) -> None:
    """Write the trained model, its id maps, training histories and item table."""
    from recframe.serving.artifact import save_model

    save_model(ctx.run_dir, ctx.require("model"), ctx.require("split"), ctx.cfg)
