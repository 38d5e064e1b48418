"""Per-sample gradient clipping and Gaussian noise (DP-SGD) for models of embedding and linear layers.

DP-SGD (Abadi et al., "Deep Learning with Differential Privacy", CCS 2016) bounds what one training
sample can change: every sample's gradient is clipped to L2 norm ``C`` (``max_grad_norm``), the
clipped gradients are summed, Gaussian noise of standard deviation ``sigma * C`` is added to every
coordinate, and the sum is divided by the expected batch size.

Why not Opacus's ``GradSampleModule``: it materialises each sample's gradient of an embedding
table as a dense ``[B, rows, d]`` tensor (a BPR-MF batch of 2,048 on ML-1M: 3 GB a step). Here the
per-sample gradient of a layer is never formed; it follows from what the layer saw and what came
back (the layer's input and the gradient of the loss at its output, recorded by a forward hook):

* ``nn.Embedding`` called with ids ``[R, ...]``: a sample's gradient is the output gradients of its
  lookups summed per table row, so its squared norm is a sum over the distinct rows it touched
  (``O(lookups * d)``), and the clipped sum is one pass over the lookups into the dense table
  gradient (:class:`EmbeddingLookups`: one compiled loop each with numba,
  :mod:`recframe.kernels.clip_rows`, else a sort and ``index_add_``);
* ``nn.Linear`` with input ``a: [S, T, i]`` and output gradient ``g: [S, T, o]`` per sample:
  ``||sum_t g_t a_t^T||^2 = sum_{t,t'} (a_t . a_t')(g_t . g_t')`` (``||a||^2 ||g||^2`` for ``T = 1``,
  the "ghost norm" of Goodfellow, 2015), and the clipped sum is one GEMM (``T = 1``) or ``einsum``
  (:class:`LinearParts`).

Each layer's records are regrouped by sample once a step and serve the norms, the clipped sums and
the first step's check. The noise is drawn parameter by parameter from the clipper's seeded
generator and added to every coordinate (rows no sample touched included).

A sample is ``group`` consecutive rows of the batch (a pointwise positive with its negatives); a
layer called several times in one forward (BPR's item table for positives and negatives) has its
calls merged per sample before the norm. The first step compares the unclipped per-sample sum with
autograd's gradient of the batch loss, so a model that reads a parameter any other way (a weight
multiplied directly, a graph propagation over the whole table) is refused in one line before its
first update, instead of being trained with an unbounded sensitivity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import torch
from torch import Tensor, nn

from recframe.errors import TrainingError

SUPPORTED = (nn.Embedding, nn.Linear)


def uncovered_parameters(model: nn.Module) -> list[str]:
    """Names of trainable parameters that no ``nn.Embedding``/``nn.Linear`` layer of ``model`` owns."""
    covered = {id(p) for m in model.modules() if type(m) in SUPPORTED for p in m.parameters(recurse=False)}
    return [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in covered]


class PerSampleClipper:
    """Records the layers' inputs during a forward, then sets every parameter's ``.grad`` to the
    DP-SGD gradient: the sum of per-sample gradients clipped to ``max_grad_norm``, plus
    ``N(0, (noise_multiplier * max_grad_norm)^2)`` noise, over ``expected_samples``.

    Args:
        model: the model; every trainable parameter must belong to an ``nn.Embedding`` or ``nn.Linear``.
        max_grad_norm: ``C``, the clipping bound of one sample's whole gradient.
        noise_multiplier: ``sigma``; 0 clips without noise (no guarantee; for tests).
        expected_samples: the batch size in samples (the divisor, fixed so it reveals nothing).
        group: batch rows per sample (1, or ``1 + num_negatives`` for pointwise batches).
        seed: seeds the noise generator.
    """

    def __init__(
        self,
        model: nn.Module,
        max_grad_norm: float,
        noise_multiplier: float,
        expected_samples: int,
        group: int = 1,
        seed: int = 0,
    ) -> None:
        name = type(model).__name__
        uncovered = uncovered_parameters(model)
        if uncovered:
            raise TrainingError(
                f"trainer.privacy: model '{name}' has parameters outside nn.Embedding/nn.Linear layers "
                f"({', '.join(uncovered[:4])}), whose per-sample gradients DP-SGD here cannot bound; models of "
                f"embedding and linear layers (bpr, gmf, mlp, neumf, multvae) can be trained privately"
            )
        self.model, self.model_name = model, name
        self.clip, self.sigma = float(max_grad_norm), float(noise_multiplier)
        self.expected, self.group = int(expected_samples), int(group)
        self.layers = [
            m for m in model.modules() if type(m) in SUPPORTED and any(p.requires_grad for p in m.parameters())
        ]
        self.params = [p for m in self.layers for p in m.parameters(recurse=False) if p.requires_grad]
        self.generator = torch.Generator().manual_seed(int(seed))
        self.records: list[tuple[nn.Module, Tensor, Tensor]] = []
        self.active = False
        self.verified = False
        self.steps = 0
        self.clipped = 0  # samples whose gradient norm exceeded the bound, over all steps
        self.samples = 0
        self.handles = [m.register_forward_hook(self._record) for m in self.layers]

    def remove(self) -> None:
        """Detach the forward hooks (after training)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _record(self, module: nn.Module, args: tuple[Any, ...], output: Tensor) -> None:
        if self.active and torch.is_grad_enabled():
            self.records.append((module, args[0].detach() if args[0].is_floating_point() else args[0], output))

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Record the layers' inputs and outputs of the forward run inside."""
        self.records, self.active = [], True
        try:
            yield
        finally:
            self.active = False

    def backward(self, loss: Tensor, rows: int) -> None:
        """Set each parameter's ``.grad`` to the DP-SGD gradient of ``loss`` (the mean over ``rows``
        batch rows, i.e. over ``rows / group`` samples)."""
        if rows % self.group:
            raise TrainingError(f"trainer.privacy: a batch of {rows} rows is not made of samples of {self.group} rows")
        samples = rows // self.group
        records, self.records = self.records, []
        for module, _, out in records:
            if out.shape[0] != rows:
                raise TrainingError(
                    f"trainer.privacy: model '{self.model_name}' called a {type(module).__name__} on {out.shape[0]} "
                    f"rows of a {rows}-row batch, so its gradients cannot be split by sample; DP-SGD cannot train it"
                )
        outputs = [out for _, _, out in records]
        check = not self.verified
        true_grads = torch.autograd.grad(loss, self.params, retain_graph=True, allow_unused=True) if check else None
        # per-sample gradients: ``samples`` x the gradient of the mean loss, restricted to one sample
        grads = torch.autograd.grad(loss * samples, outputs, allow_unused=True) if outputs else ()
        calls: dict[nn.Module, list[tuple[Tensor, Tensor]]] = {m: [] for m in self.layers}
        for (module, inp, _), g in zip(records, grads, strict=True):
            if g is not None:
                calls[module].append((inp, g.detach()))
        views: dict[nn.Module, EmbeddingLookups | LinearParts] = {
            module: (
                EmbeddingLookups(module, seen, samples)
                if isinstance(module, nn.Embedding)
                else LinearParts(cast(nn.Linear, module), seen, samples)
            )
            for module, seen in calls.items()
            if seen
        }
        sq = torch.zeros(samples, dtype=torch.float64)
        for layer_view in views.values():
            sq += layer_view.squared_norms()
        norms = sq.sqrt()
        coef = (self.clip / (norms + 1e-12)).clamp(max=1.0).float()  # [S]
        if check:
            self._verify(views, samples, true_grads)
        self.clipped += int((norms > self.clip).sum())
        self.samples += samples
        self.steps += 1
        for module in self.layers:
            view = views.get(module)
            own = list(module.parameters(recurse=False))
            sums = view.clipped_sums(coef) if view is not None else [torch.zeros_like(p) for p in own]
            for p, total in zip(own, sums, strict=True):
                if not p.requires_grad:
                    continue
                if self.sigma > 0:  # every coordinate of every parameter, rows no sample touched included
                    noise = torch.randn(p.shape, generator=self.generator).to(total)
                    total.add_(noise, alpha=self.sigma * self.clip)
                p.grad = total.div_(self.expected)

    # ---- the first step's check -------------------------------------------------------------

    def _verify(self, views: dict[nn.Module, Any], n: int, true_grads: Any) -> None:
        """The unclipped per-sample gradients must sum to autograd's gradient of the batch loss."""
        ones = torch.ones(n)
        names = {id(p): name for name, p in self.model.named_parameters()}
        rebuilt: dict[int, Tensor] = {}
        for module in self.layers:
            own = list(module.parameters(recurse=False))
            view = views.get(module)
            sums = view.clipped_sums(ones) if view is not None else [torch.zeros_like(p) for p in own]
            for p, total in zip(own, sums, strict=True):
                rebuilt[id(p)] = total / n
        for p, expected in zip(self.params, true_grads, strict=True):
            expected = torch.zeros_like(p) if expected is None else expected
            if expected.is_sparse:
                expected = expected.to_dense()
            got = rebuilt[id(p)]
            scale = float(expected.abs().max()) + 1e-12
            if not torch.allclose(got, expected, rtol=1e-3, atol=1e-4 * scale):
                raise TrainingError(
                    f"trainer.privacy: model '{self.model_name}' uses parameter '{names[id(p)]}' other than by "
                    f"calling its layer on the batch (e.g. the whole weight in a product), so one sample's gradient "
                    f"cannot be bounded; DP-SGD cannot train this model"
                )
        self.verified = True


