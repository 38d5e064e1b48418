"""The RDP accounting against the closed form of the Gaussian mechanism, the noise search, and the
plan-time checks of ``trainer.privacy``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from recframe.errors import ConfigError
from recframe.privacy.accountant import ALPHAS, noise_for_epsilon, spent_epsilon
from recframe.privacy.settings import check_privacy, read_settings


def gaussian_epsilon(sigma: float, steps: int, delta: float) -> float:
    """Without subsampling, ``steps`` Gaussian mechanisms have Renyi DP ``steps * alpha / (2 sigma^2)``
    at every order (Mironov 2017, Prop. 7), converted to (epsilon, delta) as in Balle et al. 2020."""
    alphas = np.array(ALPHAS, dtype=np.float64)
    rdp = steps * alphas / (2 * sigma**2)
    eps = rdp - (np.log(delta) + np.log(alphas)) / (alphas - 1) + np.log((alphas - 1) / alphas)
    return float(eps.min())


@pytest.mark.parametrize("sigma, steps", [(1.0, 1), (2.0, 10), (5.0, 100)])
def test_full_batches_spend_the_gaussian_mechanisms_closed_form(sigma, steps):
    assert spent_epsilon(sigma, 1.0, steps, 1e-5) == pytest.approx(gaussian_epsilon(sigma, steps, 1e-5), rel=1e-9)


def test_subsampling_spends_less_and_more_noise_spends_less():
    full = spent_epsilon(1.0, 1.0, 100, 1e-6)
    sampled = spent_epsilon(1.0, 0.01, 100, 1e-6)
    assert sampled < full
    assert spent_epsilon(2.0, 0.01, 100, 1e-6) < sampled
    assert spent_epsilon(1.0, 0.01, 200, 1e-6) > sampled
    assert spent_epsilon(1.0, 0.01, 0, 1e-6) == 0.0


def test_the_noise_found_meets_the_target_within_the_search_tolerance():
    sigma = noise_for_epsilon(4.0, 1e-6, 0.01, 500, 100_000)
    assert spent_epsilon(sigma, 0.01, 500, 1e-6) <= 4.0
    assert spent_epsilon(sigma * 0.98, 0.01, 500, 1e-6) > 4.0  # not much more noise than needed


def test_a_target_no_noise_meets_is_one_line():
    with pytest.raises(ConfigError, match=r"trainer.privacy.epsilon=1e-05 cannot be met") as err:
        noise_for_epsilon(1e-5, 1e-9, 1.0, 100_000, 50)
    assert "\n" not in str(err.value)


def cfg(**privacy):
    return OmegaConf.create({"trainer": {"privacy": privacy or None, "optimizer": "adam", "devices": 1}})


def test_settings_read_and_inf_means_ordinary_training():
    s = read_settings(cfg(epsilon=8, delta=1e-6, max_grad_norm=1.0))
    assert (s.epsilon, s.delta, s.max_grad_norm, s.noise_multiplier) == (8.0, 1e-6, 1.0, None)
    assert read_settings(cfg(noise_multiplier=1.1, delta=1e-6)).noise_multiplier == 1.1
    assert read_settings(cfg(epsilon=math.inf, delta=1e-6)) is None
    assert read_settings(OmegaConf.create({"trainer": {"privacy": None}})) is None


@pytest.mark.parametrize(
    "privacy, message",
    [
        ({"epsilon": 8, "delta": 1e-6, "max_grad_nrom": 1.0}, "unknown key\\(s\\) max_grad_nrom"),
        ({"epsilon": 8, "noise_multiplier": 1.0, "delta": 1e-6}, "exactly one of epsilon .* got both"),
        ({"delta": 1e-6}, "exactly one of epsilon"),
        ({"epsilon": -1, "delta": 1e-6}, "epsilon must be > 0"),
        ({"epsilon": 8}, "delta is missing"),
        ({"epsilon": 8, "delta": 2}, "delta must be in \\(0, 1\\)"),
        ({"epsilon": 8, "delta": 1e-6, "max_grad_norm": 0}, "max_grad_norm must be a finite number > 0"),
        ({"epsilon": "eight", "delta": 1e-6}, "epsilon must be a number"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(privacy, message):
    with pytest.raises(ConfigError, match=message) as err:
        read_settings(cfg(**privacy))
    assert "\n" not in str(err.value) and "trainer.privacy" in str(err.value)


def test_plan_refuses_closed_form_models_sparse_optimizers_and_ddp():
    good = {"epsilon": 8, "delta": 1e-6}
    with pytest.raises(ConfigError, match="model 'ease' is fitted in closed form"):
        check_privacy(cfg(**good), "ease", trainable=False)
    sparse = OmegaConf.create({"trainer": {"privacy": good, "optimizer": "sparse_adam"}})
    with pytest.raises(ConfigError, match="trainer.optimizer=sparse_adam updates only the batch's rows"):
        check_privacy(sparse, "bpr", trainable=True)
    ddp = OmegaConf.create({"trainer": {"privacy": good, "optimizer": "adam", "devices": 2, "strategy": "ddp"}})
    with pytest.raises(ConfigError, match="DP-SGD here trains in one process"):
        check_privacy(ddp, "bpr", trainable=True)
    check_privacy(cfg(**good), "bpr", trainable=True)  # fine
