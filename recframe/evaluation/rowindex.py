"""The non-zeros of a batch of CSR rows as flat positions into the batch's dense score block.

Full ranking masks the seen items of a batch of ``B`` users in ``scores: float[B, n_items]`` and
looks up which of the top-``K`` items are relevant. Both need, per batch, the non-zeros of those
users' rows as positions ``b * n_items + item`` into the flattened block: with them, masking is one
``index_fill_`` on ``scores.view(-1)`` (no ``[B, n_items]`` mask, no two-tensor advanced index) and
the hits are one ``searchsorted`` of the top-``K`` positions into the sorted relevant positions.

:class:`FlatRows` computes these positions once for all users a target ranks (``RankingTarget.users``,
sorted ascending) and then serves any batch that is a contiguous run of those users (which is what
:meth:`RankingEvaluator.evaluate` and validation's ``UserBatches`` produce) by slicing and one
subtraction. Other batches (e.g. DDP's every-``world``-th user) are computed from the CSR rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def rows_to_coo(csr: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(batch_row, column) index pairs of the non-zeros of ``csr[rows]`` (no sparse slicing)."""
    starts, ends = csr.indptr[rows], csr.indptr[rows + 1]
    counts = ends - starts
    batch_row = np.repeat(np.arange(len(rows)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return batch_row, csr.indices[np.repeat(starts, counts) + offsets]


def flat_positions(csr: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """``int64[nnz]``, sorted: ``b * n_cols + column`` for every non-zero of ``csr[rows[b]]``."""
    r, c = rows_to_coo(csr, np.asarray(rows, dtype=np.int64))
    flat = r.astype(np.int64) * csr.shape[1] + c
    flat.sort()
    return flat


class FlatRows:
    """Flat positions of the non-zeros of ``csr``'s rows ``users`` (``int64[n]``, sorted ascending).

    ``flat: int64[nnz]`` holds ``position_in_users * n_cols + column`` (sorted) and
    ``ptr: int64[n + 1]`` where each user's entries start, so a run ``users[a:a + B]`` is
    ``flat[ptr[a]:ptr[a + B]] - a * n_cols``.
    """

    def __init__(self, csr: sp.csr_matrix, users: np.ndarray) -> None:
        self.csr, self.users, self.n_cols = csr, np.asarray(users, dtype=np.int64), int(csr.shape[1])
        self.flat = flat_positions(csr, self.users)
        self.ptr = np.concatenate(([0], np.cumsum(np.diff(csr.indptr)[self.users]))).astype(np.int64)

    def run_start(self, users: np.ndarray) -> int | None:
        """``a`` when ``users`` equals ``self.users[a:a + len(users)]``, else ``None``."""
        n = len(users)
        if n == 0:
            return None
        a = int(np.searchsorted(self.users, users[0]))
        if a + n <= len(self.users) and np.array_equal(self.users[a : a + n], users):
            return a
        return None

    def block(self, users: np.ndarray) -> np.ndarray:
        """``int64[nnz]``, sorted: ``b * n_cols + column`` for every non-zero of row ``users[b]``."""
        a = self.run_start(users)
        if a is None:
            return flat_positions(self.csr, users)
        return self.flat[self.ptr[a] : self.ptr[a + len(users)]] - a * self.n_cols
