"""The main job end to end on MovieLens-100K: accuracy, results.json, determinism, resume."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

import recframe

FAST = ["trainer.progress_bar=false", "logger=none"]


@pytest.fixture(scope="module")
def bpr_results(ml100k, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("bpr")
    return recframe.run(["data=ml-100k", "model=bpr", *FAST], run_dir=run_dir), run_dir


def test_bpr_reaches_published_accuracy(bpr_results):
    results, _ = bpr_results
    # RecBole 1.2.1's BPR with its defaults gives 0.2928 on its own random 8:1:1 split of ML-100K
    assert results["metrics"]["test/ndcg@10"] >= 0.28
    assert results["metrics"]["test/recall@10"] > results["metrics"]["test/recall@5"]


def test_results_json_has_the_documented_shape(bpr_results):
    results, run_dir = bpr_results
    on_disk = json.loads((run_dir / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results))
    assert set(on_disk) == {"recframe_version", "run", "protocol", "data", "metrics", "cost", "environment", "latency"}
    assert on_disk["latency"]["median"] == on_disk["cost"]["score_latency_ms_per_1k_users"]
    assert on_disk["run"]["model"] == "bpr" and on_disk["run"]["data"] == "ml-100k" and on_disk["run"]["seed"] == 0
    assert len(on_disk["run"]["config_hash"]) == 12
    data = on_disk["data"]
    assert (data["users"], data["items"], data["interactions"]) == (943, 1682, 100000)
    assert data["train"] + data["valid"] + data["test"] == 100000
    assert data["valid"] == data["test"] == 9596  # floor(0.1 * n) per user, summed
    protocol = on_disk["protocol"]
    assert protocol["split"] == {"name": "random_ratio", "ratios": [0.8, 0.1, 0.1], "group_by": "user"}
    assert protocol["filter_seen"] is True and protocol["ranking"] == "full" and protocol["seed"] == 0
    for part in ("valid", "test"):
        for metric in ("hr", "recall", "precision", "ndcg", "mrr"):
            for k in (5, 10, 20):
                assert 0.0 <= on_disk["metrics"][f"{part}/{metric}@{k}"] <= 1.0
    cost = on_disk["cost"]
    assert cost["params"] == (943 + 1682) * 64 and cost["model_bytes"] == cost["params"] * 4
    assert cost["fit_seconds"] > 0 and cost["eval_seconds"] > 0 and cost["score_latency_ms_per_1k_users"] > 0
    assert on_disk["environment"]["torch"].startswith("2.")
    per_user = np.load(run_dir / "per_user.npz")
    assert np.isclose(per_user["test/ndcg@10"].mean(), on_disk["metrics"]["test/ndcg@10"])
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / ".hydra" / "config.yaml").is_file()


def test_pop_is_a_weak_baseline(ml100k, tmp_path):
    results = recframe.run(["data=ml-100k", "model=pop", *FAST], run_dir=tmp_path)
    ndcg = results["metrics"]["test/ndcg@10"]
    assert 0.08 <= ndcg <= 0.16
    assert results["cost"]["params"] == 1682 and results["run"].get("epochs") is None


def test_same_seed_gives_same_metrics_and_other_seed_differs(ml100k, tmp_path):
    args = ["data=ml-100k", "model=bpr", "trainer.max_epochs=2", *FAST]
    a = recframe.run(args, run_dir=tmp_path / "a")["metrics"]
    b = recframe.run(args, run_dir=tmp_path / "b")["metrics"]
    c = recframe.run([*args, "seed=1"], run_dir=tmp_path / "c")["metrics"]
    assert a == b
    assert a["test/ndcg@10"] != c["test/ndcg@10"]


def test_killed_run_resumes_from_last_checkpoint(ml100k, tmp_path):
    args = ["data=ml-100k", "model=bpr", "trainer.patience=100", *FAST]
    straight = recframe.run([*args, "trainer.max_epochs=4"], run_dir=tmp_path / "straight")
    recframe.run([*args, "trainer.max_epochs=2"], run_dir=tmp_path / "resumed")  # stands for a killed run
    last = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 1  # the checkpoint of the last finished epoch, not an earlier one
    resumed = recframe.run([*args, "trainer.max_epochs=4", "resume=true"], run_dir=tmp_path / "resumed")
    assert resumed["run"]["resumed_from"].endswith("last.ckpt")
    assert resumed["metrics"] == straight["metrics"]


def test_without_validation_trains_the_full_budget_and_keeps_the_last_model(ml100k, tmp_path):
    args = ["data=ml-100k", "model=bpr", "protocol.split.ratios=[0.9,0.0,0.1]", "trainer.patience=1", *FAST]
    results = recframe.run([*args, "trainer.max_epochs=3"], run_dir=tmp_path / "a")
    assert results["data"]["valid"] == 0 and results["run"]["best_valid"] is None
    assert results["run"]["epochs"] == 3  # no early stopping without a validation metric
    assert not any(k.startswith("valid/") for k in results["metrics"])
    kept = torch.load(tmp_path / "a" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    assert kept["epoch"] == 2  # the model after the last epoch
    shorter = recframe.run([*args, "trainer.max_epochs=2"], run_dir=tmp_path / "b")
    assert shorter["metrics"]["test/ndcg@10"] != results["metrics"]["test/ndcg@10"]
    assert results["run"]["stopped_by"] == "max_epochs"
    assert results["protocol"]["model_selection"].startswith("none")  # declared with the protocol
    assert results["run"]["train_device"] == "cpu" and results["environment"]["device"] == "cpu"


def test_max_time_stops_training_and_says_so(ml100k, tmp_path):
    """The clock ends training; what is tested is the best validated epoch, whatever the machine's speed.

    No accuracy is asserted: how far training gets in three seconds depends on the machine's load.
    """
    args = [
        "data=ml-100k",
        "model=bpr",
        "trainer.max_epochs=10000",
        "trainer.patience=10000",
        "trainer.progress_bar=false",
        "logger=csv",
    ]
    results = recframe.run([*args, "trainer.max_time=00:00:00:03"], run_dir=tmp_path)
    assert results["run"]["stopped_by"] == "max_time"
    assert results["run"]["epochs"] < 10000 and results["run"]["optimizer_steps"] > 0
    assert 0.0 <= results["metrics"]["test/ndcg@10"] <= 1.0  # stopped early, then tested as usual
    assert "model_selection" not in results["protocol"]  # a validation part: the best valid epoch
    with open(tmp_path / "logs" / "metrics.csv", newline="") as fh:
        logged = [
            float(row["valid/ndcg@10"])
            for row in csv.DictReader(fh)
            if row.get("valid/ndcg@10") and not row.get("test/ndcg@10")
        ]  # epochs, not the final summary
    if logged:  # at least one epoch was validated: the evaluated model is the best of them
        assert results["metrics"]["valid/ndcg@10"] == pytest.approx(max(logged), abs=1e-5)


def test_early_stopping_is_reported(bpr_results):
    results, _ = bpr_results
    assert results["run"]["stopped_by"] == "early_stopping" and results["run"]["epochs"] < 100


@pytest.mark.parametrize("value", ["30", "00:30:00", "0:0:a:0"])
def test_malformed_max_time_is_a_one_line_config_error(ml100k, tmp_path, value):
    from recframe.errors import ConfigError

    with pytest.raises(ConfigError, match=r"trainer.max_time must be 'DD:HH:MM:SS'") as err:
        recframe.run(["data=ml-100k", "model=bpr", f"trainer.max_time={value}", *FAST], run_dir=tmp_path)
    if value.isdigit():  # what unquoted 1:00:00:00 in a YAML file becomes: say how to write it
        assert "quote it" in str(err.value)


def test_debug_fast_trains_one_batch(tmp_path, ml100k):
    results = recframe.run(["data=ml-100k", "model=bpr", "debug=fast", "logger=none"], run_dir=tmp_path)
    assert results["run"]["name"] == "debug" and results["run"]["epochs"] == 1
    assert results["run"]["optimizer_steps"] == 1


def test_csv_and_tensorboard_logs(recframe_run, tmp_path):
    recframe_run(["model=bpr", "logger=csv"], run_dir=tmp_path / "csv")
    lines = (tmp_path / "csv" / "logs" / "metrics.csv").read_text().splitlines()
    assert "valid/ndcg@10" in lines[0] and len(lines) >= 3
    recframe_run(["model=bpr", "logger=tensorboard"], run_dir=tmp_path / "tb")
    assert list((tmp_path / "tb" / "logs").glob("events.out.tfevents.*"))
