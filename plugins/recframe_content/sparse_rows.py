"""Row-sparse item content held as three plain tensors (CSR), for representations such as TF-IDF.

A TF-IDF matrix over the ML-1M titles is ``3,883 x 4,541`` with a few non-zeros per row: dense
float32 it takes 70.5 MB, as CSR 0.14 MB. The three tensors (``crow: long[n_rows + 1]``,
``col: long[nnz]``, ``val: float32[nnz]``) are ordinary dense tensors, so they go into state dicts
and byte counts like any buffer, and gathering rows is vectorised index arithmetic.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def csr_tensors(x: sp.spmatrix) -> tuple[Tensor, Tensor, Tensor]:
    """``scipy CSR [n, d] -> (crow long[n + 1], col long[nnz], val float32[nnz])``."""
    x = sp.csr_matrix(x, dtype=np.float32)
    x.sort_indices()
    return (
        torch.from_numpy(x.indptr.astype(np.int64)),
        torch.from_numpy(x.indices.astype(np.int64)),
        torch.from_numpy(x.data.astype(np.float32)),
    )


def gather(crow: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Positions in ``col``/``val`` of the entries of ``rows`` (``long[B]``), and each row's start offset.

    Returns ``(positions long[nnz_B], offsets long[B])``: row ``b``'s entries are
    ``positions[offsets[b]:offsets[b + 1]]``, as ``F.embedding_bag`` expects.
    """
    starts = crow[rows]
    lengths = crow[rows + 1] - starts
    offsets = torch.cumsum(lengths, 0) - lengths
    total = int(lengths.sum())
    within = torch.arange(total, device=crow.device) - torch.repeat_interleave(offsets, lengths, output_size=total)
    return torch.repeat_interleave(starts, lengths, output_size=total) + within, offsets


def project_rows(crow: Tensor, col: Tensor, val: Tensor, rows: Tensor | None, weight: Tensor) -> Tensor:
    """``x[rows] @ weight.T`` for the sparse ``x``: ``weight float[out, d] -> float[B, out]`` (all rows if None).

    The same value (and gradient for ``weight``) as ``nn.Linear(d, out, bias=False)`` applied to the
    dense rows, computed as a weighted ``embedding_bag`` over the non-zero columns.
    """
    if rows is None:
        positions, offsets = torch.arange(len(col), device=col.device), crow[:-1]
    else:
        shape = rows.shape
        positions, offsets = gather(crow, rows.reshape(-1))
        return F.embedding_bag(
            col[positions], weight.T, offsets, mode="sum", per_sample_weights=val[positions]
        ).reshape(*shape, weight.shape[0])
    return F.embedding_bag(col[positions], weight.T, offsets, mode="sum", per_sample_weights=val[positions])


def dense_rows(crow: Tensor, col: Tensor, val: Tensor, rows: Tensor, width: int) -> Tensor:
    """The rows ``rows`` (``long[B]``) as a dense ``float32[B, width]`` block."""
    positions, offsets = gather(crow, rows)
    lengths = crow[rows + 1] - crow[rows]
    out = torch.zeros(len(rows), width, dtype=val.dtype, device=val.device)
    row_ids = torch.repeat_interleave(torch.arange(len(rows), device=val.device), lengths)
    out[row_ids, col[positions]] = val[positions]
    return out


def l2_normalise_rows(x: sp.spmatrix) -> sp.csr_matrix:
    """Rows of a sparse matrix scaled to unit L2 norm (in float64); empty rows stay empty. ``-> float32 CSR``."""
    x = sp.csr_matrix(x, dtype=np.float64)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ x, dtype=np.float32)


class ContentRows(nn.Module):
    """Item content ``float32[n_items, d]``, dense or CSR, with the two products content models need.

    ``project(rows, weight)`` is ``x[rows] @ weight.T`` (what ``nn.Linear`` on the rows gives);
    ``dense(rows)`` the rows as a dense block. Buffers are not persistent by default: content is data
    rebuilt from the dataset, not a learned parameter.
    """

    def __init__(self, x: np.ndarray | sp.spmatrix, persistent: bool = False) -> None:
        super().__init__()
        self.width = int(x.shape[1])
        self.n_rows = int(x.shape[0])
        self.is_sparse = bool(sp.issparse(x))
        if self.is_sparse:
            crow, col, val = csr_tensors(x)
            self.register_buffer("crow", crow, persistent=persistent)  # long[n_items + 1]
            self.register_buffer("col", col, persistent=persistent)  # long[nnz]
            self.register_buffer("val", val, persistent=persistent)  # float32[nnz]
        else:
            self.register_buffer(
                "dense_x", torch.as_tensor(np.asarray(x, dtype=np.float32)), persistent=persistent
            )  # float32[n_items, d]

    def project(self, rows: Tensor | None, weight: Tensor) -> Tensor:
        """``long[...] -> float[..., out]`` for ``weight float[out, d]``; all rows when ``rows`` is None."""
        if self.is_sparse:
            return project_rows(self.crow, self.col, self.val, rows, weight)
        x = self.dense_x if rows is None else self.dense_x[rows]
        return F.linear(x, weight)

    def dense(self, rows: Tensor) -> Tensor:
        """``long[B] -> float32[B, d]``."""
        if self.is_sparse:
            return dense_rows(self.crow, self.col, self.val, rows, self.width)
        return self.dense_x[rows]

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object, **kwargs: object) -> None:
        """Take the saved sizes: a fitted profile matrix has another number of non-zeros than a fresh one."""
        for name in ("crow", "col", "val", "dense_x"):
            key = prefix + name
            if key in state_dict and name in self._buffers and self._buffers[name].shape != state_dict[key].shape:
                self._buffers[name] = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)  # type: ignore[arg-type]
