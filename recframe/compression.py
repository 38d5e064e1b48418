"""Compression as a stage after training: distillation, pruning, quantization, low-rank, chained.

The contract: a compressor is a class registered through ``register_compressors``, built from its
config params, with ``compress(model, context) -> model``. It receives the previous stage's model
(the trained model for the first stage) and must not modify it in place; it returns a new
:class:`~recframe.models.Recommender` whose ``score_all`` is what gets evaluated. A compressor may
set ``self.facts`` (a dict: sparsity, rank, epochs...) which is reported with its row.

The chain comes from ``cfg.compressor`` in any of three shapes::

    compressor: {name: quantize, ...}                      # one stage
    compressor: {stages: [{name: distill, ...}, {name: quantize}], chain: true, from_run: null}
    compressor: [{name: prune, amount: 0.5}, {name: quantize}]

Every stage's model is evaluated with the run's own evaluator and targets (same protocol, same
metrics), its cost measured like the original's, and one row per stage goes into ``results.json``
under ``"compressed"``, with ``retention`` = compressed metric / original metric.

``compressor.from_run: <run dir>`` compresses the trained model of a saved run instead of training
one: the run's ``.hydra/config.yaml`` gives the data, protocol and model, and
``checkpoints/best.ckpt`` (or ``last.ckpt``) the weights.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from torch import Tensor, nn

from recframe.cost import score_latency_ms_per_1k
from recframe.errors import ConfigError
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.factory import build
from recframe.models import DatasetInfo, Loss, Recommender
from recframe.sizes import array_size, own_arrays, tensor_size

log = logging.getLogger(__name__)


class Compressor:
    """Base class of compressors: ``compress(model, context) -> model``."""

    name: str = "compressor"
    #: Facts reported with the stage's row (sparsity, rank, epochs...); set by ``compress``.
    facts: dict[str, Any]
    #: The stage's own fit time in seconds when it differs from the wall time of ``compress`` (a
    #: distilled student's training, without the baselines around it); ``None``: the wall time.
    fit_seconds: float | None = None

    def __init__(self) -> None:
        self.facts = {}

    #: ``rebuild`` alone reproduces the stage's whole state from the previous model (no training, no
    #: randomness): a stage whose state has no plain-tensor form (int8 dynamic linear layers) is then
    #: reloaded by rebuilding it, with no weights of its own saved.
    rebuild_is_exact: bool = False

    def compress(self, model: Recommender, context: CompressionContext) -> Recommender:  # pragma: no cover
        raise NotImplementedError

    def rebuild(self, model: Recommender, context: CompressionContext) -> Recommender:
        """The structure ``compress`` gives ``model`` (the previous stage's model), without training:
        the saved stage's state is loaded over it (``recframe.load(run_dir, stage=...)``).

        At reload the context holds the saved run's ``cfg``, ``info`` and ``seed`` only (no split,
        evaluator or targets). The default: this stage kind cannot be reloaded.
        """
        raise ConfigError(
            f"compressor stage '{self.name}' ({type(self).__qualname__}) cannot be reloaded: it "
            f"defines no rebuild(model, context); its metrics are in results.json"
        )


@dataclass
class CompressionContext:
    """What a compressor may use: the run's config, data split, evaluator and a training helper."""

    cfg: DictConfig
    run_dir: Path
    split: Any
    info: DatasetInfo
    evaluator: RankingEvaluator
    targets: dict[str, RankingTarget]
    seed: int
    original: Recommender | None = None
    stage_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: One :class:`StageModel` per stage run by :func:`run_chain` (what the save of stages writes).
    stage_models: list[StageModel] = field(default_factory=list)

    def build_model(self, spec: dict[str, Any]) -> Recommender:
        """A fresh model from a model config node (``{name: bpr, embedding_dim: 16}``)."""
        from recframe.plugins import registries

        params = dict(spec)
        name = str(params.pop("name"))
        cls = registries().model.get(name, config_key="compressor.student.name")
        torch.manual_seed(self.seed)
        return build(cls, "student", name, params, self.info)

    def build_loss(self, spec: dict[str, Any] | None = None) -> Loss:
        """The run's loss (``cfg.loss``), or one from ``spec``."""
        from recframe.plugins import registries

        params = dict(spec) if spec else OmegaConf.to_container(self.cfg.loss, resolve=True)
        name = str(params.pop("name"))
        return build(registries().loss.get(name, config_key="loss.name"), "loss", name, params)

    def train(
        self, model: Recommender, loss: Loss, trainer: dict[str, Any] | None = None, tag: str = "train"
    ) -> dict[str, Any]:
        """Train ``model`` in place on the run's training data with the Lightning path of a normal run.

        ``trainer`` overrides keys of ``cfg.trainer`` (``max_epochs``, ``lr``...). The best checkpoint by
        the validation metric is loaded back into ``model``; checkpoints go under the stage's folder.
        Returns the fit facts (epochs, best checkpoint and validation value) and the wall ``seconds``.
        """
        from recframe.training.fit import fit_torch_model

        cfg = copy.deepcopy(self.cfg)
        with open_dict(cfg):
            cfg.resume = False
            cfg.pop("trial", None)  # a sweep trial's pruning callbacks watch the main fit only
            for key, value in (trainer or {}).items():
                if key not in cfg.trainer:
                    raise ConfigError(
                        f"compressor trainer.{key} is not a trainer key ({', '.join(map(str, cfg.trainer.keys()))})"
                    )
                cfg.trainer[key] = value
        where = (self.stage_dir or self.run_dir) / tag
        where.mkdir(parents=True, exist_ok=True)
        model.train()  # a trained model handed over for fine-tuning is usually in eval mode (dropout off)
        start = time.perf_counter()
        facts = fit_torch_model(cfg, where, model, loss, self.split, self.evaluator, self.targets["valid"], self.seed)
        return {**facts, "seconds": round(time.perf_counter() - start, 4)}


