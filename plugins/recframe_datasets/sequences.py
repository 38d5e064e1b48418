"""Sequence-per-line datasets of sequential recommendation (S3-Rec preprocessing).

K. Zhou et al., *S3-Rec: Self-Supervised Learning for Sequential Recommendation with Mutual
Information Maximization*, CIKM 2020 (https://github.com/RUCAIBox/CIKM2020-S3Rec), also shipped by
ICLRec (Y. Chen et al., WWW 2022). Underlying data: Amazon review data (R. He & J. McAuley, WWW
2016; J. McAuley et al., SIGIR 2015) for Beauty, Sports_and_Outdoors and Toys_and_Games; the Yelp
Open Dataset (2019 reviews); HetRec-2011 Last.fm for LastFM.

Files: ``<Name>.txt`` with one line per user, ``user item item ...`` in chronological order, and
``<Name>_item2attributes.json`` (``{"item id": [attribute ids]}``). The order is kept as the
``timestamp``: the 0-based position of the item in its user's line, so time-based splitters
(``leave_one_out`` with ``order: time``) hold out the last items as the papers do. Item features:
one row per dense item with ``attributes`` (a list of int attribute ids, empty when unlisted).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from recframe.data.interactions import Interactions
from recframe.data.readers import read_user_lists
from recframe.data.source import DataSource
from recframe.errors import ConfigError, DataError


def read_item_attributes(path, item_ids: np.ndarray) -> pd.DataFrame:
    """``item, attributes`` rows aligned with dense item ids from an ``item2attributes`` JSON file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object mapping item ids to attribute lists")
    try:
        table = {int(k): [int(a) for a in v] for k, v in raw.items()}  # one entry per item
    except (TypeError, ValueError):
        raise DataError(f"{path}: item ids and attribute ids must be integers") from None
    attrs = [table.get(int(i), []) for i in item_ids]
    return pd.DataFrame({"item": item_ids, "attributes": attrs})


class SequenceLines(DataSource):
    """One user per line, ``user item item ...`` in time order, plus optional item attributes.

    Args:
        path: the dataset folder.
        file: the sequence file (e.g. ``Beauty.txt``).
        attributes: the ``item2attributes`` JSON file, or ``None`` for no item features.
    """

    homepage = "https://github.com/RUCAIBox/CIKM2020-S3Rec"
    label = "sequence-lines"
    default_file: str | None = None
    default_attributes: str | None = None

    def __init__(self, path, file: str | None = None, attributes: str | None = None) -> None:
        file = file or self.default_file
        if not file:
            raise ConfigError("data.file is missing: name the sequence file (e.g. data.file=Beauty.txt)")
        attributes = attributes if attributes is not None else self.default_attributes
        super().__init__(path, file=file, attributes=attributes)
        self.file, self.attributes = file, attributes
        self.files = (file,) + ((attributes,) if attributes else ())

    def load(self) -> Interactions:
        user, item, position = read_user_lists(self.path / self.file, min_items=1)
        data = Interactions.from_raw(user, item, timestamp=position,
                                     meta={"source": self.label, "timestamp": "position in sequence"})
        if self.attributes:
            data.item_features = read_item_attributes(self.path / self.attributes, data.item_ids)
        return data


def s3rec(label: str, base: str) -> type[SequenceLines]:
    """A :class:`SequenceLines` for one S3-Rec dataset (``<base>.txt`` + ``<base>_item2attributes.json``)."""
    return type(f"S3Rec{base.replace('_', '')}", (SequenceLines,), {
        "label": label, "default_file": f"{base}.txt", "default_attributes": f"{base}_item2attributes.json",
        "__module__": __name__, "__doc__": f"S3-Rec {base} sequences (``{base}.txt``) with item attributes."})


AmazonBeauty = s3rec("amazon-beauty", "Beauty")
AmazonSports = s3rec("amazon-sports", "Sports_and_Outdoors")
AmazonToys = s3rec("amazon-toys", "Toys_and_Games")
Yelp = s3rec("yelp", "Yelp")
LastFM = s3rec("lastfm", "LastFM")
