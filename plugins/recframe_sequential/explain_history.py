"""Explanations of next-item models over the user's history positions: gradient x input, attention
and integrated gradients.

* ``gradient_input`` (any :class:`SequentialRecommender`: SASRec, GRU4Rec): the weight of history
  position ``t`` is ``<e_t, d s(i) / d e_t>`` for the input item embedding ``e_t`` (Shrikumar et al.,
  *Not Just a Black Box*, 2016); a first-order split of the score.
* ``attention`` (SASRec, W.-C. Kang and J. McAuley, ICDM 2018): the last block's attention of the
  latest position over the history, averaged over heads (what the final state reads directly).
* ``integrated_gradients`` (any sequential model): integrated gradients of the score over the input
  item embeddings from a zero baseline (recframe.api.integrated_gradients, Captum when installed);
  they sum to ``s(i) - s_baseline(i)`` up to the integration error.

Units are the positions of the user's history window (``model.history[user]``, the latest
``max_len`` items, as scored); removing some re-encodes the window without them (the later items
move up, as the model's own fold-in of a shorter history).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, cast

import numpy as np
import torch
from torch import Tensor, nn

from recframe.api import Explainer, HistoryItemReason, Reason, integrated_gradients
from recframe_sequential.base import SequentialRecommender


@contextmanager
def _embedding_hook(model: SequentialRecommender, fn: Callable[[Tensor], Tensor | None]):
    """Call ``fn(output)`` on the input item embeddings of every ``encode`` (its return replaces them)."""
    handle = model.item_embedding.register_forward_hook(lambda _m, _i, out: fn(out))
    try:
        yield
    finally:
        handle.remove()


class HistoryPositions(Explainer):
    """What the sequential explainers share: units are history positions, rescoring is a shorter window."""

    models: ClassVar[tuple[str, ...]] = ("sasrec", "gru4rec")
    unit_kind = "history_item"

    def supports(self, model: Any) -> bool:
        return isinstance(model, SequentialRecommender)

    def window(self, model: SequentialRecommender, user: int) -> np.ndarray:
        """``int64[n]``: the user's history window (padding dropped), oldest first."""
        row = model.history[user].cpu().numpy()
        return row[row >= 0].astype(np.int64)

    def units(self, model: Any, user: int) -> np.ndarray:
        return np.arange(len(self.window(model, user)), dtype=np.int64)

    def _sequence(self, model: SequentialRecommender, items: np.ndarray) -> Tensor:
        seq = torch.full((1, model.max_len), -1, dtype=torch.long, device=model.item_embedding.weight.device)
        if len(items):
            seq[0, model.max_len - len(items) :] = torch.as_tensor(items[-model.max_len :])
        return seq

    @torch.no_grad()
    def rescore(self, model: Any, user: int, removed: Sequence[int]) -> Tensor:
        window = self.window(model, user)
        kept = np.delete(window, np.asarray(list(removed), dtype=np.int64))
        if len(kept) == 0:
            return torch.zeros(model.n_items, dtype=torch.float64)
        state = model.encode(self._sequence(model, kept))[:, -1, :]
        return (state @ model.item_weights().T).view(-1).double().cpu()

    @torch.no_grad()
    def rescore_many(self, model: Any, user: int, removals: Sequence[Sequence[int]]) -> Tensor:
        """``float64[V, n_items]``: every removal's shorter window, left-padded into one ``long[V, max_len]``
        batch, encoded once (an emptied window scores zero, as in :meth:`rescore`)."""
        window = self.window(model, user)
        kept = [np.delete(window, np.asarray(list(r), dtype=np.int64)) for r in removals]
        out = torch.zeros(len(removals), model.n_items, dtype=torch.float64)
        rows = [v for v, k in enumerate(kept) if len(k)]
        if not rows:
            return out
        seqs = torch.cat([self._sequence(model, kept[v]) for v in rows])  # [V', max_len]
        states = model.encode(seqs)[:, -1, :]
        out[torch.as_tensor(rows)] = (states @ model.item_weights().T).double().cpu()
        return out

    def position_weights(self, model: Any, user: int, items: Tensor) -> np.ndarray:
        """``float64[m, n]``: each item's weight of each history position."""
        raise NotImplementedError

    def explain(self, model: Any, user: int, items: Tensor, k_reasons: int = 5) -> list[list[Reason]]:
        window = self.window(model, user)
        weights = self.position_weights(model, user, items)
        out: list[list[Reason]] = []
        for row in weights:
            order = np.argsort(-row, kind="stable")[:k_reasons]
            out.append([HistoryItemReason(weight=float(row[t]), unit=int(t), item=int(window[t])) for t in order])
        return out


