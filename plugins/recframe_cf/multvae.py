"""Mult-VAE: a variational autoencoder over users' item rows with a multinomial likelihood.

D. Liang, R. G. Krishnan, M. D. Hoffman, T. Jebara. "Variational Autoencoders for Collaborative
Filtering." WWW 2018.

Encoder: L2-normalised, dropped-out row ``x_u: [I]`` -> tanh MLP -> ``(mu, logvar): [d]``; decoder:
``z`` -> tanh MLP -> logits ``[I]``. Trained with the multinomial loss plus ``beta`` times the KL
divergence, ``beta`` annealed linearly to ``anneal_cap`` over ``total_anneal_steps`` updates.
Training draws ``z = mu + epsilon_std * eps * exp(logvar / 2)`` with ``eps ~ N(0, I)``:
``epsilon_std: 1`` is the paper's reparameterisation; RecBole's MultiVAE draws its noise with
standard deviation 0.01 (``normal_(mean=0, std=0.01)``), an almost deterministic code.
Scores for a user are the decoder's logits from the user's training row (the mean ``z``).

Rows are sparse (a user holds a few percent of the items), so the input is normalised and dropped
out on its non-zero entries only (the same function as ``F.dropout(F.normalize(x))``): drawing a
dropout mask over a dense ``[4096, 3123]`` row block cost more than the rest of an update on CPU.
``latent_dim`` is the size of ``z``; RecBole's ``latent_dimension`` is twice it (the encoder's output
holds ``mu`` and ``logvar``), so its default 128 is ``latent_dim: 64`` here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from recframe.api import DatasetInfo, Recommender


def tanh_mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def normalized_dropout(rows: Tensor, dropout: float, nonzero: Tensor | None = None) -> Tensor:
    """``F.dropout(F.normalize(rows), dropout)`` for sparse ``rows: float[B, n_items]``, drawing the
    dropout mask only for the non-zero entries (zeros stay zero either way), at positions
    ``nonzero: long[2, nnz]`` (found when not given). Returns a new ``float[B, n_items]``."""
    row_of, column = nonzero if nonzero is not None else rows.nonzero(as_tuple=True)
    values = rows[row_of, column]
    norms = torch.zeros(len(rows), dtype=values.dtype, device=values.device).index_add_(0, row_of, values * values)
    values = values / norms.sqrt().clamp_min(1e-12)[row_of]
    if dropout > 0:
        keep = torch.rand(values.shape, device=values.device) >= dropout
        values = values * keep / (1.0 - dropout)
    out = torch.zeros_like(rows)
    out[row_of, column] = values
    return out


class MultVAE(Recommender):
    """Encoder ``n_items -> hidden_sizes -> 2 * latent_dim``, mirrored decoder."""

    batch_kind = "listwise"

    def __init__(
        self,
        info: DatasetInfo,
        hidden_sizes: Sequence[int] = (600,),
        latent_dim: int = 128,
        dropout: float = 0.5,
        anneal_cap: float = 0.2,
        total_anneal_steps: int = 200000,
        epsilon_std: float = 1.0,
    ) -> None:
        super().__init__(info)
        if float(epsilon_std) < 0:
            raise ValueError(f"epsilon_std must be >= 0, got {epsilon_std}")
        self.epsilon_std = float(epsilon_std)
        self.latent_dim, self.dropout = int(latent_dim), float(dropout)
        self.anneal_cap, self.total_anneal_steps = float(anneal_cap), int(total_anneal_steps)
        self.encoder = nn.Sequential(
            tanh_mlp([self.n_items, *hidden_sizes]), nn.Tanh(), nn.Linear(hidden_sizes[-1], 2 * self.latent_dim)
        )
        self.decoder = tanh_mlp([self.latent_dim, *reversed(hidden_sizes), self.n_items])
        for layer in self.modules():  # Xavier-normal weights and zero biases, as the paper's code
            if isinstance(layer, nn.Linear):
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        history = info.train.to_csr()
        history.data[:] = 1.0
        self.history = history

    def encode(self, rows: Tensor, nonzero: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``float[B, n_items]`` (non-zero positions ``long[2, nnz]`` if known) ``-> (mu, logvar)``,
        each ``float[B, latent_dim]``."""
        h = normalized_dropout(rows, self.dropout if self.training else 0.0, nonzero)
        mu, logvar = self.encoder(h).chunk(2, dim=1)
        return mu, logvar

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        mu, logvar = self.encode(batch["row"], batch.get("row_nonzero"))
        z = mu + self.epsilon_std * torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        beta = min(self.anneal_cap, float(self.updates) / max(self.total_anneal_steps, 1))
        if self.training:
            self.updates += 1
        return {"logits": self.decoder(z), "regularization": beta * kl}

    def score_all(self, users: Tensor) -> Tensor:
        """``long[B] -> float[B, n_items]``: decoder logits from the users' training rows."""
        rows = torch.from_numpy(self.history[users.cpu().numpy()].toarray().astype(np.float32)).to(users.device)
        mu, _ = self.encode(rows)
        return self.decoder(mu)

    def row_inputs(self, rows: Tensor) -> Tensor:
        """``float[B, n_items]``: the encoder's input for history rows, their L2-normalised copy (no dropout)."""
        return normalized_dropout(rows, 0.0)

    def score_rows(self, inputs: Tensor) -> Tensor:
        """``float[B, n_items] -> float[B, n_items]``: decoder logits at the mean code of normalised rows
        ``inputs`` (what :meth:`score_all` computes after normalising), differentiable in ``inputs``."""
        mu, _ = self.encoder(inputs).chunk(2, dim=1)
        return self.decoder(mu)
