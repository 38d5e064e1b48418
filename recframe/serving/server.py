"""The HTTP server (``recframe serve RUN_DIR``): FastAPI on uvicorn, ``recframe[serve]``.

Endpoints (JSON in, JSON out; ids as the dataset spells them):

* ``GET /recommend?user=U&k=10[&exclude_seen=false][&items=i1,i2,...]``: a known user's top-k;
* ``POST /recommend`` with ``{"items": [...], "k": 10, "exclude_seen": true}``: fold-in for a new user;
* ``GET /similar?item=I&k=10``: items like ``I``;
* ``GET /score?user=U&items=i1,i2``: the model's scores of those items for ``U``;
* ``GET /explain?user=U&k=10&reasons=5``: the top-k with each item's reasons (recframe/explain/serve.py);
* ``GET /health``; ``GET /model``: model, protocol, metrics, cost, index (its recall when ANN).

Bad input is HTTP 4xx with ``{"error": "<one line>", "field": "<the parameter>"}``; an unexpected
failure is a 500 with the same shape, and the server goes on serving.
"""

# no ``from __future__ import annotations``: FastAPI reads the endpoints' annotations (``Request``,
# imported inside create_app) at definition time
import logging
from typing import Any, Optional

from recframe.errors import RecframeError
from recframe.serving.handle import LoadedModel, RequestError

log = logging.getLogger(__name__)

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(value: Optional[str], field: str, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise RequestError(field, f"{field} must be true or false, got {value!r}")


def _required(params: Any, field: str) -> str:
    value = params.get(field)
    if value is None or value == "":
        raise RequestError(field, f"{field} is required (e.g. ?{field}=1)")
    return value


def _id_list(value: Optional[str]) -> Optional[list[str]]:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _records(frame: Any) -> list[dict[str, Any]]:
    cols = [c for c in ("rank", "item", "score") if c in frame.columns]
    extra = [c for c in frame.columns if c not in ("user", "rank", "item", "score", "source")]
    rows = []
    values = {c: frame[c].tolist() for c in cols + extra}
    for j in range(len(frame)):
        row = {c: values[c][j] for c in cols}
        row.update({c: (None if values[c][j] != values[c][j] else values[c][j]) for c in extra})  # NaN -> null
        rows.append(row)
    return rows


def create_app(handle: LoadedModel, metadata: bool = False) -> Any:
    """A FastAPI application serving ``handle``; ``metadata`` adds item columns (titles) to answers."""
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    app = FastAPI(title="recframe", description=f"{handle.model_name} from {handle.run_dir}")

    @app.exception_handler(RequestError)
    async def request_error(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"error": str(exc), "field": exc.field}, status_code=exc.status)

    @app.exception_handler(RecframeError)
    async def recframe_error(_: Request, exc: RecframeError) -> JSONResponse:
        return JSONResponse({"error": str(exc), "field": None}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return JSONResponse({"error": f"{field}: {first.get('msg', 'invalid')}", "field": field}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail), "field": None}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}", "field": None}, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": handle.model_name}

    @app.get("/model")
    async def model_info() -> dict[str, Any]:
        return handle.describe()

    @app.get("/recommend")
    async def recommend(request: Request) -> dict[str, Any]:
        params = request.query_params
        user = _required(params, "user")
        k = params.get("k", "10")
        exclude = _flag(params.get("exclude_seen"), "exclude_seen", True)
        items = _id_list(params.get("items"))
        if not metadata:
            return await run_in_threadpool(handle.recommend_answer, user, k, exclude, items)
        frame = await run_in_threadpool(handle.recommend, [user], k, exclude, items, metadata)
        source = frame["source"].iloc[0] if len(frame) else "model"
        return {
            "user": handle.users.original(handle.users.internal([user], "user"))[0],
            "k": int(k),
            "source": source,
            "items": _records(frame),
        }

    @app.post("/recommend")
    async def recommend_history(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise RequestError("body", 'body must be JSON, e.g. {"items": [1, 2, 3], "k": 10}') from None
        if not isinstance(body, dict):
            raise RequestError("body", "body must be a JSON object with 'items' (a list of item ids) and 'k'")
        unknown = sorted(set(body) - {"items", "k", "exclude_seen"})
        if unknown:
            raise RequestError(unknown[0], f"{unknown[0]}: unknown field (fields: items, k, exclude_seen)")
        items = body.get("items")
        if not isinstance(items, list):
            raise RequestError("items", "items must be a list of item ids")
        exclude = body.get("exclude_seen", True)
        if not isinstance(exclude, bool):
            raise RequestError("exclude_seen", "exclude_seen must be true or false")
        k = body.get("k", 10)
        if isinstance(k, bool) or not isinstance(k, int):
            raise RequestError("k", f"k must be a positive integer, got {k!r}")
        frame = await run_in_threadpool(handle.recommend_for_history, items, k, exclude, metadata)
        return {"k": k, "source": "fold-in", "items": _records(frame)}

    @app.get("/similar")
    async def similar(request: Request) -> dict[str, Any]:
        params = request.query_params
        item = _required(params, "item")
        k = params.get("k", "10")
        frame = await run_in_threadpool(handle.similar_items, item, k, metadata)
        return {
            "item": handle.items.original(handle.items.internal([item], "item"))[0],
            "k": int(k),
            "items": _records(frame),
        }

    @app.get("/score")
    async def score(request: Request) -> dict[str, Any]:
        params = request.query_params
        user = _required(params, "user")
        items = _id_list(_required(params, "items"))
        frame = await run_in_threadpool(handle.score, [user], items)
        pairs = zip(frame["item"].tolist(), frame["score"].tolist(), strict=True)
        return {"user": frame["user"].tolist()[0], "scores": [{"item": i, "score": s} for i, s in pairs]}

    from recframe.explain.serve import add_explain_route

    add_explain_route(app, handle, _flag, _required)
    return app


def serve(
    handle: LoadedModel, host: str = "127.0.0.1", port: int = 8000, metadata: bool = False, log_level: str = "info"
) -> None:
    """Run the server in this process until interrupted."""
    try:
        import uvicorn
    except ImportError:
        raise RequestError("serve", "recframe serve needs FastAPI and uvicorn: pip install 'recframe[serve]'") from None
    uvicorn.run(create_app(handle, metadata), host=host, port=int(port), log_level=log_level)
