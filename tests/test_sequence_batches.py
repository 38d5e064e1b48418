"""Sequence batches and evaluation histories, checked cell by cell on toy tables."""

from __future__ import annotations

import numpy as np
import pytest

from recframe.data.interactions import Interactions
from recframe.data.sequences import PAD, concat, last_items, time_ordered
from recframe.errors import ConfigError
from recframe.plugins import registries
from recframe.training.sampling import NegativeSampler
from recframe.training.sequences import SequenceBatches

# user -> items in time order; rows are written out of time order on purpose
SEQUENCES = {0: [3, 1, 4, 5, 9, 2], 1: [7, 8], 2: [6], 3: [0, 2, 4, 6, 8, 10, 11]}


def toy(sequences=SEQUENCES, n_items=12) -> Interactions:
    users, items, stamps = [], [], []
    for u, seq in sequences.items():
        users += [u] * len(seq)
        items += seq
        stamps += [10 * t for t in range(len(seq))]
    order = np.random.default_rng(0).permutation(len(users))  # rows shuffled; timestamps carry the order
    return Interactions(
        user=np.array(users)[order],
        item=np.array(items)[order],
        n_users=len(sequences),
        n_items=n_items,
        timestamp=np.array(stamps)[order],
    )


def padded(seq, width):
    seq = list(seq)[-width:]
    return [PAD] * (width - len(seq)) + seq


def test_time_ordered_follows_timestamps_and_keeps_row_order_on_ties():
    items, starts, counts = time_ordered(toy())
    for u, seq in SEQUENCES.items():
        assert items[starts[u] : starts[u] + counts[u]].tolist() == seq
    tied = Interactions(
        user=np.array([0, 0, 0]), item=np.array([5, 3, 4]), n_users=1, n_items=6, timestamp=np.array([1, 0, 1])
    )
    assert time_ordered(tied)[0].tolist() == [3, 5, 4]


def test_last_items_pads_left_and_keeps_the_latest():
    out = last_items(toy(), max_len=4)
    assert out.tolist() == [padded(SEQUENCES[u], 4) for u in range(4)]
    assert last_items(toy(), max_len=4, drop_last=1).tolist() == [padded(SEQUENCES[u][:-1], 4) for u in range(4)]


def test_missing_timestamps_and_bad_max_len_are_config_errors():
    data = toy()
    data.timestamp = None
    with pytest.raises(ConfigError, match="no timestamps"):
        last_items(data, 5)
    with pytest.raises(ConfigError, match="model.max_len"):
        last_items(toy(), 0)


def test_sequence_batches_are_exact():
    data = toy()
    batches = SequenceBatches(data, batch_size=2, max_len=4, num_negatives=3, sampler=NegativeSampler(data), seed=5)
    rows = {}
    for batch in batches:
        for b, u in enumerate(batch["user"].tolist()):
            rows[u] = {k: batch[k][b].numpy() for k in ("seq", "pos_item", "neg_item")}
    assert sorted(rows) == [0, 1, 3]  # user 2 has one item: no target
    assert len(batches) == 2
    for u, row in rows.items():
        seq = SEQUENCES[u]
        assert row["seq"].tolist() == padded(seq[:-1], 4)  # inputs: all but the last, truncated to max_len
        assert row["pos_item"].tolist() == padded(seq[1:], 4)  # targets shifted by one
        has_target = row["pos_item"] != PAD
        assert (row["neg_item"][~has_target] == PAD).all()
        negs = row["neg_item"][has_target]
        assert negs.shape[1] == 3 and (negs >= 0).all() and not np.isin(negs, seq).any()


def test_sequence_batches_reshuffle_per_epoch_and_repeat_for_the_same_epoch():
    data = toy({u: list(range(u % 5, u % 5 + 6)) for u in range(40)}, n_items=60)
    batches = SequenceBatches(data, batch_size=8, max_len=5, num_negatives=1, sampler=NegativeSampler(data), seed=1)
    first = [b["user"].tolist() for b in batches]
    second = [b["user"].tolist() for b in batches]
    batches.set_epoch(0)
    again = [b["user"].tolist() for b in batches]
    assert first == again and first != second


def test_history_for_test_holds_the_valid_item_and_never_the_test_item():
    data = toy()
    split = registries().splitter.get("leave_one_out")(data, order="time")
    valid_hist = last_items(split.history("valid"), 10)
    test_hist = last_items(split.history("test"), 10)
    for u, seq in SEQUENCES.items():
        if len(seq) < 3:
            continue
        assert valid_hist[u][valid_hist[u] != PAD].tolist() == seq[:-2]
        assert test_hist[u][test_hist[u] != PAD].tolist() == seq[:-1]  # valid item last, test item absent
    assert split.history("valid") is split.train
    assert len(concat([split.train, split.valid])) == len(split.train) + len(split.valid)
