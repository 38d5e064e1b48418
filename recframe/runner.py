"""The runner: one composed config in, one run directory with ``results.json`` out.

Steps: check the config; build data source, filters, splitter, model, loss and metrics through the
registries; fit (Lightning for torch models, ``fit()`` for closed-form ones); evaluate validation
and test with full ranking, masking seen items, or sampled ranking (``protocol.ranking``); measure cost; write ``results.json`` and per-user
metric values atomically; print the protocol and the table.
"""

from __future__ import annotations

import inspect
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

import recframe
from recframe import config as rconfig
from recframe.atomic import atomic_path, write_json
from recframe.data.filters import apply_filters
from recframe.data.interactions import Interactions
from recframe.data.source import build_source, load_dataset
from recframe.data.split import Split
from recframe.errors import ConfigError, RecframeError, did_you_mean
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.models import DatasetInfo, Recommender, count_parameters, model_bytes
from recframe.param_aliases import resolve_param_aliases
from recframe.plugins import call_lifecycle, registries
from recframe.protocol import protocol_block

log = logging.getLogger(__name__)


@dataclass
class Run:
    """What lifecycle hooks see: the config, the run folder and the pieces built so far."""

    cfg: DictConfig
    run_dir: Path
    data: Interactions | None = None
    split: Split | None = None
    model: Recommender | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def derive_seeds(seed: int, n: int) -> list[int]:
    """Independent seeds for the split, the sampler and model init, from one run seed."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(int(seed)).spawn(n)]


def build(factory: Any, kind: str, name: str, params: dict[str, Any], *leading: Any) -> Any:
    """Call a registered factory with config params, checking the keys against its signature."""
    params = resolve_param_aliases(factory, kind, name, params)  # deprecated names -> new (warns once)
    sig = inspect.signature(factory)
    accepted = [p.name for p in sig.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)][len(leading):]
    if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        for key in params:
            if key not in accepted:
                raise ConfigError(f"{kind}.{key} is not a parameter of {kind} '{name}' (parameters: "
                                  f"{', '.join(accepted) or 'none'}){did_you_mean(key, accepted)}")
    try:
        return factory(*leading, **params)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{kind} '{name}' rejected its config: {exc}") from None


def _group_params(node: DictConfig) -> tuple[str, dict[str, Any]]:
    params = OmegaConf.to_container(node, resolve=True)
    return str(params.pop("name")), params


def load_data(cfg: DictConfig) -> Interactions:
    regs = registries()
    name, params = _group_params(cfg.data)
    source_cls = regs.data_source.get(name, config_key="data.name")
    source = build_source(source_cls, name, {"name": name, **params})
    return load_dataset(name, source, use_cache=bool(cfg.data_cache))


def make_split(cfg: DictConfig, data: Interactions, seed: int) -> Split:
    protocol = OmegaConf.to_container(cfg.protocol, resolve=True)
    data = apply_filters(data, protocol.get("filters") or [])
    threshold = protocol.get("implicit_threshold")
    if threshold is not None:
        if data.rating is None:
            raise ConfigError("protocol.implicit_threshold is set but the dataset has no ratings; set it to null")
        data = data.subset(data.rating >= float(threshold)).compact()
    labels = protocol.get("labels")
    if labels:  # CTR: ratings become 0/1 labels, the ratings in between are dropped
        from recframe.data.features import labels_from_ratings

        data = labels_from_ratings(data, float(labels["positive_min"]), float(labels["negative_max"])).compact()
    spec = dict(protocol["split"])
    name = spec.pop("name")
    splitter = registries().splitter.get(name, config_key="protocol.split.name")
    return build(splitter, "protocol.split", name, {**spec, "seed": seed}, data)


def cold_fallback(protocol: dict[str, Any], model: Recommender, model_name: str, split: Split,
                  info: DatasetInfo) -> dict[str, Any]:
    """Apply ``protocol.cold_fallback`` when valid/test hold items absent from training.

    A model that cannot score such items (``scores_unseen_items`` False: its item parameters were
    never trained on them) either stops the run (``error``) or has them ranked below every trained
    item (``popularity``, the default, as Pop ranks them). Returns the facts stored under ``run``.
    """
    unseen = info.item_popularity == 0
    held = np.union1d(split.valid.item, split.test.item)
    n_cold = int(unseen[held].sum()) if len(held) else 0
    if not n_cold or getattr(model, "scores_unseen_items", False):
        return {"cold_items": n_cold} if n_cold else {}
    policy = str(protocol.get("cold_fallback") or "popularity")
    if policy == "error":
        raise ConfigError(f"model '{model_name}' is purely collaborative and cannot score the {n_cold} valid/test "
                          f"items absent from training; use a content model (model=content_knn) or set "
                          f"protocol.cold_fallback=popularity to rank them below every trained item")
    if policy != "popularity":
        raise ConfigError(f"protocol.cold_fallback must be 'error' or 'popularity', got {policy!r}")
    model.unseen_items = torch.from_numpy(np.flatnonzero(unseen))
    log.info("model '%s' cannot score %d valid/test items absent from training: ranked last "
             "(protocol.cold_fallback=popularity)", model_name, n_cold)
    return {"cold_items": n_cold, "cold_fallback": "popularity"}


def build_metrics(cfg: DictConfig, info: DatasetInfo | None = None) -> dict[str, Any]:
    """Metric instances by key: one per cut-off for ``topk``/``list`` metrics, one for the others."""
    regs = registries()
    metrics = {}
    for name in cfg.metrics.names:
        cls = regs.metric.get(name, config_key="metrics.names")
        family = getattr(cls, "family", "topk")
        if family in ("score", "pointwise"):
            instances = [cls()]
        elif family == "list":
            if info is None:
                raise ConfigError(f"metric '{name}' needs the training data's item popularity")
            instances = [cls(k=int(k), item_popularity=info.item_popularity, n_users=info.n_users)
                         for k in cfg.protocol.cutoffs]
        else:
            instances = [cls(k=int(k)) for k in cfg.protocol.cutoffs]
        metrics.update({m.key: m for m in instances})
    return metrics


def ranking_targets(split: Split, filter_seen: bool) -> dict[str, RankingTarget]:
    return {part: RankingTarget(split.part(part).to_csr(), split.seen_before(part) if filter_seen else None,
                                split.history(part))
            for part in ("valid", "test")}


def score_latency_ms_per_1k(model: Recommender, n_users: int, repeats: int = 3, budget_s: float = 2.0) -> float:
    """Median wall time of ``score_all`` for 1,000 users (fewer if the data has fewer), per 1k users.

    Models whose scoring is slow (a deep CTR model scores every user-item pair through its network)
    are timed on fewer users, as many as the 8-user warm-up predicts to fit in ``budget_s`` per repeat.
    """
    users = torch.arange(min(1000, n_users))
    times = []
    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        model.score_all(users[:8])  # warm-up
        per_user = (time.perf_counter() - start) / min(8, len(users))
        users = users[:max(8, min(len(users), int(budget_s / max(per_user, 1e-9))))]
        for _ in range(repeats):
            start = time.perf_counter()
            model.score_all(users)
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0 * 1000.0 / len(users))


def environment(train_device: str = "cpu") -> dict[str, Any]:
    """Versions and the device the model was trained on (``cpu`` for models fitted in closed form), for results.json."""
    import lightning

    device = str(train_device)
    if device.startswith("cuda") and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": lightning.__version__,
            "numpy": np.__version__, "platform": platform.platform(), "device": device,
            "cpu_threads": torch.get_num_threads()}


def execute(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Run one experiment in ``run_dir`` and return the contents of its ``results.json``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    from recframe import compression

    source = compression.source_run(cfg)  # compressor.from_run: compress a saved run's model
    if source is not None:
        cfg = compression.source_config(cfg, source)
    rconfig.validate(cfg)
    regs = registries()
    split_seed, sampler_seed, init_seed, candidate_seed = derive_seeds(cfg.seed, 4)
    protocol = protocol_block(cfg)
    ranking = protocol.get("ranking", "full")
    if ranking not in ("full", "sampled", "none"):
        raise ConfigError(f"protocol.ranking must be 'full', 'sampled' or 'none', got {ranking!r}")

    data = load_data(cfg)
    split = make_split(cfg, data, split_seed)
    features = None
    if OmegaConf.select(cfg, "data.features", default=None) is not None:  # declared feature fields
        from recframe.data.features import build_features

        features = build_features(OmegaConf.to_container(cfg.data.features, resolve=True), split.train)
    info = DatasetInfo(split.n_users, split.n_items, split.train,
                       np.bincount(split.train.item, minlength=split.n_items), features)
    model_name, model_params = _group_params(cfg.model)
    model_cls = regs.model.get(model_name, config_key="model.name")
    torch.manual_seed(init_seed)
    model = build(model_cls, "model", model_name, model_params, info)
    cold = cold_fallback(protocol, model, model_name, split, info)
    run = Run(cfg, run_dir, data, split, model)
    call_lifecycle("on_run_start", run=run)

    metrics = build_metrics(cfg, info)
    pointwise = {k: metrics.pop(k) for k in list(metrics) if getattr(metrics[k], "family", "") == "pointwise"}
    if pointwise:
        from recframe.evaluation.pointwise import check_pointwise

        check_pointwise(pointwise, split.train)
    if ranking == "none":  # labelled records only (CTR): pointwise metrics, no top-K lists
        from recframe.evaluation.labeled import labeled_evaluation

        evaluator, targets = labeled_evaluation(split, {**metrics, **pointwise}, features)
        pointwise = {}
    elif ranking == "sampled":
        from recframe.evaluation.sampled import sampled_evaluation

        evaluator, targets = sampled_evaluation(protocol, split, metrics, int(cfg.trainer.eval_batch_users),
                                                candidate_seed, run_dir)
    else:
        evaluator = RankingEvaluator(metrics, batch_users=int(cfg.trainer.eval_batch_users),
                                     ties=str(protocol.get("ties", "torch.topk")))
        targets = ranking_targets(split, bool(protocol.get("filter_seen", True)))
    if not len(getattr(targets.get("valid"), "users", ())):
        protocol["model_selection"] = "none: no validation part, the last model is tested"
    fit_start = time.perf_counter()
    fit_facts: dict[str, Any] = {}
    if source is not None:
        fit_facts = compression.load_trained(model, source, split.train)
    elif model.trainable:
        from recframe.training.fit import fit_torch_model

        loss_name, loss_params = _group_params(cfg.loss)
        loss = build(regs.loss.get(loss_name, config_key="loss.name"), "loss", loss_name, loss_params)
        batches = None
        if ranking == "none":
            from recframe.evaluation.labeled import labeled_batches

            batches = labeled_batches(split.train, features, int(cfg.trainer.batch_size), sampler_seed)
        fit_facts = fit_torch_model(cfg, run_dir, model, loss, split, evaluator, targets["valid"], sampler_seed,
                                    batches)
    else:
        model.fit(split.train)
    fit_seconds = time.perf_counter() - fit_start

    eval_start = time.perf_counter()
    values: dict[str, float] = {}
    per_user: dict[str, dict[str, np.ndarray]] = {}
    for part in [p for p in ("valid", "test") if len(targets[p].users)]:  # NCF may have no validation
        scores, per = evaluator.evaluate(model, targets[part], keep_per_user=True, keep_lists=part == "test")
        if part == "test" and "topk" in per:
            save_topk(run_dir / "topk.npz", targets[part].users, per.pop("topk"))
        if pointwise:
            from recframe.evaluation.pointwise import evaluate_pointwise

            scores.update(evaluate_pointwise(model, split.part(part), pointwise))
        values.update({f"{part}/{k}": v for k, v in scores.items()})
        if per:
            per_user[part] = per
    eval_seconds = time.perf_counter() - eval_start

    results = {
        "recframe_version": recframe.__version__,
        "run": {"model": model_name, "data": str(cfg.data.name), "seed": int(cfg.seed),
                "config_hash": rconfig.config_hash(cfg), "name": str(cfg.name), **cold, **fit_facts},
        "protocol": protocol,
        "data": {**data.counts(), **split.counts(),
                 "filtered": {"users": split.n_users, "items": split.n_items,
                              "interactions": sum(split.counts().values())}},
        "metrics": values,
        "cost": {"params": count_parameters(model), "model_bytes": model_bytes(model),
                 "fit_seconds": round(fit_seconds, 4), "eval_seconds": round(eval_seconds, 4),
                 "score_latency_ms_per_1k_users": round(score_latency_ms_per_1k(model, split.n_users), 4)},
        "environment": environment(str(fit_facts.get("train_device") or "cpu")),
    }
    if source is not None and fit_facts.get("source_fit_seconds") is not None:
        results["cost"]["fit_seconds"] = fit_facts["source_fit_seconds"]
    stages = compression.stage_specs(cfg)
    if stages:
        context = compression.CompressionContext(cfg, run_dir, split, info, evaluator, targets, sampler_seed)
        results["compressed"] = compression.run_chain(stages, model, context, results,
                                                           compression.chained(cfg))
    save_per_user(run_dir / "per_user.npz", per_user, targets)
    write_json(run_dir / "results.json", results)
    call_lifecycle("on_run_end", run=run, results=results)
    return results


def save_topk(path: Path, users: np.ndarray, items: np.ndarray) -> None:
    """Each test user's top-K list: ``users: int64[n]``, ``items: int32[n, K]`` (``-1`` padded)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, users=users, items=items)


