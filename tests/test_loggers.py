"""Loggers from the ``logger`` config group: training curves, and the config and final metrics once per run."""

from __future__ import annotations

import csv
import importlib.util

import pytest
import yaml

import recframe
from recframe.errors import ConfigError
from recframe.training import loggers

BPR = ["data=ml-100k", "model=bpr", "trainer.max_epochs=2", "trainer.patience=10", "trainer.progress_bar=false"]


def _csv_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_flatten_and_mlflow_names():
    assert loggers.flatten({"model": {"name": "bpr", "dim": 64}, "seed": 0}) == {
        "model.name": "bpr",
        "model.dim": 64,
        "seed": 0,
    }
    assert loggers.mlflow_key("test/ndcg@10") == "test/ndcg_at_10"
    assert loggers.mlflow_key("cost.fit_seconds") == "cost.fit_seconds"


def test_csv_gets_curves_and_one_summary_row(ml100k, tmp_path):
    results = recframe.run([*BPR, "logger=csv"], run_dir=tmp_path)
    rows = _csv_rows(tmp_path / "logs" / "metrics.csv")
    summary = [r for r in rows if r.get("test/ndcg@10")]
    epochs = [r for r in rows if r.get("valid/ndcg@10") and not r.get("test/ndcg@10")]
    assert len(summary) == 1 and len(epochs) == results["run"]["epochs"] == 2
    assert float(summary[0]["test/ndcg@10"]) == pytest.approx(results["metrics"]["test/ndcg@10"], rel=1e-6)
    assert float(summary[0]["cost.params"]) == results["cost"]["params"]
    hparams = yaml.safe_load((tmp_path / "logs" / "hparams.yaml").read_text())
    assert hparams["model.name"] == "bpr" and hparams["trainer.max_epochs"] == 2 and hparams["seed"] == 0
    assert not any(k.startswith("hydra.") for k in hparams)


def test_closed_form_models_get_the_summary_too(ml100k, tmp_path):
    results = recframe.run(["data=ml-100k", "model=pop", "logger=csv"], run_dir=tmp_path)
    (row,) = _csv_rows(tmp_path / "logs" / "metrics.csv")
    assert float(row["test/recall@20"]) == pytest.approx(results["metrics"]["test/recall@20"], rel=1e-6)


def test_missing_tracker_package_is_a_one_line_error(monkeypatch, ml100k, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match=r"logger=wandb needs wandb: pip install 'recframe\[wandb\]'"):
        recframe.run(["data=ml-100k", "model=pop", "logger=wandb"], run_dir=tmp_path)


@pytest.mark.slow  # a SQLite tracking store: MLflow's schema migrations take a while
@pytest.mark.parametrize("where", ["default", "explicit"])
def test_mlflow_tracking_store_gets_params_curves_and_final_metrics_once(ml100k, tmp_path, where):
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed: pip install 'recframe[mlflow]'")
    if where == "default":  # sqlite:///<paths.output_dir>/mlflow.db
        uri, args = f"sqlite:///{tmp_path / 'mlflow.db'}", [f"paths.output_dir={tmp_path}"]
    else:
        uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
        args = [f"logger.tracking_uri={uri}"]
    results = recframe.run([*BPR, "logger=mlflow", *args, "logger.experiment=loggers"], run_dir=tmp_path / "run")
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("loggers")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["model.name"] == "bpr" and run.data.params["trainer.max_epochs"] == "2"
    final = client.get_metric_history(run.info.run_id, "test/ndcg_at_10")
    assert len(final) == 1 and final[0].value == pytest.approx(results["metrics"]["test/ndcg@10"], rel=1e-6)
    curve = client.get_metric_history(run.info.run_id, "valid/ndcg_at_10")
    assert len(curve) == results["run"]["epochs"] + 1  # each epoch, then the final value once
    assert run.data.metrics["cost.params"] == results["cost"]["params"]
    assert run.data.tags["recframe.run_dir"] == str(tmp_path / "run")
