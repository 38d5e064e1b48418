"""Compressed stages saved beside the trained model: ``recframe.load(run_dir, stage=...)`` ranks as the
stage's own evaluation did; chains replay their sources; unloadable or tampered stages are one-line errors."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import recframe
from recframe.compression import Compressor, unwrap
from recframe.errors import ConfigError
from recframe.serving.handle import LoadedModel

FAST = ["data=ml-100k", "trainer.progress_bar=false", "logger=none"]
BPR_COMPARE = [
    "model=bpr",
    "model.embedding_dim=32",
    "trainer.max_epochs=2",
    "compressor=compare",
    "compressor.stages.3.rank=8",
]
# chained: structured pruning of the magnitude-pruned model, int8 of that, low-rank of the int8 model
BPR_CHAIN = [*BPR_COMPARE, "compressor.chain=true"]
EASE_QUANTIZE = ["model=ease", "compressor=quantize"]


@pytest.fixture(scope="module")
def stage_runs(ml100k: Path, tmp_path_factory: pytest.TempPathFactory):
    runs: dict[str, Path] = {}

    def get(name: str, overrides: list[str]) -> Path:
        if name not in runs:
            runs[name] = tmp_path_factory.mktemp(f"stages-{name}")
            recframe.run([*FAST, *overrides], run_dir=runs[name])
        return runs[name]

    return get


def assert_lists_equal_stage_topk(run_dir: Path, stage: str) -> LoadedModel:
    handle = recframe.load(run_dir, stage=stage)
    topk = np.load(run_dir / "model" / "stages" / stage / "topk.npz", allow_pickle=False)
    with np.load(run_dir / "model" / "data.npz", allow_pickle=False) as data:
        user_ids, item_ids = data["user_ids"], data["item_ids"]
    k = topk["items"].shape[1]
    recs = handle.recommend(user_ids[topk["users"]].tolist(), k=k)
    got = recs["item"].to_numpy().reshape(len(topk["users"]), k)
    assert np.array_equal(got, item_ids[topk["items"]]), stage
    return handle


@pytest.mark.parametrize("stage", ["0-prune", "1-prune", "2-quantize", "3-lowrank"])
def test_each_side_by_side_stage_reloads_and_ranks_as_evaluated(stage_runs, stage):
    run_dir = stage_runs("bpr-compare", BPR_COMPARE)
    handle = assert_lists_equal_stage_topk(run_dir, stage)
    assert handle.describe()["stage"]["folder"] == stage
    base = recframe.load(run_dir)
    inner = unwrap(handle.model)
    if stage == "2-quantize":
        assert inner.user_embedding.qweight.dtype == torch.int8 and inner.user_embedding.scale.dtype == torch.float32
    if stage == "3-lowrank":
        assert inner.user_embedding.left.shape == (943, 8)
    if stage.endswith("prune"):
        zeros = float((inner.user_embedding.weight == 0).float().mean())
        assert 0.45 < zeros < 0.55
    users = base.users.ids[:20].tolist()
    items = base.items.ids[:30].tolist()
    pairs = dict(users=[u for u in users for _ in items], items=items * len(users))
    # the stage model is not the trained model: its scores differ
    assert not np.allclose(handle.score(**pairs)["score"], base.score(**pairs)["score"])


def test_stages_are_listed_and_named_by_index_folder_or_unique_name(stage_runs):
    run_dir = stage_runs("bpr-compare", BPR_COMPARE)
    described = recframe.load(run_dir).describe()
    assert described["stage"] is None
    assert [s["folder"] for s in described["stages"]] == ["0-prune", "1-prune", "2-quantize", "3-lowrank"]
    assert all(s["reloadable"] and s["source"] is None for s in described["stages"])
    by_name = recframe.load(run_dir, stage="quantize")
    by_index = recframe.load(run_dir, stage=2)
    assert by_name.saved.stage["folder"] == by_index.saved.stage["folder"] == "2-quantize"
    with pytest.raises(ConfigError, match=r"stage='prune' names 2 stages .*0-prune, 1-prune"):
        recframe.load(run_dir, stage="prune")
    with pytest.raises(ConfigError, match=r"stage='distill'.*saved stages: 0-prune, 1-prune, 2-quantize"):
        recframe.load(run_dir, stage="distill")


@pytest.mark.slow
def test_a_chain_replays_its_source_stages(stage_runs):
    run_dir = stage_runs("bpr-chain", BPR_CHAIN)
    stages = recframe.load(run_dir).describe()["stages"]
    assert [s["source"] for s in stages] == [None, 0, 1, 2]
    for stage in ("1-prune", "2-quantize", "3-lowrank"):
        assert_lists_equal_stage_topk(run_dir, stage)


def test_ease_stage_reloads(stage_runs):
    run_dir = stage_runs("ease-quantize", EASE_QUANTIZE)
    assert_lists_equal_stage_topk(run_dir, "0-quantize")


class Marker:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_pickle_in_a_stage_folder_runs_no_code(stage_runs, tmp_path):
    run_dir = stage_runs("bpr-compare", BPR_COMPARE)
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    marker = tmp_path / "code-ran"
    (copy / "model" / "stages" / "2-quantize" / "weights.safetensors").write_bytes(pickle.dumps(Marker(str(marker))))
    with pytest.raises(ConfigError, match=r"weights.safetensors is not a safetensors file") as err:
        recframe.load(copy, stage="quantize")
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_a_stage_that_cannot_be_reloaded_is_listed_and_a_one_line_error(stage_runs, tmp_path):
    run_dir = stage_runs("bpr-compare", BPR_COMPARE)
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    meta_path = copy / "model" / "stages" / "3-lowrank" / "stage.json"
    meta = json.loads(meta_path.read_text())
    meta.update(reloadable=False, reason="its compressor Custom defines no rebuild(model, context)")
    meta_path.write_text(json.dumps(meta))
    listed = {s["folder"]: s for s in recframe.load(copy).describe()["stages"]}
    assert listed["3-lowrank"]["reloadable"] is False
    with pytest.raises(ConfigError, match=r"^compressed stage 3-lowrank cannot be reloaded: its compressor Custom"):
        recframe.load(copy, stage="lowrank")


def test_the_base_compressor_refuses_to_rebuild():
    class Custom(Compressor):
        name = "custom"

    with pytest.raises(ConfigError, match=r"compressor stage 'custom' .*cannot be reloaded"):
        Custom().rebuild(None, None)


@pytest.mark.slow
def test_a_distilled_student_reloads(stage_runs):
    run_dir = stage_runs(
        "bpr-distill",
        [
            "model=bpr",
            "model.embedding_dim=32",
            "trainer.max_epochs=1",
            "compressor=distill",
            "compressor.student.embedding_dim=8",
            "+compressor.trainer.max_epochs=1",
        ],
    )
    handle = assert_lists_equal_stage_topk(run_dir, "0-distill")
    assert unwrap(handle.model).user_embedding.weight.shape == (943, 8)


@pytest.mark.slow
def test_int8_linear_layers_reload_by_rebuilding_without_weights(stage_runs):
    run_dir = stage_runs("neumf-quantize", ["model=neumf", "trainer.max_epochs=1", "compressor=quantize"])
    folder = run_dir / "model" / "stages" / "0-quantize"
    meta = json.loads((folder / "stage.json").read_text())
    assert meta["reloadable"] and meta["state"] is None and not (folder / "weights.safetensors").exists()
    handle = assert_lists_equal_stage_topk(run_dir, "0-quantize")
    assert not any(isinstance(m, torch.nn.Linear) for m in unwrap(handle.model).modules())


def test_recommend_cli_serves_a_stage(stage_runs, tmp_path, monkeypatch):
    import pandas as pd

    from recframe.cli import main

    run_dir = stage_runs("bpr-compare", BPR_COMPARE)
    handle = recframe.load(run_dir, stage="lowrank")
    users = handle.users.ids[:5].tolist()
    out = tmp_path / "recs.csv"
    monkeypatch.setenv("RECFRAME_DATA_DIR", str(tmp_path / "no-data-here"))
    assert (
        main(
            [
                "recommend",
                str(run_dir),
                "--stage",
                "lowrank",
                "--users",
                ",".join(map(str, users)),
                "--k",
                "7",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    got = pd.read_csv(out)
    want = handle.recommend(users, k=7)
    assert got["item"].tolist() == want["item"].tolist()
    trained = recframe.load(run_dir).recommend(users, k=7)
    assert got["item"].tolist() != trained["item"].tolist()  # the stage's lists, not the trained model's