class GradientInputExplainer(HistoryPositions):
    """``<e_t, grad_{e_t} s(i)>`` per history position ``t`` (one backward pass per item)."""

    def position_weights(self, model: Any, user: int, items: Tensor) -> np.ndarray:
        window = self.window(model, user)
        captured: list[Tensor] = []

        def keep(out: Tensor) -> None:
            out.retain_grad()
            captured.append(out)

        with torch.enable_grad(), _embedding_hook(model, keep):
            state = model.encode(self._sequence(model, window))[:, -1, :].view(-1)
        emb = captured[0]  # [n, d]: the window's item embeddings, oldest first
        rows = []
        for i in items.tolist():
            score = state @ model.item_weights()[i]
            (grad,) = torch.autograd.grad(score, emb, retain_graph=True)
            rows.append((grad * emb).sum(-1).detach().double().cpu().numpy())
        return np.stack(rows) if rows else np.zeros((0, len(window)))


class AttentionExplainer(HistoryPositions):
    """The last block's attention from the latest position to each history position (mean over heads);
    the same weights for every recommended item (attention does not depend on the target)."""

    models = ("sasrec",)
    auto_rank = 1

    def supports(self, model: Any) -> bool:
        return (
            isinstance(model, SequentialRecommender)
            and hasattr(model, "blocks")
            and len(cast(nn.ModuleList, model.blocks)) > 0
        )

    @torch.no_grad()
    def position_weights(self, model: Any, user: int, items: Tensor) -> np.ndarray:
        window = self.window(model, user)
        block = model.blocks[-1]
        seen: list[Tensor] = []
        original = block.attend

        def attend(qkv: Tensor, bucket: Any) -> Tensor:
            n, w = bucket.gather.shape
            d = qkv.shape[1] // 3
            q, k, _ = qkv[bucket.gather].view(n, w, 3, block.num_heads, d // block.num_heads).permute(2, 0, 3, 1, 4)
            logits = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
            seen.append(torch.softmax(logits.masked_fill(~bucket.allowed, -torch.inf), dim=-1))
            return original(qkv, bucket)

        block.attend = attend
        try:
            model.encode(self._sequence(model, window))
        finally:
            del block.attend
        weights = seen[0][0, :, -1, :].mean(0)[-len(window) :]  # [n]: latest query over the window
        return np.tile(weights.double().cpu().numpy(), (len(items), 1))


class SequenceIntegratedGradients(HistoryPositions):
    """Integrated gradients of ``s(i)`` over the window's item embeddings (zero baseline), summed over
    the embedding dimension per position."""

    steps = 32
    auto_rank = 2

    def position_weights(self, model: Any, user: int, items: Tensor) -> np.ndarray:
        window = self.window(model, user)
        seq = self._sequence(model, window)
        captured: list[Tensor] = []

        def keep(out: Tensor) -> None:
            captured.append(out.detach())

        with torch.no_grad(), _embedding_hook(model, keep):
            model.encode(seq)
        emb = captured[0]  # [n, d]
        rows = []
        for i in items.tolist():
            target = model.item_weights()[i].detach()

            def score(path: Tensor, _target: Tensor = target) -> Tensor:  # [N, n, d] -> [N]
                with _embedding_hook(model, lambda _out: path.reshape(-1, path.shape[-1])):
                    states = model.encode(seq.expand(path.shape[0], -1))[:, -1, :]
                return states @ _target

            attr = integrated_gradients(score, emb, steps=self.steps)
            rows.append(attr.sum(-1).double().cpu().numpy())
        return np.stack(rows) if rows else np.zeros((0, len(window)))
