"""Parameter and byte counts of any model without plugin code: dense, torch sparse, numpy and scipy."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from recframe.api import ClosedFormRecommender, DatasetInfo, Interactions, Recommender, model_size
from recframe.compression import storage
from recframe.models import count_parameters, model_bytes


def info(n_users: int = 5, n_items: int = 7) -> DatasetInfo:
    train = Interactions(user=np.array([0, 1]), item=np.array([2, 3]), n_users=n_users, n_items=n_items)
    return DatasetInfo(n_users, n_items, train, np.bincount(train.item, minlength=n_items))


class Mixed(Recommender):
    """A dense embedding, a torch sparse COO buffer, a non-persistent cache and a CSR buffer."""

    def __init__(self, data: DatasetInfo) -> None:
        super().__init__(data)
        self.items = nn.Embedding(self.n_items, 3)  # 21 float32
        coo = torch.sparse_coo_tensor(
            torch.tensor([[0, 1, 4], [2, 0, 6]]),
            torch.tensor([1.0, 2.0, 3.0]),
            (5, 7),
            dtype=torch.float64,
            check_invariants=True,
        )
        self.register_buffer("links", coo)  # 3 float64 values, a 2 x 3 int64 index
        self.register_buffer("cache", torch.zeros(100), persistent=False)  # not stored
        csr = torch.tensor([[0.0, 1.0], [2.0, 0.0]]).to_sparse_csr()
        self.register_buffer("graph", csr)  # 2 float32 values, 3 int64 row pointers, 2 int64 columns


class NumpyWeights(ClosedFormRecommender):
    """A closed-form model with numpy/scipy weights and the training matrix it scores from."""

    def fit(self, train: Interactions) -> None:
        self.bias = np.zeros(self.n_items, dtype=np.float32)  # 7 x 4 bytes
        self.weights = sp.csr_matrix(np.eye(self.n_items, dtype=np.float64))  # 7 values; int32 indices
        self.history = train.to_csr()  # data, not weights
        self.note = "not an array"


def test_dense_and_torch_sparse_tensors_are_counted():
    model = Mixed(info())
    numbers = 21 + 3 + 2
    nbytes = 21 * 4 + (3 * 8 + 6 * 8) + (2 * 4 + 3 * 8 + 2 * 8)
    assert model_size(model) == (numbers, nbytes)
    assert (count_parameters(model), model_bytes(model)) == (numbers, nbytes)


def test_numpy_and_scipy_attributes_count_but_the_history_does_not():
    model = NumpyWeights(info())
    model.fit(info().train)
    w = model.weights
    expected = (7 + 7, 7 * 4 + w.data.nbytes + w.indices.nbytes + w.indptr.nbytes)
    assert w.data.nbytes == 56 and model.history is not None
    assert model_size(model) == expected
    assert storage(model) == expected  # the compression rows count the same way


def test_unstored_names_other_attributes_and_storage_overrides_everything():
    class Declared(NumpyWeights):
        unstored = ("history", "bias")

    model = Declared(info())
    model.fit(info().train)
    assert model_size(model)[0] == 7

    class Reports(NumpyWeights):
        def storage(self):
            return 3, 12

    reporting = Reports(info())
    reporting.fit(info().train)
    assert model_size(reporting) == (3, 12) and count_parameters(reporting) == 3 and model_bytes(reporting) == 12


def test_a_submodule_reporting_none_is_walked_inside_a_compressed_model():
    from recframe.api import Measured

    inner = Mixed(info())
    wrapped = Measured(inner)
    assert storage(wrapped) == model_size(inner) == model_size(wrapped)
