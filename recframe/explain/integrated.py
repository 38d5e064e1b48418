"""Integrated gradients (M. Sundararajan, A. Taly, Q. Yan, *Axiomatic Attribution for Deep Networks*,
ICML 2017) of a scalar function of one input tensor, by Captum when it is installed.

``attributions = (x - x') * mean_{a in (0, 1]} grad f(x' + a (x - x'))`` (Riemann sum over ``steps``
points, Gauss-Legendre in Captum); they sum to ``f(x) - f(x')`` up to the approximation error
(*completeness*), which Captum reports as the convergence delta.

Captum (``pip install 'recframe[explain]'``) is used when importable; otherwise the same Riemann
(midpoint) rule runs in plain torch, so explanations never depend on an optional package.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def captum_available() -> bool:
    try:
        import captum.attr  # noqa: F401
    except ImportError:
        return False
    return True


def integrated_gradients(
    fn: Callable[[Tensor], Tensor], inputs: Tensor, baseline: Tensor | None = None, steps: int = 32
) -> Tensor:
    """Attributions of ``fn`` (``float[N, *shape] -> float[N]``) at ``inputs: float[*shape]`` against
    ``baseline`` (zeros by default): ``float[*shape]``, summing to about ``fn(inputs) - fn(baseline)``."""
    inputs = inputs.detach()
    baseline = torch.zeros_like(inputs) if baseline is None else baseline.detach()
    if captum_available():
        from captum.attr import IntegratedGradients

        attr = IntegratedGradients(fn).attribute(
            inputs.unsqueeze(0), baselines=baseline.unsqueeze(0), n_steps=int(steps), internal_batch_size=int(steps)
        )
        return attr.squeeze(0).detach()
    alphas = (torch.arange(int(steps), dtype=inputs.dtype, device=inputs.device) + 0.5) / int(steps)
    path = baseline.unsqueeze(0) + alphas.view(-1, *([1] * inputs.dim())) * (inputs - baseline).unsqueeze(0)
    path.requires_grad_(True)
    with torch.enable_grad():
        grads = torch.autograd.grad(fn(path).sum(), path)[0]
    return ((inputs - baseline) * grads.mean(dim=0)).detach()
