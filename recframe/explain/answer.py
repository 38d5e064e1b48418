"""Recommendations with their reasons for one user of a saved run: what ``recframe explain`` prints
and ``GET /explain`` returns, in the dataset's original ids and titles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recframe.explain.names import Namer


class ExplainedModel:
    """A loaded model (:class:`recframe.serving.handle.LoadedModel`) with its explainer, built once."""

    def __init__(self, handle: Any, explainer: str = "auto") -> None:
        from recframe.explain.choose import choose_explainer

        self.handle = handle
        self.name, self.explainer = choose_explainer(handle.model, handle.model_name, explainer)
        train = handle.saved.train.to_csr()
        train.data[:] = 1.0
        self.explainer.use_history(train)
        self.namer = Namer.from_saved(handle.saved)
        handle.model.eval()

    def answer(self, user: Any, k: Any = 10, k_reasons: Any = 5, exclude_seen: bool = True) -> dict[str, Any]:
        """``{"user", "k", "explainer", "exact", "source", "items": [{rank, item, score, [title], reasons}]}``.

        Cold users (ranked by the popularity fallback) get no reasons: nothing of theirs was scored.
        """
        from recframe.serving.handle import RequestError, check_k

        handle = self.handle
        internal = handle.users.internal([user], "user")
        k = check_k(k, handle.n_items)
        k_reasons = check_k(k_reasons, max(1, handle.n_items), "reasons")
        top, scores, sources = handle.recommend_internal(internal, k, exclude_seen)
        row_items, row_scores = top[0].numpy(), scores[0].numpy()
        keep = np.isfinite(row_scores) & (row_items >= 0)
        items = row_items[keep].astype(np.int64)
        cold = sources[0] != "model"
        if cold or not len(items):
            reasons: list[list[Any]] = [[] for _ in items]
        else:
            with handle._lock:
                try:
                    reasons = self.explainer.explain(handle.model, int(internal[0]), torch.as_tensor(items), k_reasons)
                except ValueError as exc:
                    raise RequestError("user", f"cannot explain user {user!r}: {exc}") from None
        ranked = []
        for r, (i, s, why) in enumerate(zip(items.tolist(), row_scores[keep].tolist(), reasons, strict=True)):
            entry = {"rank": r + 1, **self.namer.item(i), "score": float(s)}
            entry["reasons"] = [self.namer.reason(x) for x in why]
            ranked.append(entry)
        return {
            "user": self.namer.user(int(internal[0])),
            "k": k,
            "explainer": self.name,
            "exact": bool(self.explainer.exact),
            "source": sources[0],
            "items": ranked,
        }

    def lines(self, answer: dict[str, Any]) -> list[str]:
        """The answer as terminal lines: each item, then its reasons indented with their weights."""
        model, by = self.handle.model_name, answer["explainer"]
        out = [f"user {answer['user']}: top-{answer['k']} by {model}, reasons by {by}"]
        for entry in answer["items"]:
            title = f"  {entry['title']}" if "title" in entry else ""
            out.append(f"{entry['rank']:>3}. {entry['item']}{title}  (score {entry['score']:.4f})")
            for reason in entry["reasons"]:
                out.append(f"       {reason['weight']:+.4f}  {_reason_text(reason)}")
            if not entry["reasons"]:
                out.append(f"       (no reasons: {answer['source']})")
        return out


def _reason_text(reason: dict[str, Any]) -> str:
    kind = reason["kind"]
    if kind == "history_item":
        return f"you interacted with {reason['item']}" + (f"  {reason['title']}" if "title" in reason else "")
    if kind == "field":
        return f"{reason['field']} = {reason['value']}"
    if kind == "content":
        return f"content: {reason['term']}"
    if kind == "neighbour_user":
        return f"similar user {reason['user']}"
    return kind
