"""``logger=wandb`` in offline mode: the run file holds the config once, the curves, and the final metrics once."""

from __future__ import annotations

import pytest
from wandb_records import read_run

import recframe

RUN = ["data=ml-100k", "model=bpr", "trainer.max_epochs=2", "trainer.patience=10", "trainer.batch_size=16384"]


@pytest.mark.slow  # starting W&B's service process takes a while
def test_wandb_offline_run_gets_params_curves_and_final_metrics_once(ml100k, tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="the wandb extra is not installed: pip install 'recframe[wandb]'")
    monkeypatch.setenv("WANDB_MODE", "offline")
    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):  # nothing written to the home folder
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    run_dir = tmp_path / "run"
    results = recframe.run(
        [*RUN, "trainer.progress_bar=false", "logger=wandb", "logger.mode=offline", "logger.project=tests"],
        run_dir=run_dir,
    )
    (path,) = (run_dir / "logs" / "wandb").glob("offline-run-*/run-*.wandb")
    run = read_run(path)
    assert run["exited"]  # the run was finished, not left open until the process exits

    (config,) = run["config"]  # the hyper-parameters: one config record, the resolved config's dotted keys
    assert config["model.name"] == "bpr" and config["trainer.max_epochs"] == 2 and config["seed"] == 0
    assert config["trainer.batch_size"] == 16384 and config["logger.name"] == "wandb"
    assert not any(k.startswith(("hydra.", "trial.")) for k in config)

    finals = [row for row in run["history"] if "test/ndcg@10" in row]
    curves = [row for row in run["history"] if "valid/ndcg@10" in row and "test/ndcg@10" not in row]
    assert len(finals) == 1 and len(curves) == results["run"]["epochs"] == 2
    (final,) = finals
    for key, value in results["metrics"].items():
        assert final[key] == pytest.approx(value, rel=1e-9), key
    assert final["cost.params"] == results["cost"]["params"]
    assert final["cost.model_bytes"] == results["cost"]["model_bytes"]
    assert run["summary"]["test/ndcg@10"] == pytest.approx(results["metrics"]["test/ndcg@10"], rel=1e-9)
