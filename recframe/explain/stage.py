"""The opt-in explanation stages of a run (``explain=fidelity``, conf/explain/fidelity.yaml).

* ``explain.check`` (after the model is built, before fitting): the explainer named by
  ``explain.explainer`` exists and supports the model, else one line naming both;
* ``explain`` (after the results): the deletion curve (:mod:`recframe.explain.fidelity`) on the
  declared sample of test users, stored as ``results["explain"]`` with its protocol; the explainers
  named in ``explain.compare`` are measured on the same users, under ``results["explain"]["compared"]``.

:func:`fidelity_block` computes that block for any fitted model; ``recframe explain RUN --fidelity``
(:mod:`recframe.explain.posthoc`) calls it on a saved run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from omegaconf import OmegaConf

from recframe.errors import ConfigError

if TYPE_CHECKING:
    from recframe.stages.context import RunContext


def _spec(ctx: RunContext) -> dict[str, Any] | None:
    node = OmegaConf.select(ctx.cfg, "explain", default=None)
    if node is None:
        return None
    spec = OmegaConf.to_container(node, resolve=True)
    if not isinstance(spec, dict):
        raise ConfigError(f"explain must be a mapping (use explain=fidelity), got {spec!r}")
    return cast("dict[str, Any]", spec)


def protocol_from(spec: dict[str, Any]) -> Any:
    """The :class:`FidelityProtocol` of ``explain.fidelity``; bad values are one line naming the key."""
    from recframe.explain.fidelity import FidelityProtocol

    raw = dict(spec.get("fidelity") or {})
    known = {"sample_users", "seed", "cutoffs", "random_draws"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"explain.fidelity.{unknown[0]}: unknown key (keys: {', '.join(sorted(known))})")
    protocol = FidelityProtocol(
        sample_users=raw.get("sample_users", 200),
        seed=raw.get("seed", 0),
        cutoffs=tuple(raw.get("cutoffs", (1, 3, 5))),
        random_draws=raw.get("random_draws", 3),
    )
    for key in ("sample_users", "random_draws"):
        value = getattr(protocol, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"explain.fidelity.{key} must be a positive integer, got {value!r}")
    if not protocol.cutoffs or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in protocol.cutoffs):
        raise ConfigError(
            f"explain.fidelity.cutoffs must be positive integers, e.g. [1, 3, 5]; got {list(protocol.cutoffs)}"
        )
    protocol.cutoffs = tuple(sorted(set(protocol.cutoffs)))
    return protocol


def check(ctx: RunContext) -> None:
    """Fail before fitting when the explainer is unknown or cannot explain the model."""
    spec = _spec(ctx)
    if spec is None:
        return
    from recframe.explain.choose import choose_explainer

    protocol_from(spec)
    model, model_name = ctx.require("model"), str(ctx.cfg.model.name)
    choose_explainer(model, model_name, str(spec.get("explainer", "auto")))
    for other in _names(spec.get("compare")):
        choose_explainer(model, model_name, other)


def explain(ctx: RunContext) -> None:
    """The deletion curve of the chosen explainer (and of each in ``explain.compare``) on the sampled
    test users -> ``results["explain"]``."""
    spec = _spec(ctx)
    if spec is None:
        return
    from recframe.models import apply_history

    model, split = ctx.require("model"), ctx.require("split")
    protocol = protocol_from(spec)
    model.eval()
    apply_history(model, split.history("test"))
    train = split.train.to_csr()
    train.data[:] = 1.0
    ctx.results["explain"] = fidelity_block(
        model,
        str(ctx.cfg.model.name),
        split.test.user,
        split.seen_before("test"),
        train,
        protocol,
        str(spec.get("explainer", "auto")),
        _names(spec.get("compare")),
    )


def fidelity_block(
    model: Any,
    model_name: str,
    test_users: Any,
    seen: Any,
    train: Any,
    protocol: Any,
    explainer_name: str = "auto",
    compare: Sequence[str] = (),
) -> dict[str, Any]:
    """``results["explain"]``: the deletion curve of the chosen explainer (and of each of ``compare``) on
    ``protocol.sample_users`` of ``test_users`` drawn by ``protocol.seed``; ``seen``: users x items CSR of
    what each test ranking masks; ``train``: the binary users x items matrix the model was fitted on.
    The run's ``explain`` stage and ``recframe explain RUN --fidelity`` both call it."""
    from recframe.explain.choose import choose_explainer
    from recframe.explain.fidelity import sample_users

    model.eval()
    users = sample_users(test_users, protocol.sample_users, protocol.seed)
    name, explainer = choose_explainer(model, model_name, explainer_name)
    block = {"explainer": name, **_measure(explainer, model, users, seen, train, protocol)}
    block["protocol"] = protocol.as_dict()
    compared = {}
    for other in compare:
        other_name, other_explainer = choose_explainer(model, model_name, other)
        compared[other_name] = _measure(other_explainer, model, users, seen, train, protocol)
    if compared:
        block["compared"] = compared
    return block


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"explain.compare must be a list of explainer names, got {value!r}")


def _measure(explainer: Any, model: Any, users: Any, seen: Any, train: Any, protocol: Any) -> dict[str, Any]:
    from recframe.explain.fidelity import deletion_curve

    start = time.perf_counter()
    explainer.use_history(train)
    curve = deletion_curve(explainer, model, users, seen, protocol)
    return {
        "exact": bool(explainer.exact),
        "unit": explainer.unit_kind,
        "fidelity": curve.summary(),
        "seconds": round(time.perf_counter() - start, 3),
    }
