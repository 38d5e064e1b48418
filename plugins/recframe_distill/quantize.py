"""Int8 post-training quantization: embedding tables per row, linear layers dynamically.

* Linear layers: dynamic quantization (int8 weights, activations quantized on the fly), B. Jacob et al.,
  "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference",
  CVPR 2018, through ``torch.ao.quantization.quantize_dynamic``.
* Embedding tables: symmetric int8 with one float32 scale per row (``scale_r = max|w_r| / 127``), as in
  H. Guan et al., "Post-Training 4-bit Quantization on Embedding Tables", NeurIPS 2019 workshop
  (row-wise uniform quantization). Lookups and ``score_all`` dequantize the rows they read.

The model's bytes are those of its int8 tensors plus scales (and float biases).
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import Tensor, nn

from recframe.api import CompressionContext, Compressor, Measured, replace_module, unwrap
from recframe.api import Recommender


class Int8Embedding(nn.Module):
    """An embedding table stored as int8 values and one float32 scale per row."""

    def __init__(self, weight: Tensor) -> None:
        super().__init__()
        weight = weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127.0
        self.register_buffer("qweight", torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale)
        self.num_embeddings, self.embedding_dim = weight.shape

    @property
    def weight(self) -> Tensor:
        """The dequantized table ``float[n, d]``."""
        return self.qweight.float() * self.scale[:, None]

    def forward(self, index: Tensor) -> Tensor:
        return self.qweight[index].float() * self.scale[index].unsqueeze(-1)


def quantize_embeddings(model: nn.Module) -> list[str]:
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Embedding)]
    for name in names:
        replace_module(model, name, Int8Embedding(model.get_submodule(name).weight))
    return names


def quantize_linear(model: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)


class Quantize(Compressor):
    """Int8 embedding tables (``embeddings``) and int8 dynamic linear layers (``linear``)."""

    name = "quantize"
    rebuild_is_exact = True  # round-to-nearest of the previous model's weights: no training, no randomness

    def __init__(self, embeddings: bool = True, linear: bool = True) -> None:
        super().__init__()
        self.embeddings, self.linear = bool(embeddings), bool(linear)

    def rebuild(self, model: Recommender, context: CompressionContext | None = None) -> Recommender:
        """The int8 model quantized from ``model`` again (deterministic, so equal to the stage's)."""
        return self.compress(model, context)

    def compress(self, model: Recommender, context: CompressionContext | None = None) -> Recommender:
        model = copy.deepcopy(unwrap(model)).eval()
        tables = quantize_embeddings(model) if self.embeddings else []
        n_linear = sum(isinstance(m, nn.Linear) for m in model.modules())
        if self.linear and n_linear:
            model = quantize_linear(model)
        self.facts = {"int8_tables": tables, "int8_linear_layers": n_linear if self.linear else 0}
        return Measured(model)
