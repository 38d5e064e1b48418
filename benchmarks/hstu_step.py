"""HSTU's training step and scoring on ML-1M at the reproduction's shape: where the time goes, and
the encoder before and after the in-place attention weights and the last-query scoring path.

Input: ML-1M (``$RECFRAME_DATA_DIR/ml-1m/ratings.dat``), every user's ratings in time order as one
training sequence (the latest 200 items), batches of 128 users as ``SequenceBatches`` builds them;
HSTU as ``conf/experiment/repro/hstu_ml1m/hstu.yaml`` sets it (d 50, 2 layers, 1 head, dqk = dv =
50, dropout 0.2). Per batch it times, in one run and interleaved: the encoder's forward and backward
with the first version's layer (``dense``: every ``[B, H, L, L]`` step out of place) and with the
current one (``fast``); the full-softmax loss's forward and backward (``sequence_ce``: the
``[N, 3706]`` scores and their gradient); and the sampled softmax's over 128 negatives a target
position (``sampled_softmax``, the reproduction's loss: the ``[N, 129]`` scores). Scoring:
the latest state of 2,048 users, by the full encoding vs the last-query path. It prints the medians
and the ratios. Usage: ``python benchmarks/hstu_step.py [--batches 4] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from recframe.data.interactions import Interactions
from recframe.models import DatasetInfo
from recframe.plugins import registries
from recframe.training.sampling import NegativeSampler
from recframe.training.sequences import SequenceBatches
from recframe_sequential.hstu import HSTU, HSTULayer


def dense_layer(layer: HSTULayer, x: torch.Tensor, allowed: torch.Tensor, last_only: bool = False) -> torch.Tensor:
    """The first version of :meth:`HSTULayer.forward` (``last_only`` ignored: every query is computed)."""
    b, length, _ = x.shape
    h, dqk, dv = layer.num_heads, layer.dqk, layer.dv
    uvqk = F.silu(layer.f1(layer.input_norm(x)))
    u, v, q, k = torch.split(uvqk, [h * dv, h * dv, h * dqk, h * dqk], dim=-1)
    q = q.view(b, length, h, dqk).transpose(1, 2)
    k = k.view(b, length, h, dqk).transpose(1, 2)
    v = v.view(b, length, h, dv).transpose(1, 2)
    distance = (torch.arange(length).view(-1, 1) - torch.arange(length)).clamp(0, layer.max_len - 1)
    weights = F.silu(q @ k.transpose(-1, -2) + layer.relative_bias[distance]) * allowed / layer.max_len
    attended = (weights @ v).transpose(1, 2).reshape(b, length, h * dv)
    gated = layer.attention_norm(attended) * u
    return x + layer.f2(F.dropout(gated, layer.dropout, layer.training))


def load_ml1m() -> Interactions:
    path = Path(os.environ.get("RECFRAME_DATA_DIR", "data")) / "ml-1m" / "ratings.dat"
    frame = pd.read_csv(path, sep="::", engine="python", names=["user", "item", "rating", "time"])
    users, user = np.unique(frame["user"].to_numpy(), return_inverse=True)
    items, item = np.unique(frame["item"].to_numpy(), return_inverse=True)
    times = frame["time"].to_numpy()
    return Interactions(user=user, item=item, n_users=len(users), n_items=len(items), timestamp=times)


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_ml1m()
    info = DatasetInfo(data.n_users, data.n_items, data, np.bincount(data.item, minlength=data.n_items))
    torch.manual_seed(0)
    model = HSTU(info, embedding_dim=50, num_layers=2, num_heads=1, dqk=50, dv=50, dropout=0.2, max_len=200).train()
    batches = SequenceBatches(data, 128, 200, 128, NegativeSampler(data), seed=0)
    sampled_softmax = registries().loss.get("sampled_softmax")()
    fast_forward = HSTULayer.forward
    times: dict[str, list[float]] = {"dense": [], "fast": [], "loss": [], "sampled": []}
    targets = []
    for i, batch in enumerate(batches):
        if i == args.batches:
            break
        for name, forward in (("dense", dense_layer), ("fast", fast_forward)):
            HSTULayer.forward = forward  # type: ignore[method-assign]
            model.zero_grad()
            times[name].append(timed(lambda seq=batch["seq"]: model.encode(seq).sum().backward()))
        HSTULayer.forward = fast_forward  # type: ignore[method-assign]
        outputs = model(batch)
        hidden = outputs["hidden"].detach().requires_grad_()
        targets.append(len(hidden))

        def loss_step(hidden: torch.Tensor = hidden, target: torch.Tensor = outputs["target_item"]) -> None:
            F.cross_entropy(hidden @ model.item_weights().T, target).backward()

        def sampled_step(hidden: torch.Tensor = hidden, batch: dict[str, torch.Tensor] = batch) -> None:
            table = model.item_weights()
            mask = batch["pos_item"] >= 0
            scores = {
                "pos_score": (hidden * table[batch["pos_item"][mask]]).sum(-1),
                "neg_score": torch.bmm(table[batch["neg_item"][mask]], hidden.unsqueeze(-1)).squeeze(-1),
            }
            sampled_softmax(scores, batch).backward()

        times["loss"].append(timed(loss_step))
        times["sampled"].append(timed(sampled_step))
    model.eval()
    model.set_history(data)
    users = torch.arange(min(2048, data.n_users))
    with torch.no_grad():
        full = timed(lambda: model.encode(model.history[users])[:, -1])
        last = timed(lambda: model.user_state(users))
    dense, fast, loss, sampled = (median(times[k]) for k in ("dense", "fast", "loss", "sampled"))
    print(f"threads {args.threads}, {args.batches} batches of 128 users, median target positions {median(targets)}")
    print(f"encoder forward+backward: dense {dense:.3f} s, fast {fast:.3f} s, ratio dense/fast {dense / fast:.2f}")
    print(f"full-softmax loss forward+backward: {loss:.3f} s = {loss / (loss + fast):.0%} of the fast step")
    print(
        f"sampled-softmax loss (128 negatives) forward+backward: {sampled:.3f} s = "
        f"{sampled / (sampled + fast):.0%} of its step; step ratio full/sampled {(loss + fast) / (sampled + fast):.2f}"
    )
    print(f"scoring {len(users)} users: full encoding {full:.3f} s, last query {last:.3f} s, ratio {full / last:.2f}")


if __name__ == "__main__":
    main()