@dataclass
class StageModel:
    """One evaluated stage: its compressor, model, the stage it compressed (``source``: an index into the
    stages, ``None`` for the trained model) and the test users' top-K it was evaluated with."""

    index: int
    name: str
    spec: dict[str, Any]
    compressor: Compressor
    model: Recommender
    source: int | None
    test_topk: np.ndarray | None = None  # int32[n_test_users, K], the order of targets["test"].users


# --- the chain ------------------------------------------------------------------------------------


def stage_specs(cfg: DictConfig) -> list[dict[str, Any]]:
    """The stages ``cfg.compressor`` asks for, as ``[{name: ..., **params}]`` (empty when none)."""
    node = OmegaConf.select(cfg, "compressor", default=None)
    if node is None:
        return []
    data = OmegaConf.to_container(node, resolve=True)
    if isinstance(node, ListConfig):
        stages = data
    elif "stages" in data:
        stages = data["stages"] or []
        unknown = set(data) - {"stages", "from_run", "chain"}
        if unknown:
            raise ConfigError(f"compressor keys {sorted(unknown)} are not stages, chain or from_run")
    elif "name" in data:
        stages = [{k: v for k, v in data.items() if k != "from_run"}]
    else:
        raise ConfigError("compressor must be a stage {name: ...}, a list of stages, or {stages: [...]}")
    out = []
    for i, stage in enumerate(stages):
        if isinstance(stage, str):
            stage = {"name": stage}
        if not isinstance(stage, dict) or "name" not in stage:
            raise ConfigError(f"compressor stage {i} needs a name, got {stage!r}")
        out.append(dict(stage))
    return out


def source_run(cfg: DictConfig) -> Path | None:
    """``compressor.from_run``, the saved run to compress instead of training (or ``None``)."""
    node = OmegaConf.select(cfg, "compressor", default=None)
    if not isinstance(node, DictConfig) or node.get("from_run") in (None, ""):
        return None
    path = Path(str(node.from_run))
    if not (path / ".hydra" / "config.yaml").is_file():
        raise ConfigError(f"compressor.from_run: {path} has no .hydra/config.yaml (not a recframe run folder)")
    from recframe.run_state import run_health

    state, detail = run_health(path)
    if state != "complete":
        raise ConfigError(f"compressor.from_run: the run in {path} is {state} ({detail}); compress a complete run")
    return path