def save_per_user(path: Path, per_user: dict[str, dict[str, np.ndarray]],
                  targets: dict[str, RankingTarget]) -> None:
    """Per-user metric values (``<part>/<metric>`` arrays aligned with ``<part>/users``)."""
    arrays: dict[str, np.ndarray] = {f"{part}/users": targets[part].users for part in per_user}
    for part, per in per_user.items():
        arrays.update({f"{part}/{k}": v for k, v in per.items()})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def run(overrides: list[str] | tuple[str, ...] = (), run_dir: str | Path | None = None,
        print_table: bool = False) -> dict[str, Any]:
    """Compose a config from ``overrides`` (as on the command line), run it, and return the results.

    The run directory is the one the CLI would use (``hydra.run.dir``) unless ``run_dir`` is given.
    """
    from hydra.core.hydra_config import HydraConfig

    cfg = rconfig.compose(list(overrides))
    HydraConfig.instance().set_config(cfg)
    target = Path(run_dir) if run_dir is not None else Path(str(cfg.hydra.run.dir))
    target.mkdir(parents=True, exist_ok=True)
    hydra_dir = target / ".hydra"
    hydra_dir.mkdir(exist_ok=True)
    from recframe.atomic import write_text

    write_text(hydra_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(rconfig.plain(cfg))))
    write_text(hydra_dir / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(list(overrides))))
    results = execute(cfg, target)
    if print_table:
        from recframe.console import print_results

        print_results(results)
    return results


__all__ = ["run", "execute", "Run", "RecframeError"]
