"""The result of splitting: train, validation and test tables in one id space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recframe.data.interactions import Interactions


@dataclass
class Split:
    """Train/valid/test :class:`Interactions` sharing ``n_users`` and ``n_items``.

    ``candidates`` (``int64[n_users, C]``, ``-1`` padded) fixes the negatives a sampled evaluation
    ranks each held-out item against; ``None`` means full ranking or generated candidates.
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    candidates: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return self.train.n_users

    @property
    def n_items(self) -> int:
        return self.train.n_items

    def part(self, name: str) -> Interactions:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]

    def seen_before(self, name: str) -> sp.csr_matrix:
        """Items a user interacted with before ``name`` (masked when ranking for ``name``)."""
        if name == "valid":
            return self.train.to_csr()
        if name == "test":
            m = self.train.to_csr() + self.valid.to_csr()
            m.data[:] = 1.0
            return m
        raise ValueError(f"no mask is defined for split part '{name}'")

    def history(self, name: str) -> Interactions:
        """The interactions a history-reading model sees when ``name`` is ranked: train for ``valid``,
        train and validation (with their timestamps) for ``test``. Never the part itself."""
        if name == "valid":
            return self.train
        if name == "test":
            from recframe.data.sequences import concat

            return concat([self.train, self.valid])
        raise ValueError(f"no history is defined for split part '{name}'")

    def counts(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}
