"""LightGCN: linear propagation of embeddings over the user-item graph.

X. He, K. Deng, X. Wang, Y. Li, Y. Zhang, M. Wang. "LightGCN: Simplifying and Powering Graph
Convolution Network for Recommendation." SIGIR 2020.

``E^(k+1) = D^-1/2 A D^-1/2 E^(k)`` on the bipartite graph (a sparse ``(U+I) x (U+I)`` matrix),
final embeddings are the mean of ``E^(0..K)``, ``s(u, i) = <e_u, e_i>``. Trained with BPR plus
``reg_weight`` times a norm of the batch's layer-0 embeddings divided by the batch size:
``reg_norm: squared`` is the paper's ``1/2 ||E||^2``; ``reg_norm: frobenius`` is RecBole's ``EmbLoss``
(``require_pow: False``), the sum of the plain Frobenius norms of the user, positive and negative
blocks, a much weaker penalty once embeddings grow. ``init: xavier_uniform`` is RecBole's
initialisation, ``init: normal`` (std ``init_std``) the reference implementation's.
Propagation runs on the embeddings' device (scipy on the CPU, cuSPARSE on CUDA).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender


def normalized_adjacency(train_csr: sp.csr_matrix) -> sp.csr_matrix:
    """Symmetric-normalised adjacency ``D^-1/2 A D^-1/2`` of the user-item graph (scipy CSR)."""
    n_users, n_items = train_csr.shape
    r = train_csr.copy()
    r.data[:] = 1.0
    a = sp.bmat([[None, r], [r.T, None]], format="coo")
    degree = np.asarray(a.sum(axis=1)).ravel()
    inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    values = (inv_sqrt[a.row] * a.data * inv_sqrt[a.col]).astype(np.float32)
    return sp.csr_matrix((values, (a.row, a.col)), shape=a.shape)


class SymmetricAdjacency:
    """A symmetric sparse ``A: float[n, n]`` that multiplies dense ``x: float[n, d]`` on x's device.

    On the CPU the product is scipy's CSR product, about three times faster than
    ``torch.sparse.mm`` here; on other devices it is a torch sparse CSR product (cuSPARSE on CUDA),
    with ``A`` copied to each device once and kept. The copies are a cache, not model state.
    """

    def __init__(self, matrix: sp.csr_matrix) -> None:
        self.matrix = matrix.tocsr()
        self._on_device: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    def torch_csr(self, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
        """``A`` as a torch sparse CSR tensor of ``dtype`` on ``device`` (made once per pair)."""
        key = (torch.device(device), dtype)
        if key not in self._on_device:
            m = self.matrix
            with warnings.catch_warnings():  # beta-state and invariant-check notices: a product is all we use
                warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
                warnings.filterwarnings("ignore", message=".*Sparse invariant checks are implicitly disabled.*")
                self._on_device[key] = torch.sparse_csr_tensor(
                    torch.from_numpy(m.indptr.astype(np.int64)).to(device),
                    torch.from_numpy(m.indices.astype(np.int64)).to(device),
                    torch.from_numpy(m.data).to(device=device, dtype=dtype),
                    size=m.shape,
                    check_invariants=False,
                )
        return self._on_device[key]

    def __getstate__(self) -> dict:
        """Copies and pickles carry the scipy matrix only (torch cannot deep-copy sparse CSR tensors)."""
        return {"matrix": self.matrix}

    def __setstate__(self, state: dict) -> None:
        self.matrix, self._on_device = state["matrix"], {}

    def __matmul__(self, x: Tensor) -> Tensor:
        """``A @ x`` for ``x: float[n, d]``, on x's device and in x's dtype, without autograd."""
        x = x.detach()
        if x.device.type == "cpu":
            return torch.from_numpy(self.matrix @ x.numpy()).to(x.dtype)
        return self.torch_csr(x.device, x.dtype) @ x


class SymmetricSpMM(torch.autograd.Function):
    """``y = A x`` for a :class:`SymmetricAdjacency` ``A``; by symmetry the gradient is ``A g``."""

    @staticmethod
    def forward(ctx, x: Tensor, adjacency: SymmetricAdjacency) -> Tensor:  # type: ignore[override]
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return ctx.adjacency @ grad, None


class LightGCN(Recommender):
    """``num_layers`` propagation steps over embeddings of size ``embedding_dim``."""

    batch_kind = "pairwise"

    param_aliases = {"n_layers": "num_layers"}  # deprecated config names, still accepted

    def __init__(
        self,
        info: DatasetInfo,
        embedding_dim: int = 64,
        num_layers: int = 2,
        reg_weight: float = 1e-4,
        reg_norm: str = "squared",
        init: str = "xavier_uniform",
        init_std: float = 0.1,
    ) -> None:
        super().__init__(info)
        if int(num_layers) < 0:
            raise ValueError(f"num_layers must be >= 0, got {num_layers}")
        if reg_norm not in ("squared", "frobenius"):
            raise ValueError(f"reg_norm must be 'squared' (the paper) or 'frobenius' (RecBole), got {reg_norm!r}")
        if init not in ("xavier_uniform", "normal"):
            raise ValueError(
                f"init must be 'xavier_uniform' (RecBole) or 'normal' (the reference code, std init_std), got {init!r}"
            )
        self.num_layers, self.reg_weight, self.reg_norm = int(num_layers), float(reg_weight), reg_norm
        self.embedding = nn.Embedding(self.n_users + self.n_items, embedding_dim)
        with torch.no_grad():  # per table (users, items), as two separate embeddings
            for table in (self.embedding.weight[: self.n_users], self.embedding.weight[self.n_users :]):
                if init == "normal":
                    nn.init.normal_(table, std=float(init_std))
                else:
                    nn.init.xavier_uniform_(table)
        self.adjacency = SymmetricAdjacency(normalized_adjacency(info.train.to_csr()))
        self._propagated: tuple | None = None  # (key, (users, items)): see propagate()

    def propagate(self) -> tuple[Tensor, Tensor]:
        """Final user ``[U, d]`` and item ``[I, d]`` embeddings.

        In eval mode without gradients (evaluation, scoring), for a plain ``nn.Embedding`` table, the
        result is kept and reused, as a served LightGCN would precompute it. The copy is dropped
        whenever the model's mode is set (``train()``/``eval()``, which Lightning calls around every
        validation) and when a state dict is loaded; its key (the table's storage and autograd
        version counter) is only a further guard, since a fused optimizer's step does not advance
        that counter and writes through ``weight.data`` bypass it: weights changed while the model
        stays in eval mode are not seen until the mode is set again. Compressed or pruned tables
        are propagated anew on every call.
        """
        if (
            self.training
            or not self._plain_table()
            or (torch.is_grad_enabled() and self.embedding.weight.requires_grad)
        ):
            return self._propagate()
        weight = self.embedding.weight
        key = (weight.data_ptr(), weight._version, weight.device, weight.dtype)
        cached = self._propagated
        if cached is None or cached[0] != key:
            cached = self._propagated = (key, self._propagate())
        return cached[1]

    def train(self, mode: bool = True) -> "LightGCN":
        self._propagated = None
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self._propagated = None
        super()._load_from_state_dict(*args, **kwargs)

    def _plain_table(self) -> bool:
        """Whether the table is a plain ``nn.Embedding`` read as is (no hooks recompute it)."""
        e = self.embedding
        return type(e) is nn.Embedding and not e._forward_pre_hooks and not e._forward_hooks

    def table(self) -> Tensor:
        """The layer-0 embeddings ``float[U + I, d]``. A compressed or pruned table is read through
        its module (pruning's mask hook recomputes ``weight`` only when the module is called)."""
        if self._plain_table():
            return self.embedding.weight
        e = self.embedding
        device = next(itertools.chain(e.parameters(), e.buffers())).device
        return e(torch.arange(self.n_users + self.n_items, device=device))

    def _propagate(self) -> tuple[Tensor, Tensor]:
        layer = self.table()
        total = layer
        for _ in range(self.num_layers):
            layer = SymmetricSpMM.apply(layer, self.adjacency)
            total = total + layer
        final = total / (self.num_layers + 1)
        return final[: self.n_users], final[self.n_users :]

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        users, pos, neg = batch["user"], batch["pos_item"], batch["neg_item"]
        user_emb, item_emb = self.propagate()
        u = user_emb[users]
        pos_score = (u * item_emb[pos]).sum(-1)
        neg_score = torch.einsum("bd,bnd->bn", u, item_emb[neg])
        base = self.table()
        blocks = (base[users], base[self.n_users + pos], base[self.n_users + neg])
        if self.reg_norm == "squared":
            reg = sum(b.pow(2).sum() for b in blocks) / (2 * len(users))
        else:
            reg = sum(torch.linalg.vector_norm(b) for b in blocks) / len(users)
        return {"pos_score": pos_score, "neg_score": neg_score, "regularization": self.reg_weight * reg}

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``."""
        user_emb, item_emb = self.propagate()
        return user_emb[users] @ item_emb.T

    def score_factors(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(P[B, d], Q[n_items, d])``, the propagated embeddings, with ``score_all(users) = P @ Q.T``."""
        user_emb, item_emb = self.propagate()
        return user_emb[users], item_emb