def source_config(cfg: DictConfig, source: Path) -> DictConfig:
    """The saved run's config, with this run's ``compressor``, ``name`` and Hydra node."""
    saved = OmegaConf.load(source / ".hydra" / "config.yaml")
    with open_dict(saved):
        saved.compressor = cfg.compressor
        saved.name = cfg.name
        saved.print_table = cfg.get("print_table", True)
        if "hydra" in cfg:
            saved.hydra = cfg.hydra
    return saved


def load_trained(model: Recommender, source: Path, train: Any = None) -> dict[str, Any]:
    """Load the saved run's best (else last) checkpoint into ``model``; fit facts from its results."""
    ckpts = source / "checkpoints"
    ckpt = next((p for p in (ckpts / "best.ckpt", ckpts / "last.ckpt") if p.is_file()), None)
    if ckpt is not None:
        from recframe.checkpoints import load_model_state

        model.load_state_dict(load_model_state(ckpt, "compressor.from_run"))
    elif model.trainable:
        raise ConfigError(f"compressor.from_run: {source} has no checkpoints/best.ckpt or last.ckpt")
    else:
        model.fit(train)  # closed-form models are refitted (deterministic given the split)
    facts: dict[str, Any] = {"compressed_from": str(source), "best_checkpoint": str(ckpt) if ckpt else None}
    results = source / "results.json"
    if results.is_file():
        saved = json.loads(results.read_text())
        facts["source_fit_seconds"] = saved.get("cost", {}).get("fit_seconds")
    return facts


def chained(cfg: DictConfig) -> bool:
    """``compressor.chain`` (default true): each stage compresses the previous stage's model; false:
    every stage starts from the original model (side-by-side alternatives)."""
    node = OmegaConf.select(cfg, "compressor", default=None)
    return not isinstance(node, DictConfig) or "stages" not in node or bool(node.get("chain", True))


def run_chain(
    specs: list[dict[str, Any]],
    model: Recommender,
    context: CompressionContext,
    original: dict[str, Any],
    chain: bool = True,
) -> list[dict[str, Any]]:
    """Run the stages in order; evaluate each stage's model; return one row per stage.

    ``original`` is ``{"metrics": ..., "cost": ...}`` of the uncompressed model (retention's denominator).
    With ``chain=False`` every stage compresses ``model`` itself instead of the previous stage's output.
    """
    from recframe.plugins import registries

    regs = registries()
    rows = []
    context.original = model
    current, current_index = model, None
    for i, spec in enumerate(specs):
        params = dict(spec)
        name = str(params.pop("name"))
        cls = regs.compressor.get(name, config_key="compressor.name")
        compressor = build(cls, "compressor", name, params)
        context.stage_dir = context.run_dir / "compressed" / f"{i}-{name}"
        context.stage_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        compressed = compressor.compress(current, context)
        seconds = time.perf_counter() - start
        compressed.eval()
        lists: dict[str, np.ndarray] = {}
        metrics, eval_seconds = evaluate(compressed, context.evaluator, context.targets, lists)
        context.stage_models.append(StageModel(i, name, spec, compressor, compressed, current_index, lists.get("test")))
        params_n, nbytes = storage(compressed)
        fit_seconds = getattr(compressor, "fit_seconds", None)  # declared on Compressor; duck-typed stages may lack it
        cost = {
            "params": params_n,
            "model_bytes": nbytes,
            "fit_seconds": round(float(fit_seconds if fit_seconds is not None else seconds), 4),
            "stage_seconds": round(seconds, 4),
            "eval_seconds": round(eval_seconds, 4),
            "score_latency_ms_per_1k_users": round(score_latency_ms_per_1k(compressed, context.info.n_users), 4),
        }
        rows.append(
            {
                "stage": name,
                "index": i,
                "config": spec,
                "metrics": metrics,
                "cost": cost,
                "retention": retention(metrics, original["metrics"]),
                "cost_ratio": {
                    k: _ratio(cost[k], original["cost"].get(k))
                    for k in ("params", "model_bytes", "score_latency_ms_per_1k_users")
                },
                "facts": getattr(compressor, "facts", {}),
            }
        )
        if chain:
            current, current_index = compressed, i
    return rows


