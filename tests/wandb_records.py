"""Reading back a Weights & Biases offline run (``run-<id>.wandb``) for tests.

The file is W&B's transaction log: a 7-byte header (``:W&B``, magic ``0xBEE1``, version) then records
in LevelDB's log format (32 KiB blocks; each chunk ``crc32: u32, length: u16, type: u8`` then data;
type 1 a whole record, 2/3/4 its first/middle/last piece), each record a ``wandb_internal_pb2.Record``
protobuf. This is what ``wandb sync`` uploads; reading it checks what the logger sent without a server.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path) -> Iterator[Any]:
    """The ``Record`` protobufs of an offline run file, in the order they were written."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file (header {data[:7]!r})")
    pos, pieces = HEADER, b""
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # a block's tail too short for a chunk header is padding
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk, pos = data[pos + HEADER : pos + HEADER + length], pos + HEADER + length
        if kind == 0:  # zero padding up to the block's end
            pos += (BLOCK - pos % BLOCK) % BLOCK
            continue
        pieces = chunk if kind in (1, 2) else pieces + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            yield record


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_run(path: Path) -> dict[str, Any]:
    """``{"config": [{key: value} per config record], "history": [{key: value} per row],
    "summary": {key: last value}, "exited": bool}`` of one offline run file."""
    run: dict[str, Any] = {"config": [], "history": [], "summary": {}, "exited": False}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "config":
            run["config"].append({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            run["history"].append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            run["summary"].update({_key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "exit":
            run["exited"] = True
    return run
