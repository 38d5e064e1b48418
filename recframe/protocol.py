"""The evaluation protocol: declared in ``protocol:``, printed with every table, stored in every result.

"Does not match the paper" is almost always an undeclared protocol difference, so everything that
changes a number (filters, split, ranking mode, masking, ties, cut-offs, seed) lives in one block.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

PROTOCOL_KEYS = (
    "name",
    "filters",
    "split",
    "order",
    "ranking",
    "num_candidates",
    "filter_seen",
    "ties",
    "cutoffs",
    "valid_metric",
    "implicit_threshold",
    "labels",
    "cold_fallback",
    "seed",
    "model_selection",
)


def protocol_block(cfg: DictConfig) -> dict[str, Any]:
    """The resolved protocol, as stored in ``results.json``."""
    block = OmegaConf.to_container(cfg.protocol, resolve=True)
    block["seed"] = int(cfg.seed)
    return block


def model_selection(block: dict[str, Any]) -> str:
    """How the tested model was chosen: the best validation epoch, or (no validation part) the last."""
    return str(block.get("model_selection") or f"best valid/{block.get('valid_metric')}")


def describe(block: dict[str, Any]) -> list[tuple[str, str]]:
    """Human-readable lines of the protocol for the printed table."""
    split = dict(block.get("split") or {})
    split_name = split.pop("name", "?")
    filters = (
        ", ".join(
            f"{f.get('name')}(" + ", ".join(f"{k}={v}" for k, v in f.items() if k != "name") + ")"
            for f in block.get("filters") or []
        )
        or "none"
    )
    ranking = block.get("ranking", "full")
    if ranking == "sampled":
        ranking += f" ({block.get('num_candidates')} candidates)"
    if ranking == "none":
        labels = block.get("labels") or {}
        return [
            ("protocol", str(block.get("name", "custom"))),
            ("filters", filters),
            (
                "labels",
                f"1 if rating >= {labels.get('positive_min')}, 0 if rating <= {labels.get('negative_max')}, "
                f"others dropped"
                if labels
                else "the data's 0/1 ratings",
            ),
            ("split", f"{split_name} " + ", ".join(f"{k}={v}" for k, v in split.items())),
            ("evaluation", "labelled valid/test records scored once (no ranking)"),
            ("model selection", model_selection(block)),
            ("seed", str(block.get("seed"))),
        ]
    return [
        ("protocol", str(block.get("name", "custom"))),
        ("filters", filters),
        ("split", f"{split_name} " + ", ".join(f"{k}={v}" for k, v in split.items())),
        ("order", str(block.get("order"))),
        (
            "ranking",
            f"{ranking}, seen items {'filtered' if block.get('filter_seen') else 'kept'}, ties {block.get('ties')}",
        ),
        ("cut-offs", ", ".join(str(k) for k in block.get("cutoffs", []))),
        ("model selection", model_selection(block)),
        ("implicit threshold", str(block.get("implicit_threshold"))),
        ("seed", str(block.get("seed"))),
    ]
