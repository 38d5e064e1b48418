"""The run as a linear sequence of named stages over one :class:`~recframe.stages.context.RunContext`.

::

    compression.source -> plan -> data -> split -> model -> start -> evaluation -> fit -> results
        -> privacy -> save -> compression -> write

Each stage is a small function ``stage(ctx) -> None`` in its own module; :func:`recframe.runner.execute`
runs :data:`STAGES` in order inside every guard of :data:`GUARDS`. Adding a stage is one line here:

* a run-state guard (status file, lock, overwrite policy) goes into :data:`GUARDS`: a context
  manager factory ``guard(ctx)`` entered before the first stage and exited after the last (or on an
  error);
* the ``save`` stage writes the loadable model after ``results``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from recframe.explain import stage as explain_stage
from recframe.privacy.stage import privacy as privacy_block
from recframe.stages import budget, compression, data, evaluation, fit, flops, model, plan, results, save, split
from recframe.stages.context import Run, RunContext

Stage = Callable[[RunContext], None]

#: ``(name, stage)`` in run order.
STAGES: list[tuple[str, Stage]] = [
    ("compression.source", compression.source),  # compressor.from_run: the saved run's config and weights
    ("plan", plan.plan),  # every name and parameter checked; nothing read from disk before this
    ("data", data.data),
    ("split", split.split),
    ("scaling.memory", budget.memory),  # a scaling sweep's size: parameter memory before the build
    ("model", model.model),
    ("explain.check", explain_stage.check),  # explain=fidelity: the explainer supports the model
    ("start", model.start),  # on_run_start
    ("evaluation", evaluation.evaluation),
    ("scaling.compute", budget.compute),  # activation memory; the flops budget rule's epochs
    ("fit", fit.fit),
    ("flops", flops.flops),  # training FLOPs into the cost (recframe/training/flops.py)
    ("results", results.results),
    ("privacy", privacy_block),  # results.json's privacy: epsilon spent, membership-inference AUC
    ("save", save.save),  # the loadable model folder (recframe.load), after the results
    ("explain", explain_stage.explain),  # explain=fidelity: the deletion curve, results["explain"]
    ("compression", compression.compress),
    ("write", results.write),  # results.json, per_user.npz; on_run_end
]


def run_folder_guard(ctx: RunContext) -> AbstractContextManager[Any]:
    """The run folder held for the run: lock, ``status.json``, previous outputs set aside
    (:mod:`recframe.run_state`); ``resume=true`` keeps the previous outputs."""
    from omegaconf import OmegaConf

    from recframe.run_state import guarded

    return guarded(ctx.run_dir, resume=bool(OmegaConf.select(ctx.cfg, "resume", default=False)))


#: Context managers wrapped around the whole run, outermost first: ``guard(ctx)``.
GUARDS: list[Callable[[RunContext], AbstractContextManager[Any]]] = [run_folder_guard]

__all__ = ["GUARDS", "STAGES", "Run", "RunContext", "Stage"]
