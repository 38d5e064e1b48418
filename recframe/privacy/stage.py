"""Stage ``privacy``: the ``privacy`` block of ``results.json``, after ``results``.

It holds the guarantee and the measured leakage side by side, for private and ordinary models:

* ``epsilon``, ``delta``, ``unit`` and the DP-SGD facts (noise, clipping, steps, accountant) when
  the run trained with ``trainer.privacy``; ``epsilon: Infinity`` and ``unit: none`` otherwise;
* ``attack``: the membership-inference attack (:mod:`recframe.privacy.membership`) when
  ``membership_inference.enabled`` is true, its AUC also as ``attack_auc``.

Runs with neither get no block.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from recframe.errors import ConfigError


def membership_settings(cfg: Any) -> tuple[bool, int]:
    """``(enabled, pairs)`` of ``membership_inference``; one-line error for a bad value."""
    enabled = OmegaConf.select(cfg, "membership_inference.enabled", default=False)
    pairs = OmegaConf.select(cfg, "membership_inference.pairs", default=10000)
    if not isinstance(enabled, bool):
        raise ConfigError(f"membership_inference.enabled must be true or false, got {enabled!r}")
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
        raise ConfigError(f"membership_inference.pairs must be an integer >= 1 (pairs of each kind), got {pairs!r}")
    return enabled, pairs


def privacy(ctx: Any) -> None:
    """Move the DP-SGD facts from ``run`` to ``privacy`` and add the membership-inference attack."""
    results = ctx.results
    facts = results.get("run", {}).pop("privacy", None)
    enabled, pairs = membership_settings(ctx.cfg)
    if facts is None and not enabled:
        return
    block: dict[str, Any] = dict(facts) if facts else {"epsilon": float("inf"), "delta": None, "unit": "none"}
    if enabled:
        from recframe.privacy.membership import membership_inference

        attack = membership_inference(ctx.require("model"), ctx.require("split"), pairs, int(ctx.cfg.seed))
        block["attack_auc"] = attack["auc"]
        block["attack"] = attack
    results["privacy"] = block


def describe(block: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, text)`` lines for the printed protocol block."""
    eps = block.get("epsilon")
    if block.get("unit") == "none":
        lines = [("privacy", "none (epsilon = inf)")]
    else:
        lines = [
            (
                "privacy",
                f"DP-SGD, {block['unit']} level: epsilon {eps:.3g} spent (delta {block['delta']:g}; "
                f"noise {block['noise_multiplier']:g}, clip {block['max_grad_norm']:g}, {block['steps']} steps, "
                f"{block['accountant']})",
            )
        ]
    if "attack" in block:
        a = block["attack"]
        lines.append(
            (
                "membership attack",
                f"AUC {a['auc']:.3f} (0.5: no leakage; {a['members']} train vs {a['non_members']} test pairs, "
                f"seed {a['seed']})",
            )
        )
    return lines
