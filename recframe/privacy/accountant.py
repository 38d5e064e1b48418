"""The privacy accounting of DP-SGD: Opacus's RDP accountant for the subsampled Gaussian mechanism.

Each optimizer step releases one noisy sum of clipped per-sample gradients: a Gaussian mechanism
with noise multiplier ``sigma`` applied to a batch drawn at sample rate ``q = batch_size / samples``.
Opacus's Renyi-DP accountant (Mironov, "Renyi Differential Privacy", CSF 2017; Mironov, Talwar,
Zhang, "Renyi Differential Privacy of the Sampled Gaussian Mechanism", 2019) composes ``steps`` of
them and converts to ``(epsilon, delta)``. The analysis assumes Poisson sampling of each batch;
recframe draws shuffled fixed-size batches, as most DP-SGD implementations do (docs/privacy.md).
"""

from __future__ import annotations

import warnings

from recframe.errors import ConfigError

#: Renyi orders searched for the tightest epsilon (Opacus's defaults extended to large orders,
#: which small epsilons at large noise need).
ALPHAS: tuple[float, ...] = (
    *(1 + x / 10.0 for x in range(1, 100)),
    *range(12, 64),
    *(64, 96, 128, 192, 256, 384, 512, 768, 1024),
)


def _accountant():  # noqa: ANN202 - opacus is an optional dependency
    try:
        from opacus.accountants import RDPAccountant
    except ImportError:
        raise ConfigError("trainer.privacy needs opacus (its privacy accountant); install recframe[privacy]") from None
    return RDPAccountant()


def spent_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """The ``epsilon`` of ``steps`` DP-SGD steps at ``(noise_multiplier, sample_rate)`` for ``delta``."""
    if steps <= 0:
        return 0.0
    accountant = _accountant()
    accountant.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimal order is the largest alpha": ALPHAS already reach far
        return float(accountant.get_epsilon(delta=float(delta), alphas=list(ALPHAS)))


def noise_for_epsilon(epsilon: float, delta: float, sample_rate: float, steps: int, samples: int) -> float:
    """The smallest noise multiplier (to 1%) whose ``steps`` steps spend at most ``epsilon``.

    A target that no noise level reaches (Opacus searches up to a multiplier of ~2,000) is a
    one-line :class:`ConfigError` that says what to change.
    """
    lo, hi = 0.0, 1.0
    while spent_epsilon(hi, sample_rate, steps, delta) > epsilon:
        lo, hi = hi, hi * 2
        if hi > 4096:
            raise ConfigError(
                f"trainer.privacy.epsilon={epsilon} cannot be met: {steps} steps at sample rate {sample_rate:.3g} "
                f"({samples} training samples) spend more than that even with noise multiplier {hi:g}; raise "
                f"epsilon or delta, or train fewer steps (trainer.max_epochs, a larger trainer.batch_size)"
            )
    while hi - lo > 0.01 * hi:
        mid = (lo + hi) / 2
        if spent_epsilon(mid, sample_rate, steps, delta) > epsilon:
            lo = mid
        else:
            hi = mid
    return hi
