"""Parameter and byte counts of any model, without plugin code.

What a model stores is counted by walking its module tree:

* every ``state_dict`` tensor (parameters and persistent buffers; non-persistent buffers are caches
  rebuilt from the data): a dense tensor counts ``numel`` numbers of ``element_size`` bytes; a torch
  sparse tensor counts its non-zero values, and its index tensors count toward the bytes;
* every numpy array and scipy sparse matrix held as a module attribute (the weights of a
  closed-form model fitted with numpy/scipy): an array counts its elements, a sparse matrix its
  stored values plus its index arrays' bytes;
* except attributes named in the module's ``unstored`` (default ``("history",)``: the training
  matrix a model keeps to score users is data, not part of the model).

A model may still report its size itself by overriding :meth:`recframe.models.Recommender.storage`
(returning ``(numbers, bytes)``; the default returns ``None``, meaning "walk me").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

DEFAULT_UNSTORED = ("history",)


def tensor_size(t: Tensor) -> tuple[int, int]:
    """``(numbers, bytes)`` of one tensor: dense, COO, CSR/CSC/BSR or BSC."""
    layout = t.layout
    if layout == torch.strided:
        return t.numel(), t.numel() * t.element_size()
    if layout == torch.sparse_coo:
        t = t.coalesce()
        values, indices = t.values(), t.indices()
        return values.numel(), values.numel() * values.element_size() + indices.numel() * indices.element_size()
    if layout in (torch.sparse_csr, torch.sparse_bsr):
        index = (t.crow_indices(), t.col_indices())
    else:  # sparse_csc, sparse_bsc
        index = (t.ccol_indices(), t.row_indices())
    values = t.values()
    return values.numel(), values.numel() * values.element_size() + sum(i.numel() * i.element_size() for i in index)


def array_size(value: Any) -> tuple[int, int] | None:
    """``(numbers, bytes)`` of a numpy array or scipy sparse matrix/array, ``None`` for anything else."""
    if isinstance(value, np.ndarray):
        return int(value.size), int(value.nbytes)
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a core dependency
        return None
    if not sp.issparse(value):
        return None
    if value.format in ("csr", "csc", "bsr"):
        return int(value.nnz), int(value.data.nbytes + value.indices.nbytes + value.indptr.nbytes)
    if value.format == "coo":
        return int(value.nnz), int(value.data.nbytes + value.row.nbytes + value.col.nbytes)
    return array_size(value.tocsr())


def own_arrays(module: nn.Module) -> list[Any]:
    """The numpy/scipy attributes of ``module`` that count as stored (not those in ``unstored``)."""
    skip = set(getattr(module, "unstored", DEFAULT_UNSTORED))
    return [v for k, v in vars(module).items() if k not in skip and array_size(v) is not None]


def walked_size(model: nn.Module) -> tuple[int, int]:
    """``(numbers, bytes)`` from the ``state_dict`` tensors and every module's stored arrays."""
    numbers = nbytes = 0
    for t in model.state_dict().values():
        if isinstance(t, Tensor):
            n, b = tensor_size(t)
            numbers, nbytes = numbers + n, nbytes + b
    for module in model.modules():
        for value in own_arrays(module):
            n, b = array_size(value)  # type: ignore[misc]
            numbers, nbytes = numbers + n, nbytes + b
    return numbers, nbytes


def model_size(model: nn.Module) -> tuple[int, int]:
    """``model.storage()`` when the model reports its size, else :func:`walked_size`."""
    report = getattr(model, "storage", None)
    reported = report() if callable(report) else None
    if reported is not None:
        return int(reported[0]), int(reported[1])
    return walked_size(model)


__all__ = ["model_size", "walked_size", "tensor_size", "array_size", "own_arrays", "DEFAULT_UNSTORED"]
