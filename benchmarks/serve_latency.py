"""Serving latency: ``recframe serve`` on loopback and the in-process API, for EASE, BPR-MF and SASRec on ML-1M.

For each model a run is trained once into ``--runs`` (``$RECFRAME_CACHE_DIR/bench/serve-runs`` by
default; BPR-MF and SASRec for ``--epochs`` epochs: latency does not depend on accuracy), then:

* server: ``recframe serve RUN --index exact`` (and ``--index ann`` for the inner-product models) in
  a subprocess on a free loopback port; after a warm-up, ``--concurrency`` client threads with
  keep-alive connections send ``GET /recommend?user=U&k=10`` for seeded random users until
  ``--requests`` answers or ``--seconds`` have passed (both bounds hold);
* in-process: ``handle.recommend([U], k=10)`` in one thread, the same bounds.

Printed per row: requests, p50/p95/p99 latency (ms) and requests per second, and the ANN index's
recall@10 against exact ranking (its start-up report). No timing is asserted anywhere; the numbers
depend on the machine and on what else runs on it.

Usage: ``python benchmarks/serve_latency.py [--requests 2000] [--concurrency 8] [--seconds 30]
[--epochs 1] [--models ease,bpr,sasrec] [--out results.json]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

MODELS = {
    "ease": ["model=ease", "model.reg_weight=1000"],
    "bpr": ["model=bpr"],
    "sasrec": ["model=sasrec", "protocol=leave_one_out"],
}
ANN_MODELS = ("bpr", "sasrec")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(name: str, runs: Path, epochs: int) -> Path:
    run_dir = runs / name
    if (run_dir / "model" / "format.json").is_file():
        return run_dir
    import recframe

    overrides = [
        "data=ml-1m",
        *MODELS[name],
        "trainer.progress_bar=false",
        "logger=none",
        f"trainer.max_epochs={epochs}",
    ]
    recframe.run(overrides, run_dir=run_dir)
    return run_dir


def summarise(latencies: list[float], wall: float) -> dict[str, Any]:
    ms = np.asarray(latencies) * 1000.0
    return {
        "requests": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "req_per_s": round(len(ms) / wall, 1),
    }


def drive_server(port: int, users: np.ndarray, requests: int, concurrency: int, seconds: float) -> dict[str, Any]:
    """``concurrency`` keep-alive clients; stops at ``requests`` answers or ``seconds``, whichever first."""
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    next_request = [0]
    deadline = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next_request[0]
                next_request[0] += 1
            if i >= requests or time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            conn.request("GET", f"/recommend?user={users[i % len(users)]}&k=10")
            response = conn.getresponse()
            response.read()
            took = time.perf_counter() - start
            with lock:
                if response.status == 200:
                    latencies.append(took)
                else:
                    errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {**summarise(latencies, time.perf_counter() - start), "errors": errors[0]}


def serve_and_drive(run_dir: Path, index: str, users: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recframe.cli",
            "serve",
            str(run_dir),
            "--port",
            str(port),
            "--index",
            index,
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"recframe serve did not start: {proc.stdout.read()}") from None
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/model", timeout=30) as response:
            info = json.loads(response.read())["index"]
        drive_server(port, users[::-1], min(50, args.requests), 2, 10.0)  # warm-up
        row = drive_server(port, users, args.requests, args.concurrency, args.seconds)
        recall = {k: v for k, v in info.items() if k.startswith("recall@")}
        return {**row, **recall}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def in_process(run_dir: Path, index: str, users: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    import recframe
    from recframe.serving.ann import attach_index

    handle = recframe.load(run_dir)
    attach_index(handle, index)
    for u in users[:20]:  # warm-up
        handle.recommend([u], k=10)
    latencies: list[float] = []
    deadline = time.perf_counter() + args.seconds
    start = time.perf_counter()
    for u in users[: args.requests]:
        if time.perf_counter() > deadline:
            break
        t = time.perf_counter()
        handle.recommend([u], k=10)
        latencies.append(time.perf_counter() - t)
    row = summarise(latencies, time.perf_counter() - start)
    if handle.index is not None:
        row[f"recall@{handle.index.recall_k}"] = round(handle.index.recall, 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="time bound per measurement")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--models", default="ease,bpr,sasrec")
    parser.add_argument("--runs", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    runs = args.runs or Path(os.environ.get("RECFRAME_CACHE_DIR", "/tmp")) / "bench" / "serve-runs"
    rows = []
    for name in args.models.split(","):
        run_dir = train(name, runs, args.epochs)
        ids = np.load(run_dir / "model" / "data.npz", allow_pickle=False)["user_ids"]
        users = np.random.default_rng(0).choice(ids, size=args.requests)
        for index in ("exact", "ann") if name in ANN_MODELS else ("exact",):
            for where, fn in (("server", serve_and_drive), ("in-process", in_process)):
                row = {"model": name, "index": index, "where": where, **fn(run_dir, index, users, args)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(
        f"\n{'model':8} {'index':6} {'where':11} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'req/s':>8} recall@10"
    )
    for r in rows:
        print(
            f"{r['model']:8} {r['index']:6} {r['where']:11} {r['requests']:>6} {r['p50_ms']:>8.2f} "
            f"{r['p95_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['req_per_s']:>8.1f} {r.get('recall@10', '')}"
        )
    exact = {(r["model"], r["where"]): r for r in rows if r["index"] == "exact"}
    for r in rows:
        if r["index"] == "ann":
            base = exact[(r["model"], r["where"])]
            print(
                f"{r['model']} {r['where']}: ANN p50 {base['p50_ms'] / r['p50_ms']:.2f}x faster than exact, "
                f"req/s {r['req_per_s'] / base['req_per_s']:.2f}x"
            )
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
