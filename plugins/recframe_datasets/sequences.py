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

Optional ``negatives`` (S3-Rec's ``<Name>_sample.txt``: ``user neg1 ... neg99`` per line, drawn by
S3-Rec's ``generate_test.py``) become the fixed ``candidates`` (``int64[n_users, 99]``) that sampled
evaluation ranks the held-out item against, as in the paper.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from recframe.api import Interactions
from recframe.api import read_user_lists
from recframe.api import DataSource
from recframe.api import ConfigError, DataError


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


def read_negatives(path, data: Interactions) -> np.ndarray:
    """``int64[n_users, C]`` dense candidate ids from ``user neg neg ...`` lines (``-1`` pads short rows).

    Every user and item named must exist in the interactions, and no negative may be a positive of
    its user; either problem is a one-line error naming the file.
    """
    user, item, pos = read_user_lists(path)
    u_dense = np.searchsorted(data.user_ids, user)
    i_dense = np.searchsorted(data.item_ids, item)
    u_ok = (u_dense < data.n_users) & (data.user_ids[np.minimum(u_dense, data.n_users - 1)] == user)
    i_ok = (i_dense < data.n_items) & (data.item_ids[np.minimum(i_dense, data.n_items - 1)] == item)
    if not (u_ok.all() and i_ok.all()):
        what = f"user {user[~u_ok][0]}" if not u_ok.all() else f"item {item[~i_ok][0]}"
        raise DataError(f"{path}: {what} does not occur in the interactions")
    out = np.full((data.n_users, int(pos.max()) + 1 if pos.size else 0), -1, dtype=np.int64)
    out[u_dense, pos] = i_dense
    positive = np.isin(u_dense * data.n_items + i_dense, data.user * data.n_items + data.item)
    if positive.any():
        raise DataError(
            f"{path}: {int(positive.sum())} negative(s) are positives of their user, e.g. user "
            f"{user[positive][0]} item {item[positive][0]}"
        )
    return out


class SequenceLines(DataSource):
    """One user per line, ``user item item ...`` in time order, plus optional item attributes.

    Args:
        path: the dataset folder.
        file: the sequence file (e.g. ``Beauty.txt``).
        attributes: the ``item2attributes`` JSON file, or ``None`` for no item features.
        negatives: a ``user neg neg ...`` file of fixed evaluation candidates, or ``None``.
    """

    homepage = "https://github.com/RUCAIBox/CIKM2020-S3Rec"
    label = "sequence-lines"
    default_file: str | None = None
    default_attributes: str | None = None

    def __init__(
        self, path, file: str | None = None, attributes: str | None = None, negatives: str | None = None
    ) -> None:
        file = file or self.default_file
        if not file:
            raise ConfigError("data.file is missing: name the sequence file (e.g. data.file=Beauty.txt)")
        attributes = attributes if attributes is not None else self.default_attributes
        super().__init__(path, file=file, attributes=attributes, negatives=negatives)
        self.file, self.attributes, self.negatives = file, attributes, negatives
        self.files = (file,) + tuple(f for f in (attributes, negatives) if f)

    def load(self) -> Interactions:
        user, item, position = read_user_lists(self.path / self.file, min_items=1)
        data = Interactions.from_raw(
            user, item, timestamp=position, meta={"source": self.label, "timestamp": "position in sequence"}
        )
        if self.attributes:
            data.item_features = read_item_attributes(self.path / self.attributes, data.item_ids)
        if self.negatives:
            data.candidates = read_negatives(self.path / self.negatives, data)
        return data


def s3rec(label: str, base: str) -> type[SequenceLines]:
    """A :class:`SequenceLines` for one S3-Rec dataset (``<base>.txt`` + ``<base>_item2attributes.json``)."""
    return type(
        f"S3Rec{base.replace('_', '')}",
        (SequenceLines,),
        {
            "label": label,
            "default_file": f"{base}.txt",
            "default_attributes": f"{base}_item2attributes.json",
            "__module__": __name__,
            "__doc__": f"S3-Rec {base} sequences (``{base}.txt``) with item attributes.",
        },
    )


AmazonBeauty = s3rec("amazon-beauty", "Beauty")
AmazonSports = s3rec("amazon-sports", "Sports_and_Outdoors")
AmazonToys = s3rec("amazon-toys", "Toys_and_Games")
Yelp = s3rec("yelp", "Yelp")
LastFM = s3rec("lastfm", "LastFM")