class EmbeddingLookups:
    """One step's lookups of an ``nn.Embedding``, regrouped by sample: ``ids: long[S, K]`` (``-1``
    for padding lookups, which get no gradient) and the gradients at the outputs ``g: [S, K, d]``.

    A sample is ``group`` consecutive batch rows, so every call's ids and output gradients reshape
    to ``[S, ...]`` in place; several calls in one forward (BPR's item table for positives and
    negatives) are concatenated along ``K``.
    """

    def __init__(self, module: nn.Embedding, seen: list[tuple[Tensor, Tensor]], n: int) -> None:
        d = module.embedding_dim
        ids = [x.reshape(n, -1).long() for x, _ in seen]
        grads = [y.reshape(n, -1, d) for _, y in seen]
        self.ids = ids[0] if len(ids) == 1 else torch.cat(ids, dim=1)
        self.g = (grads[0] if len(grads) == 1 else torch.cat(grads, dim=1)).contiguous()
        if module.padding_idx is not None:  # nn.Embedding gives the padding row no gradient
            self.ids = self.ids.masked_fill(self.ids == module.padding_idx, -1)
        self.ids = self.ids.contiguous()
        self.module, self.n = module, n
        self.compiled = _kernels_fit(self.g)

    def _flat(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(sample: long[L], row: long[L], grad: [L, d])`` over the non-padding lookups."""
        k = self.ids.shape[1]
        sample = torch.arange(self.n, device=self.ids.device).repeat_interleave(k)
        row, g = self.ids.reshape(-1), self.g.reshape(-1, self.g.shape[2])
        if self.module.padding_idx is not None:
            keep = row >= 0
            sample, row, g = sample[keep], row[keep], g[keep]
        return sample, row, g

    def squared_norms(self) -> Tensor:
        """``float64[S]``: each sample's squared gradient norm of this table (rows it hit twice merged)."""
        sq = torch.zeros(self.n, dtype=torch.float64)
        if self.compiled:
            from recframe.kernels.clip_rows import sample_row_sq

            sample_row_sq(self.ids.numpy(), self.g.numpy(), sq.numpy())
            return sq
        sample, row, g = self._flat()
        rows = self.module.num_embeddings
        keys, inverse = torch.unique(sample * rows + row, return_inverse=True)
        if len(keys) == len(row):  # no sample hit a row twice: nothing to merge
            return sq.index_add_(0, sample.cpu(), g.double().square().sum(1).cpu())
        per_key = g.new_zeros(len(keys), g.shape[1]).index_add_(0, inverse, g)  # a sample's gradient of one row
        return sq.index_add_(0, (keys // rows).cpu(), per_key.double().square().sum(1).cpu())

    def clipped_sums(self, coef: Tensor) -> list[Tensor]:
        """``[weight's gradient]``: the sum over samples of ``coef[s]`` x sample ``s``'s gradient."""
        out = torch.zeros_like(self.module.weight)
        if self.compiled and out.dtype == torch.float32 and out.device.type == "cpu":
            from recframe.kernels.clip_rows import clipped_row_sum

            clipped_row_sum(self.ids.numpy(), self.g.numpy(), coef.float().contiguous().numpy(), out.numpy())
            return [out]
        sample, row, g = self._flat()
        return [out.index_add_(0, row, g * coef.to(g)[sample, None])]


class LinearParts:
    """One step's inputs ``a: [S, T, in]`` and output gradients ``g: [S, T, out]`` of an ``nn.Linear``,
    regrouped by sample (``T`` sums a sample's rows and calls)."""

    def __init__(self, module: nn.Linear, seen: list[tuple[Tensor, Tensor]], n: int) -> None:
        a = [x.reshape(n, -1, x.shape[-1]) for x, _ in seen]
        g = [y.reshape(n, -1, y.shape[-1]) for _, y in seen]
        self.g = g[0] if len(g) == 1 else torch.cat(g, dim=1)
        self.a = (a[0] if len(a) == 1 else torch.cat(a, dim=1)).to(self.g.dtype)
        self.bias = module.bias is not None
        self.bias_trained = module.bias is not None and module.bias.requires_grad

    def squared_norms(self) -> Tensor:
        """``float64[S]``: ``||sum_t g_t a_t^T||^2`` (plus the bias's ``||sum_t g_t||^2``) per sample."""
        a, g = self.a, self.g
        if a.shape[1] == 1:
            weight = a[:, 0].square().sum(1).double() * g[:, 0].square().sum(1).double()
        elif a.shape[1] ** 2 <= a.shape[2] * g.shape[2]:
            weight = ((a @ a.transpose(1, 2)) * (g @ g.transpose(1, 2))).sum((1, 2)).double()
        else:
            weight = torch.einsum("sto,sti->soi", g, a).square().sum((1, 2)).double()
        if self.bias_trained:
            weight = weight + g.sum(1).double().square().sum(1)
        return weight.cpu()

    def clipped_sums(self, coef: Tensor) -> list[Tensor]:
        """``[weight's gradient, bias's gradient]``: sums over samples of ``coef[s]`` x sample ``s``'s gradient."""
        a, g = self.a, self.g
        coef = coef.to(g)
        if a.shape[1] == 1:  # one GEMM, scaling the narrower side by the coefficients
            a2, g2 = a[:, 0], g[:, 0]
            if a2.shape[1] < g2.shape[1]:
                sums = [torch.mm(g2.T, a2 * coef[:, None])]
            else:
                sums = [torch.mm((g2 * coef[:, None]).T, a2)]
            if self.bias:
                sums.append(coef @ g2)
            return sums
        sums = [torch.einsum("sto,sti->oi", g * coef[:, None, None], a)]
        if self.bias:
            sums.append(torch.einsum("s,sto->o", coef, g))
        return sums


def _kernels_fit(g: Tensor) -> bool:
    """Whether :mod:`recframe.kernels.clip_rows` can take these gradients: numba present, float32 on the CPU."""
    from recframe import kernels

    return kernels.available() and g.dtype == torch.float32 and g.device.type == "cpu"
