"""Whole runs with ``trainer.privacy`` and the membership audit on ML-100K: the ``privacy`` block of
``results.json``, the printed protocol, and the plan-time refusal before any data is read."""

from __future__ import annotations

import json

import pytest

from recframe.errors import ConfigError
from recframe.runner import run

SHORT = ["data=ml-100k", "trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.progress_bar=false"]


@pytest.mark.slow  # the accountant's noise search and opacus's import: ~20 s on an idle machine
def test_a_private_bpr_run_records_epsilon_delta_unit_and_the_attack(tmp_path, ml100k, capsys):
    results = run(
        [
            *SHORT,
            "model=bpr",
            "trainer.batch_size=1024",
            "trainer.privacy={epsilon: 8, delta: 1e-6, max_grad_norm: 1.0}",
            "membership_inference.enabled=true",
            "membership_inference.pairs=2000",
        ],
        run_dir=tmp_path,
        print_table=True,
    )
    block = json.loads((tmp_path / "results.json").read_text())["privacy"]
    assert block == results["privacy"] and "privacy" not in results["run"]
    assert block["unit"] == "interaction" and block["delta"] == 1e-6 and block["steps"] == 3
    assert 0 < block["epsilon"] <= 8.0 and block["noise_multiplier"] > 0
    assert block["sample_rate"] == pytest.approx(1024 / results["data"]["train"])
    assert block["attack"]["members"] == 2000 and 0.0 <= block["attack_auc"] <= 1.0
    printed = capsys.readouterr().out
    assert "DP-SGD, interaction level: epsilon" in printed and "membership attack" in printed


def test_an_ordinary_run_with_the_audit_reports_infinite_epsilon(tmp_path, ml100k):
    results = run(
        [*SHORT, "model=bpr", "membership_inference.enabled=true", "membership_inference.pairs=1000"],
        run_dir=tmp_path,
    )
    assert results["privacy"]["epsilon"] == float("inf") and results["privacy"]["unit"] == "none"
    assert "attack_auc" in results["privacy"]


def test_closed_form_model_with_privacy_fails_before_reading_data(tmp_path):
    with pytest.raises(ConfigError, match="model 'ease' is fitted in closed form") as err:
        run(
            ["model=ease", "data.path=/nonexistent/ml-100k", "trainer.privacy={epsilon: 1, delta: 1e-6}"],
            run_dir=tmp_path,
        )
    assert "\n" not in str(err.value)
    assert not (tmp_path / "results.json").exists()


@pytest.mark.slow
def test_multvae_trains_at_the_user_level(tmp_path, ml100k):
    results = run(
        [
            *SHORT,
            "model=multvae",
            "trainer.batch_size=128",
            "trainer.privacy={noise_multiplier: 1.0, delta: 1e-5, max_grad_norm: 1.0}",
        ],
        run_dir=tmp_path,
    )
    block = results["privacy"]
    assert block["unit"] == "user" and block["steps"] == 3 and block["target_epsilon"] is None
    assert 0 < block["samples"] <= 943  # one sample per ML-100K user with training items
    assert "attack" not in block  # the audit is opt-in
