"""The HTTP server on a free loopback port, driven by real HTTP requests; answers equal the Python API's."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

import recframe
from recframe.serving.ann import attach_index
from recframe.serving.server import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, path: str, body: object | None = None, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        base + path,
        data=data,
        method="POST" if data is not None else "GET",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class ThreadedServer:
    """uvicorn serving an app on 127.0.0.1 in a background thread."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def ease_server(run_for):
    handle = recframe.load(run_for("ease"))
    with ThreadedServer(create_app(handle)) as base:
        yield base, handle


def test_answers_equal_the_python_api(ease_server):
    base, handle = ease_server
    status, body = call(base, "/recommend?user=5&k=7")
    expected = handle.recommend([5], k=7)
    assert status == 200 and body["user"] == 5 and body["source"] == "model"
    assert [r["item"] for r in body["items"]] == expected["item"].tolist()
    assert np.allclose([r["score"] for r in body["items"]], expected["score"].to_numpy(), atol=1e-6)
    status, body = call(base, "/recommend?user=5&k=3&exclude_seen=false&items=1,50,181,7")
    assert [r["item"] for r in body["items"]] == handle.recommend(5, 3, False, [1, 50, 181, 7])["item"].tolist()
    status, body = call(base, "/recommend", {"items": [1, 50, 181], "k": 5})
    assert (
        status == 200
        and [r["item"] for r in body["items"]] == handle.recommend_for_history([1, 50, 181], k=5)["item"].tolist()
    )
    status, body = call(base, "/similar?item=50&k=4")
    assert status == 200 and [r["item"] for r in body["items"]] == handle.similar_items(50, k=4)["item"].tolist()
    status, body = call(base, "/score?user=5&items=1,50")
    assert [s["score"] for s in body["scores"]] == pytest.approx(handle.score(5, [1, 50])["score"].tolist(), abs=1e-6)


def test_health_and_model(ease_server, run_for):
    base, _ = ease_server
    assert call(base, "/health") == (200, {"status": "ok", "model": "ease"})
    status, body = call(base, "/model")
    results = json.loads((run_for("ease") / "results.json").read_text())
    assert status == 200 and body["model"] == "ease" and body["index"] == {"kind": "exact"}
    assert body["metrics"] == results["metrics"] and body["cost"]["params"] == results["cost"]["params"]
    assert body["protocol"]["split"] == results["protocol"]["split"] and body["items"] == 1682


@pytest.mark.parametrize(
    "path,body,status,field",
    [
        ("/recommend?user=999999", None, 404, "user"),
        ("/recommend", None, 400, "user"),
        ("/recommend?user=5&k=abc", None, 400, "k"),
        ("/recommend?user=5&k=-2", None, 400, "k"),
        ("/recommend?user=5&k=100000", None, 400, "k"),
        ("/recommend?user=5&exclude_seen=maybe", None, 400, "exclude_seen"),
        ("/recommend?user=5&items=1,nope", None, 404, "items"),
        ("/recommend", {"items": [], "k": 3}, 400, "items"),
        ("/recommend", {"items": [1, "zz"], "k": 3}, 404, "items"),
        ("/recommend", {"items": [1], "k": "3"}, 400, "k"),
        ("/recommend", {"items": [1], "kk": 3}, 400, "kk"),
        ("/recommend", [1, 2], 400, "body"),
        ("/similar?item=0", None, 404, "item"),
        ("/similar", None, 400, "item"),
        ("/score?user=5", None, 400, "items"),
    ],
)
def test_bad_requests_get_4xx_json_naming_the_field(ease_server, path, body, status, field):
    base, _ = ease_server
    got_status, got = call(base, path, body)
    assert got_status == status and got["field"] == field and field in got["error"] and "\n" not in got["error"]
    assert call(base, "/health")[0] == 200  # still serving


def test_malformed_json_and_unknown_paths(ease_server):
    base, _ = ease_server
    status, body = call(base, "/recommend", raw=b"{not json")
    assert status == 400 and body["field"] == "body"
    status, body = call(base, "/nowhere")
    assert status == 404 and "error" in body
    assert call(base, "/health")[0] == 200


def test_ann_index_reports_its_recall_and_serves_unseen_items(run_for):
    handle = recframe.load(run_for("bpr"))
    attach_index(handle, "ann")
    index = handle.index
    sample = np.sort(np.random.default_rng(0).choice(np.flatnonzero(~handle.cold), size=index.sample, replace=False))
    approx, _ = handle.top_internal(sample, 10)
    handle.index = None
    exact, _ = handle.top_internal(sample, 10)
    handle.index = index
    recall = np.mean([len(np.intersect1d(a, e)) for a, e in zip(approx.numpy(), exact.numpy(), strict=True)]) / 10
    assert index.recall == pytest.approx(recall) and 0.0 < recall <= 1.0
    with ThreadedServer(create_app(handle)) as base:
        status, body = call(base, "/model")
        assert body["index"]["kind"] == "ann" and body["index"]["recall@10"] == round(recall, 4)
        status, body = call(base, "/recommend?user=3&k=20")
        items = [r["item"] for r in body["items"]]
        seen = set(handle.saved.item_ids[handle.seen[int(np.flatnonzero(handle.saved.user_ids == 3)[0])].indices])
        assert status == 200 and len(items) == 20 and not seen & set(items)


def test_ann_refuses_a_model_without_vectors(run_for):
    from recframe.errors import ConfigError

    with pytest.raises(ConfigError, match="'itemknn' is not one: use --index exact"):
        attach_index(recframe.load(run_for("itemknn")), "ann")


@pytest.mark.slow
def test_recframe_serve_command_serves_over_http(run_for, tmp_path):
    run_dir = run_for("bpr")
    port = free_port()
    env = {**os.environ, "RECFRAME_DATA_DIR": str(tmp_path / "no-data-here")}  # the run folder is enough
    proc = subprocess.Popen(
        [sys.executable, "-m", "recframe.cli", "serve", str(run_dir), "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if call(base, "/health")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "recframe serve did not answer /health"
            time.sleep(0.5)
        status, body = call(base, "/recommend?user=42&k=5")
        expected = recframe.load(run_dir).recommend([42], k=5)
        assert status == 200 and [r["item"] for r in body["items"]] == expected["item"].tolist()
        assert call(base, "/recommend?user=oops")[0] == 404
        assert call(base, "/health")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