def evaluate(
    model: Recommender,
    evaluator: RankingEvaluator,
    targets: dict[str, RankingTarget],
    lists: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, float], float]:
    """Metrics of ``model`` on the valid and test targets, and the seconds taken; with ``lists`` given,
    each part's top-K lists (``int32[n_users, K]``) are put in it by part name."""
    start = time.perf_counter()
    values: dict[str, float] = {}
    model.eval()
    with torch.no_grad():
        for part in [p for p in ("valid", "test") if len(targets[p].users)]:
            scores, per = evaluator.evaluate(model, targets[part], keep_lists=lists is not None)
            if lists is not None:
                lists[part] = per["topk"]
            values.update({f"{part}/{k}": float(v) for k, v in scores.items()})
    return values, time.perf_counter() - start


def retention(compressed: dict[str, float], original: dict[str, float]) -> dict[str, float | None]:
    """``compressed / original`` for every metric the two share (``None`` where the original is 0)."""
    return {k: _ratio(v, original[k]) for k, v in compressed.items() if k in original}


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or float(b) == 0.0:
        return None
    return round(float(a) / float(b), 6)


def markdown_table(results: dict[str, Any], part: str = "test") -> str:
    """The original beside every stage as a Markdown table (``value (retention)``), for reports."""
    rows = results.get("compressed") or []
    heads = ["original"] + [f"{r['index']}: {r['stage']}" for r in rows]
    names = sorted(
        {k.split("/", 1)[1] for k in results["metrics"] if k.startswith(part + "/")},
        key=lambda n: (n.partition("@")[0], int(n.partition("@")[2] or 0)),
    )
    lines = ["| | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for name in names:
        key = f"{part}/{name}"
        cells = [f"{results['metrics'][key]:.4f}"]
        cells += [f"{r['metrics'][key]:.4f} ({100 * (r['retention'].get(key) or 0):.1f}%)" for r in rows]
        lines.append(f"| {part} {name} | " + " | ".join(cells) + " |")
    for label, key, fmt in [
        ("params", "params", "{:,}"),
        ("model bytes", "model_bytes", "{:,}"),
        ("latency ms / 1k users", "score_latency_ms_per_1k_users", "{:.2f}"),
        ("fit seconds", "fit_seconds", "{:.1f}"),
    ]:
        base = results["cost"][key]
        cells = [fmt.format(base)]
        for r in rows:
            value = r["cost"][key]
            ratio = "" if key == "fit_seconds" or not base else f" ({100 * value / base:.1f}%)"
            cells.append(fmt.format(value) + ratio)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- size of compressed models ---------------------------------------------------------------------


def tensor_storage(t: Tensor, sparse: bool = False) -> tuple[int, int]:
    """``(numbers, bytes)`` of one stored tensor; ``sparse`` counts the smaller of dense and CSR.

    CSR of a 2-D ``[r, c]`` tensor with ``nnz`` non-zeros: values (``nnz`` x element size), int32 column
    indices (``4 nnz``) and int32 row pointers (``4 (r + 1)``). A tensor whose zeros fill whole rows or
    columns is also counted dense without them, plus an int32 index of the kept ones.
    """
    dense = t.numel() * t.element_size()
    if not sparse:
        return t.numel(), dense
    nnz = int((t != 0).sum())
    options = [(t.numel(), dense)]
    if t.dim() == 2:
        r, c = t.shape
        options.append((nnz, nnz * (t.element_size() + 4) + 4 * (r + 1)))
        rows = int((t != 0).any(dim=1).sum())
        cols = int((t != 0).any(dim=0).sum())
        options.append((rows * c, rows * c * t.element_size() + 4 * rows))
        options.append((r * cols, r * cols * t.element_size() + 4 * cols))
    else:
        options.append((nnz, nnz * (t.element_size() + 8)))
    return min(options, key=lambda o: o[1])


def storage(model: nn.Module) -> tuple[int, int]:
    """``(stored numbers, bytes)`` of a possibly compressed model.

    A module whose ``storage()`` returns a size reports itself (int8 tables, low-rank factors); dynamically
    quantized linear layers count int8 weights, float biases and one scale/zero-point; tensors of a
    module marked ``_recframe_sparse`` (pruned) count as :func:`tensor_storage` with ``sparse=True``;
    everything else is its ``state_dict`` tensors and stored numpy/scipy attributes, as for an
    uncompressed model (:mod:`recframe.sizes`).
    """
    numbers = nbytes = 0

    def visit(module: nn.Module) -> None:
        nonlocal numbers, nbytes
        reported = module.storage() if module is not model and callable(getattr(module, "storage", None)) else None
        if reported is not None:
            numbers, nbytes = numbers + int(reported[0]), nbytes + int(reported[1])
            return
        if _is_dynamic_quantized_linear(module):
            w, b = module.weight(), module.bias()
            numbers += w.numel() + (b.numel() if b is not None else 0)
            nbytes += w.numel() + (b.numel() * b.element_size() if b is not None else 0) + 8
            return
        sparse = bool(getattr(module, "_recframe_sparse", False))
        for t in _own_state(module):
            n, b = tensor_storage(t, sparse) if t.layout == torch.strided else tensor_size(t)
            numbers, nbytes = numbers + n, nbytes + b
        for value in own_arrays(module):
            n, b = array_size(value)
            numbers, nbytes = numbers + n, nbytes + b
        for child in module.children():
            visit(child)

    visit(model)
    return numbers, nbytes


def _own_state(module: nn.Module) -> list[Tensor]:
    own = [p.detach() for p in module.parameters(recurse=False)]
    own += [b for name, b in module.named_buffers(recurse=False) if name not in module._non_persistent_buffers_set]
    return own


def _is_dynamic_quantized_linear(module: nn.Module) -> bool:
    try:
        from torch.ao.nn.quantized.dynamic import Linear as DynLinear
    except ImportError:  # pragma: no cover
        return False
    return isinstance(module, DynLinear)


class Measured(Recommender):
    """A compressed model: delegates scoring to ``inner`` and reports :func:`storage` as its size.

    Wrapping makes the runner's own ``count_parameters``/``model_bytes`` (which ask ``storage()``)
    agree with the compression rows.
    """

    def __init__(self, inner: Recommender) -> None:
        nn.Module.__init__(self)
        self.inner = inner
        self.n_users, self.n_items = inner.n_users, inner.n_items
        self.batch_kind = inner.batch_kind

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.inner.score(users, items)

    def score_all(self, users: Tensor) -> Tensor:
        return self.inner.score_all(users)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.inner(batch)

    def storage(self) -> tuple[int, int]:
        return storage(self.inner)


def unwrap(model: Recommender) -> Recommender:
    while isinstance(model, Measured):
        model = model.inner
    return model


def replace_module(root: nn.Module, name: str, new: nn.Module) -> None:
    """Set the submodule at dotted ``name`` of ``root`` to ``new``."""
    parent_name, _, leaf = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, leaf, new)


def teacher_topk(model: Recommender, users: np.ndarray, seen: Any, k: int, batch_users: int = 1024) -> Tensor:
    """The model's top-``k`` items per user, training items masked: ``long[len(users), k]``."""
    out = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(users), batch_users):
            chunk = users[start : start + batch_users]
            scores = model.score_all(torch.as_tensor(chunk, dtype=torch.long)).float()
            if seen is not None:
                block = seen[chunk].tocoo()
                scores[
                    torch.as_tensor(block.row, dtype=torch.long), torch.as_tensor(block.col, dtype=torch.long)
                ] = -float("inf")
            out.append(scores.topk(min(k, scores.shape[1]), dim=1).indices)
    return torch.cat(out) if out else torch.empty(0, k, dtype=torch.long)


__all__ = [
    "markdown_table",
    "Compressor",
    "CompressionContext",
    "Measured",
    "StageModel",
    "stage_specs",
    "run_chain",
    "storage",
    "tensor_storage",
    "retention",
    "source_run",
    "source_config",
    "load_trained",
    "teacher_topk",
    "replace_module",
    "unwrap",
]
