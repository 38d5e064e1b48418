"""``GET /explain?user=U&k=10&reasons=5[&exclude_seen=false]`` for ``recframe serve``: the user's top-k
with each item's reasons (:class:`recframe.explain.answer.ExplainedModel`), original ids and titles.

The explainer is chosen (``auto``) on the first request and kept; a model no explainer supports is a
400 with the one-line error, and the server goes on serving.
"""

# no ``from __future__ import annotations``: FastAPI reads the endpoint's ``Request`` annotation at
# definition time (as in recframe/serving/server.py)
import threading
from collections.abc import Callable
from typing import Any


def add_explain_route(app: Any, handle: Any, flag: Callable[..., bool], required: Callable[..., str]) -> None:
    """Add ``GET /explain`` to the FastAPI ``app`` serving ``handle``; ``flag`` and ``required`` are the
    server's parsers of boolean and required query parameters (the same errors as its other endpoints)."""
    from fastapi import Request
    from fastapi.concurrency import run_in_threadpool

    built: dict[str, Any] = {}
    lock = threading.Lock()

    def explained() -> Any:
        with lock:
            if "model" not in built:
                from recframe.explain.answer import ExplainedModel

                built["model"] = ExplainedModel(handle)
            return built["model"]

    async def explain(request: Request) -> dict[str, Any]:
        params = request.query_params
        user = required(params, "user")
        exclude = flag(params.get("exclude_seen"), "exclude_seen", True)
        model = await run_in_threadpool(explained)
        return await run_in_threadpool(model.answer, user, params.get("k", "10"), params.get("reasons", "5"), exclude)

    app.add_api_route("/explain", explain, methods=["GET"])
