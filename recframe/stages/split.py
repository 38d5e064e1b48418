"""Stage ``split``: filters, the implicit threshold or CTR labels, the splitter; then the model inputs.

After the split, the training part gives what a model may know when it is built
(:class:`~recframe.models.DatasetInfo`: sizes, training interactions, item popularity and, when
``data.features`` is declared, the feature tables).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from recframe.data.filters import apply_filters, require_rows
from recframe.data.interactions import Interactions
from recframe.data.split import Split
from recframe.errors import ConfigError
from recframe.factory import build
from recframe.models import DatasetInfo
from recframe.stages.context import RunContext


def prepare(protocol: dict[str, Any], data: Interactions) -> Interactions:
    """``protocol.filters``, then ``implicit_threshold`` or ``labels`` (ratings to 0/1 click labels)."""
    data = apply_filters(data, protocol.get("filters") or [])
    threshold = protocol.get("implicit_threshold")
    if threshold is not None:
        if data.rating is None:
            raise ConfigError("protocol.implicit_threshold is set but the dataset has no ratings; set it to null")
        data = data.subset(data.rating >= float(threshold)).compact()
        require_rows(data, f"protocol.implicit_threshold={threshold} (ratings >= {threshold} are kept)")
    labels = protocol.get("labels")
    if labels:  # CTR: ratings become 0/1 labels, the ratings in between are dropped
        from recframe.data.features import labels_from_ratings

        data = labels_from_ratings(data, float(labels["positive_min"]), float(labels["negative_max"])).compact()
        require_rows(data, "protocol.labels")
    return data


def split_data(cfg: DictConfig, data: Interactions, seed: int) -> Split:
    """The prepared data split by ``protocol.split`` (the splitter resolved through its registry)."""
    from recframe.plugins import registries

    protocol = OmegaConf.to_container(cfg.protocol, resolve=True)
    data = prepare(protocol, data)
    spec = dict(protocol["split"])
    name = spec.pop("name")
    if data.meta.get("presplit") and name != "predefined":  # the user's own train/valid/test files
        raise ConfigError(
            f"protocol.split.name is {name!r} but the data comes split into train/valid/test files; "
            f"use protocol=presplit (split name predefined) so the given split is kept"
        )
    splitter = registries().splitter.get(name, config_key="protocol.split.name")
    split = build(splitter, "protocol.split", name, {**spec, "seed": seed}, data)
    require_rows(split.train, f"protocol.split ({name}) left no training interactions: it")
    return split


def dataset_info(cfg: DictConfig, split: Split) -> DatasetInfo:
    """What a model may know when it is built; the feature tables only when ``data.features`` is set."""
    features = None
    if OmegaConf.select(cfg, "data.features", default=None) is not None:  # declared feature fields
        from recframe.data.features import build_features

        features = build_features(OmegaConf.to_container(cfg.data.features, resolve=True), split.train)
    return DatasetInfo(
        split.n_users, split.n_items, split.train, np.bincount(split.train.item, minlength=split.n_items), features
    )


def split(ctx: RunContext) -> None:
    """Fill ``ctx.split``, ``ctx.info`` and ``ctx.features``."""
    ctx.split = split_data(ctx.cfg, ctx.require("data"), ctx.require("seeds").split)
    ctx.info = dataset_info(ctx.cfg, ctx.split)
    ctx.features = ctx.info.features
