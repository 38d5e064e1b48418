"""NCF's leave-one-out files (He et al., Neural Collaborative Filtering, WWW 2017).

``<prefix>.train.rating`` (``user<TAB>item<TAB>rating<TAB>timestamp``), ``<prefix>.test.rating``
(one held-out pair per user, same format) and ``<prefix>.test.negative`` (``(user,item)<TAB>`` then
the sampled negatives, tab-separated). Ids are already dense and 0-based and are kept as they are.

The split is predefined (``split_labels``: 0 train, 2 test) and the negatives are kept as the fixed
candidate set (``candidates: int64[n_users, 99]``). NCF has no validation set; validation must not
be the test set, so with ``valid: latest`` (the default) each user's latest training interaction
(largest timestamp; among equal timestamps the last line) is held out as validation (label 1) and
ranked against the same fixed negatives. ``valid: random`` holds out one uniformly drawn training
interaction per user instead (a fixed draw, seed 0), as Ferrari Dacrema et al. (RecSys 2019) carve
their validation item from NCF's training file. ``valid: none`` keeps every training row for training and
leaves validation empty (for models without model selection, e.g. Pop, whose NCF numbers are
computed on the full training file). The splitter ``ncf_loo`` turns the labels into a ``Split``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recframe.api import TEST, TRAIN, VALID, Interactions
from recframe.api import DataSource
from recframe.api import Split
from recframe.api import ConfigError, DataError
from recframe_datasets.movielens import read_table

VALID_RULES = ("latest", "random", "none")
#: the seed of the one held-out training interaction per user of ``valid: random``
RANDOM_VALID_SEED = 0


def read_negatives(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(users int64[U], test items int64[U], negatives int64[U, C])`` from a ``.test.negative`` file."""
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise DataError(f"{path} is empty")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise DataError(
            f"{path}: lines have different numbers of fields ({sorted(widths)}); expected "
            f"'(user,item)' then the same number of negatives on every line"
        )
    try:
        pairs = np.array([r[0].strip("()").split(",") for r in rows], dtype=np.int64)
        negatives = np.array([r[1:] for r in rows], dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{path}: cannot parse ({exc}); expected '(user,item)<TAB>neg<TAB>neg...'") from None
    return pairs[:, 0], pairs[:, 1], negatives


class NCFLeaveOneOut(DataSource):
    """NCF's train / test / test-negative files, with a declared validation rule."""

    homepage = "https://github.com/hexiangnan/neural_collaborative_filtering"

    def __init__(self, path, prefix: str = "ml-1m", valid: str = "latest") -> None:
        super().__init__(path, prefix=prefix, valid=valid)
        if valid not in VALID_RULES:
            raise ValueError(f"valid must be one of {', '.join(VALID_RULES)}, got {valid!r}")
        self.prefix, self.valid = prefix, valid

    def source_files(self) -> list[Path]:
        return [self.path / f"{self.prefix}.{part}" for part in ("train.rating", "test.rating", "test.negative")]

    def load(self) -> Interactions:
        train_f, test_f, neg_f = self.source_files()
        cols = ["user", "item", "rating", "timestamp"]
        dtypes = {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"}
        train = read_table(train_f, "\t", cols, dtype=dtypes)
        test = read_table(test_f, "\t", cols, dtype=dtypes)
        neg_users, neg_items, negatives = read_negatives(neg_f)
        n_users = int(max(train.user.max(), test.user.max(), neg_users.max())) + 1
        n_items = int(max(train.item.max(), test.item.max(), negatives.max())) + 1
        labels = np.concatenate([np.full(len(train), TRAIN, np.int8), np.full(len(test), TEST, np.int8)])
        if self.valid == "latest":
            order = np.lexsort((np.arange(len(train)), train.timestamp.to_numpy(), train.user.to_numpy()))
            last = order[np.r_[train.user.to_numpy()[order][1:] != train.user.to_numpy()[order][:-1], True]]
            labels[last] = VALID
        elif self.valid == "random":
            labels[random_one_per_user(train.user.to_numpy(), RANDOM_VALID_SEED)] = VALID
        test_pairs = dict(zip(test.user.to_numpy().tolist(), test.item.to_numpy().tolist()))
        if any(test_pairs.get(u) != i for u, i in zip(neg_users.tolist(), neg_items.tolist())):
            raise DataError(f"{neg_f}: its (user,item) pairs do not match {test_f.name}")
        candidates = np.full((n_users, negatives.shape[1]), -1, dtype=np.int64)
        candidates[neg_users] = negatives
        both = pd.concat([train, test], ignore_index=True)
        return Interactions(
            user=both.user.to_numpy(),
            item=both.item.to_numpy(),
            n_users=n_users,
            n_items=n_items,
            rating=both.rating.to_numpy(np.float32),
            timestamp=both.timestamp.to_numpy(np.int64),
            split_labels=labels,
            candidates=candidates,
            meta={"source": "ncf", "valid_rule": self.valid},
        )


def random_one_per_user(users: np.ndarray, seed: int) -> np.ndarray:
    """Row positions ``int64[n distinct users]``: one uniformly drawn row of each user in ``users: int64[N]``."""
    keys = np.random.default_rng(seed).random(len(users))
    order = np.lexsort((keys, users))  # by user, then by a random key
    firsts = np.r_[True, users[order][1:] != users[order][:-1]]
    return order[firsts]


def ncf_loo(data: Interactions, seed: int = 0) -> Split:
    """The predefined split of ``split_labels`` with the data's fixed candidates (NCF leave-one-out)."""
    if data.split_labels is None:
        raise ConfigError(
            "protocol.split.name 'ncf_loo' needs a dataset with predefined split labels (e.g. data=ncf-ml-1m)"
        )
    labels = data.split_labels
    return Split(
        train=data.subset(labels == TRAIN),
        valid=data.subset(labels == VALID),
        test=data.subset(labels == TEST),
        candidates=data.candidates,
    )
