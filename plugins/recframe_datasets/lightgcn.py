"""Predefined train/test splits shipped with graph recommenders.

* NGCF / LightGCN user lists (X. Wang et al., *Neural Graph Collaborative Filtering*, SIGIR 2019;
  X. He et al., *LightGCN*, SIGIR 2020; https://github.com/gusye1234/LightGCN-PyTorch):
  ``train.txt`` and ``test.txt`` hold one line per user, ``user item item ...``, 0-based ids. The
  Gowalla set comes from SNAP loc-gowalla (E. Cho, S. Myers, J. Leskovec, KDD 2011).
* LightGCN's LastFM (HetRec 2011 Last.fm 2K; I. Cantador, P. Brusilovsky, T. Kuflik, RecSys 2011):
  ``data1.txt`` (train) and ``test1.txt`` (test), ``user<TAB>artist<TAB>value`` with 1-based ids;
  the third column (an undocumented weight, likely a listening count) is kept as ``rating`` only
  when ``value_as_rating`` is set, since LightGCN ignores it.

Both produce :class:`Interactions` with ``split_labels`` (0 train, 2 test); the ``predefined``
splitter uses them and carves a validation part from train by its declared rule. Raw ids are kept
(``user_ids`` / ``item_ids``), so results map back to the files' ids.
"""

from __future__ import annotations

import numpy as np

from recframe.api import TEST, TRAIN, Interactions
from recframe.api import read_delimited, read_user_lists
from recframe.api import DataSource
from recframe.api import DataError


def labelled(
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]], source: str, rating: bool = False
) -> Interactions:
    """Concatenate ``(label, user, item, value)`` parts into one table with ``split_labels``."""
    users = np.concatenate([p[1] for p in parts])
    items = np.concatenate([p[2] for p in parts])
    labels = np.concatenate([np.full(len(p[1]), p[0], dtype=np.int8) for p in parts])
    values = np.concatenate([p[3] for p in parts]) if rating else None
    return Interactions.from_raw(users, items, rating=values, split_labels=labels, meta={"source": source})


def check_disjoint(data: Interactions, files: str) -> None:
    """The same user-item pair in train and test would leak the answer: a one-line error."""
    key = data.user * data.n_items + data.item
    train, test = key[data.split_labels == TRAIN], key[data.split_labels == TEST]
    both = np.intersect1d(train, test)
    if both.size:
        u, i = divmod(int(both[0]), data.n_items)
        raise DataError(
            f"{files}: {both.size} user-item pair(s) are in both train and test, e.g. user "
            f"{data.user_ids[u]} item {data.item_ids[i]}; the split files are inconsistent"
        )


class UserListSplit(DataSource):
    """NGCF/LightGCN ``train.txt`` / ``test.txt`` user lists as a predefined train/test split."""

    files = ("train.txt", "test.txt")
    homepage = "https://github.com/gusye1234/LightGCN-PyTorch"
    label = "user-lists"

    def __init__(self, path, train_file: str = "train.txt", test_file: str = "test.txt") -> None:
        super().__init__(path, train_file=train_file, test_file=test_file)
        self.files = (train_file, test_file)

    def load(self) -> Interactions:
        parts = []
        for label, name in ((TRAIN, self.files[0]), (TEST, self.files[1])):
            user, item, _ = read_user_lists(self.path / name)
            parts.append((label, user, item, None))
        data = labelled(parts, self.label)
        check_disjoint(data, f"{self.path}/{{{','.join(self.files)}}}")
        return data


class LastFMLightGCN(DataSource):
    """LightGCN's LastFM: ``data1.txt`` / ``test1.txt`` (``user<TAB>artist<TAB>value``, 1-based)."""

    files = ("data1.txt", "test1.txt")
    homepage = "https://github.com/gusye1234/LightGCN-PyTorch/tree/master/data/lastfm"

    def __init__(self, path, value_as_rating: bool = False) -> None:
        super().__init__(path, value_as_rating=value_as_rating)
        self.value_as_rating = bool(value_as_rating)

    def load(self) -> Interactions:
        parts = []
        for label, name in ((TRAIN, "data1.txt"), (TEST, "test1.txt")):
            frame = read_delimited(
                self.path / name,
                "\t",
                ["user", "item", "value"],
                dtype={"user": "int64", "item": "int64", "value": "float32"},
            )
            parts.append((label, frame["user"].to_numpy(), frame["item"].to_numpy(), frame["value"].to_numpy()))
        data = labelled(parts, "lastfm-lightgcn", rating=self.value_as_rating)
        check_disjoint(data, f"{self.path}/{{data1.txt,test1.txt}}")
        return data


class GowallaLightGCN(UserListSplit):
    """Gowalla as split by NGCF/LightGCN: 29,858 users, 40,981 items, 810,128 train + 217,242 test."""

    label = "gowalla-lightgcn"
