"""trainer.eval_device: where evaluation and scoring latency run after a fit (the GPU path is opt-in)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

import recframe
from recframe.errors import ConfigError
from recframe.training.devices import check_eval_device, eval_device, place_for_evaluation

FAST = ["data=synthetic", "trainer.max_epochs=2", "trainer.progress_bar=false", "logger=none", "data_cache=false"]


def trainer(value: str | None) -> OmegaConf:
    return OmegaConf.create({} if value is None else {"eval_device": value})


@pytest.mark.parametrize(
    "value,train_device,expected",
    [
        (None, "cpu", "cpu"),
        ("auto", None, "cpu"),
        ("auto", "cuda:1", "cuda:1"),
        ("auto", "mps:0", "mps:0"),
        ("cpu", "cuda:0", "cpu"),
        ("cuda", "cpu", "cuda"),
        ("cuda:1", None, "cuda:1"),
    ],
)
def test_auto_follows_the_training_device_and_a_named_device_wins(value, train_device, expected):
    assert eval_device(trainer(value), train_device) == torch.device(expected)


def test_a_gpu_that_is_not_there_is_a_one_line_error_before_any_data(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"trainer.eval_device=cuda but this machine has 0 CUDA device\(s\)"):
        check_eval_device(trainer("cuda"))
    with pytest.raises(ConfigError, match="trainer.eval_device=cuda:0"):
        recframe.run(
            [*FAST, "data=ml-100k", "data.path=/nonexistent", "trainer.eval_device=cuda:0"], run_dir=tmp_path
        )  # the check comes before the (missing) data is read


def test_a_device_index_beyond_the_count_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_eval_device(trainer("cuda:1"))
    with pytest.raises(ConfigError, match="cuda:2 but this machine has 2"):
        check_eval_device(trainer("cuda:2"))


@pytest.mark.parametrize("value", ["gpu0", "tpu", "xla"])
def test_unknown_devices_are_one_line_errors(value):
    with pytest.raises(ConfigError, match="trainer.eval_device must be auto, cpu"):
        check_eval_device(trainer(value))


def test_model_and_metric_states_move_together():
    """On the meta device (no memory, no GPU needed): every parameter, buffer and metric state moves."""
    import numpy as np

    from recframe.data.interactions import Interactions
    from recframe.evaluation.ranking import RankingEvaluator
    from recframe.models import DatasetInfo
    from recframe.runner import build_metrics
    from recframe_cf.bpr import BPRMF

    data = Interactions(user=np.array([0, 1, 2]), item=np.array([1, 2, 0]), n_users=3, n_items=3)
    info = DatasetInfo(3, 3, data, np.ones(3, dtype=np.int64))
    model = BPRMF(info, embedding_dim=4)
    cfg = OmegaConf.create({"metrics": {"names": ["ndcg", "recall", "coverage"]}, "protocol": {"cutoffs": [2]}})
    evaluator = RankingEvaluator(build_metrics(cfg, info))
    name = place_for_evaluation(model, evaluator, torch.device("meta"))
    assert name == "meta"
    tensors = [*model.parameters(), *model.buffers()]
    states = [getattr(m, s) for m in evaluator.metrics.values() for s in m._defaults]
    assert tensors and states
    assert all(t.device.type == "meta" for t in tensors + [s for s in states if torch.is_tensor(s)])


@pytest.mark.parametrize("model", ["bpr", "ease"])
def test_cpu_evaluation_is_recorded_and_gives_the_same_metrics_as_auto(model, tmp_path):
    auto = recframe.run([*FAST, f"model={model}"], run_dir=tmp_path / "auto")
    cpu = recframe.run([*FAST, f"model={model}", "trainer.eval_device=cpu"], run_dir=tmp_path / "cpu")
    assert auto["run"]["eval_device"] == cpu["run"]["eval_device"] == "cpu"
    assert auto["metrics"] == cpu["metrics"]
    assert cpu["cost"]["score_latency_ms_per_1k_users"] > 0
