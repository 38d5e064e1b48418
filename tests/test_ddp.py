"""Lightning DDP on CPU: two processes (gloo) train and evaluate to the same numbers as one."""

from __future__ import annotations

import os

import pytest
import torch

import recframe

BASE = [
    "data=synthetic",
    "trainer.max_epochs=4",
    "trainer.lr=0.01",
    "trainer.batch_size=64",
    "trainer.progress_bar=false",
    "logger=none",
    "data_cache=false",
]


def test_two_process_ddp_matches_one_process(tmp_path, monkeypatch):
    from recframe.training import module

    seen = tmp_path / "ranks"
    original = module.RecframeModule.batch_loss

    def recording_loss(self, batch, batch_idx):  # which process trained on how many rows of each mini-batch
        with open(seen, "a") as fh:
            fh.write(f"{os.getpid()} {self.global_rank} {self.trainer.world_size} {len(self._shard(batch)['user'])}\n")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(module.RecframeModule, "batch_loss", recording_loss)
    one = recframe.run(BASE, run_dir=tmp_path / "one")
    seen.unlink()
    two = recframe.run([*BASE, "trainer.strategy=ddp", "trainer.devices=2"], run_dir=tmp_path / "two")

    rows = [line.split() for line in seen.read_text().splitlines()]
    assert {(r[1], r[2]) for r in rows} == {("0", "2"), ("1", "2")} and len({r[0] for r in rows}) == 2
    assert max(int(r[3]) for r in rows) == 32  # each process trains on half of each batch of 64
    assert one["metrics"].keys() == two["metrics"].keys()
    for key, value in one["metrics"].items():
        assert two["metrics"][key] == pytest.approx(value, rel=1e-5, abs=1e-7), key
    assert (two["run"]["epochs"], two["run"]["best_valid"]) == (one["run"]["epochs"], one["run"]["best_valid"])
    # what only the worker processes know comes back too
    assert two["run"]["optimizer_steps"] == one["run"]["optimizer_steps"] > 0
    assert two["run"]["stopped_by"] == one["run"]["stopped_by"]
    a = torch.load(tmp_path / "one" / "checkpoints" / "best.ckpt", weights_only=False)
    b = torch.load(tmp_path / "two" / "checkpoints" / "best.ckpt", weights_only=False)
    assert a["global_step"] == b["global_step"] > 8  # trained past the first epoch
    for name, tensor in a["state_dict"].items():
        assert torch.allclose(tensor, b["state_dict"][name], atol=1e-6), name
