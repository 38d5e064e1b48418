"""Mult-VAE: a variational autoencoder over users' item rows with a multinomial likelihood.

D. Liang, R. G. Krishnan, M. D. Hoffman, T. Jebara. "Variational Autoencoders for Collaborative
Filtering." WWW 2018.

Encoder: L2-normalised, dropped-out row ``x_u: [I]`` -> tanh MLP -> ``(mu, logvar): [d]``; decoder:
``z`` -> tanh MLP -> logits ``[I]``. Trained with the multinomial loss plus ``beta`` times the KL
divergence, ``beta`` annealed linearly to ``anneal_cap`` over ``total_anneal_steps`` updates.
Scores for a user are the decoder's logits from the user's training row (the mean ``z``).
``latent_dim`` is the size of ``z``; RecBole's ``latent_dimension`` is twice it (the encoder's output
holds ``mu`` and ``logvar``), so its default 128 is ``latent_dim: 64`` here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recframe.models import DatasetInfo, Recommender


def tanh_mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class MultVAE(Recommender):
    """Encoder ``n_items -> hidden_sizes -> 2 * latent_dim``, mirrored decoder."""

    batch_kind = "listwise"

    def __init__(self, info: DatasetInfo, hidden_sizes: Sequence[int] = (600,), latent_dim: int = 128,
                 dropout: float = 0.5, anneal_cap: float = 0.2, total_anneal_steps: int = 200000) -> None:
        super().__init__(info)
        self.latent_dim, self.dropout = int(latent_dim), float(dropout)
        self.anneal_cap, self.total_anneal_steps = float(anneal_cap), int(total_anneal_steps)
        self.encoder = nn.Sequential(tanh_mlp([self.n_items, *hidden_sizes]), nn.Tanh(),
                                     nn.Linear(hidden_sizes[-1], 2 * self.latent_dim))
        self.decoder = tanh_mlp([self.latent_dim, *reversed(hidden_sizes), self.n_items])
        for layer in self.modules():  # Xavier-normal weights and zero biases, as the paper's code
            if isinstance(layer, nn.Linear):
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        history = info.train.to_csr()
        history.data[:] = 1.0
        self.history = history

    def encode(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        h = F.dropout(F.normalize(rows, dim=1), self.dropout, training=self.training)
        mu, logvar = self.encoder(h).chunk(2, dim=1)
        return mu, logvar

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        mu, logvar = self.encode(batch["row"])
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
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
