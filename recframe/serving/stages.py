"""Compressed stages of a run, saved beside its trained model and loaded back in its place.

Layout (one folder per stage of ``cfg.compressor``, each written atomically)::

    model/stages/<index>-<name>/
      stage.json           format, index, name, the stage's config, ``source`` (the stage it compressed:
                           an index, ``null`` for the trained model), the state layout, ``reloadable``
      weights.safetensors  the stage model's state (int8 tables and their float scales, low-rank factors,
                           pruned weights, a distilled student), through :mod:`recframe.serving.state`
      topk.npz             the test users' top-K the stage was evaluated with (``users``, ``items``)

Loading a stage (``recframe.load(run_dir, stage="quantize")``): the trained model is rebuilt as for
``recframe.load(run_dir)``, then the chain up to the stage is replayed without training: each stage's
compressor is built from its saved config, :meth:`recframe.compression.Compressor.rebuild` gives the
compressed structure of the previous model, and the stage's saved state is loaded over it. A stage
whose compressor sets ``rebuild_is_exact`` and whose state has no plain-tensor form (int8 dynamic
linear layers) saves no weights: the rebuild is its state. A stage that cannot be reloaded is still
listed (``reloadable: false`` with the reason); loading it is a one-line :class:`ConfigError`.
Nothing is pickled; a saving failure is logged and never fails the run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from recframe.errors import ConfigError, PluginError
from recframe.serving.artifact import MODEL_DIR, SavedRun, dataset_info

log = logging.getLogger(__name__)

STAGES_DIR = "stages"
STAGE_FORMAT = "recframe-stage"
STAGE_FORMAT_VERSION = 1


def folder_name(index: int, name: str) -> str:
    return f"{index}-{name}"


def _reason_not_reloadable(compressor: Any) -> str | None:
    from recframe.compression import Compressor

    if type(compressor).rebuild is Compressor.rebuild:
        return f"its compressor {type(compressor).__qualname__} defines no rebuild(model, context)"
    return None


def save_stage(root: Path, stage: Any, test_users: np.ndarray | None) -> Path | None:
    """Write ``root/<index>-<name>/`` for one :class:`recframe.compression.StageModel`; ``None`` if not written."""
    from safetensors.torch import save_file

    from recframe.serving.state import model_state

    meta: dict[str, Any] = {
        "format": STAGE_FORMAT,
        "format_version": STAGE_FORMAT_VERSION,
        "index": int(stage.index),
        "name": stage.name,
        "config": stage.spec,
        "source": stage.source,
        "compressor_class": f"{type(stage.compressor).__module__}.{type(stage.compressor).__qualname__}",
        "reloadable": True,
        "state": None,
    }
    tensors: dict[str, Any] = {}
    reason = _reason_not_reloadable(stage.compressor)
    if reason is None:
        try:
            tensors, meta["state"] = model_state(stage.model)
        except ConfigError as exc:
            if not getattr(stage.compressor, "rebuild_is_exact", False):
                reason = f"its state cannot be saved as plain tensors ({exc})"
    if reason is not None:
        meta.update(reloadable=False, reason=reason)
    target = root / folder_name(stage.index, stage.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=root))
    try:
        if meta["state"] is not None:
            save_file(tensors, str(tmp / "weights.safetensors"))
        if stage.test_topk is not None and test_users is not None:
            with open(tmp / "topk.npz", "wb") as fh:
                np.savez(fh, users=np.asarray(test_users), items=np.asarray(stage.test_topk))
        (tmp / "stage.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("compressed stage %s not saved for serving: %s", target.name, exc)
        return None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    if reason is not None:
        log.warning("compressed stage %s saved without weights: it cannot be reloaded (%s)", target.name, reason)
    return target


def save_stages(run_dir: str | Path, stages: list[Any], test_users: np.ndarray | None) -> list[Path]:
    """Write every stage's folder under ``<run_dir>/model/stages/`` (after the trained model's folder)."""
    model_dir = Path(run_dir) / MODEL_DIR
    if not stages:
        return []
    if not (model_dir / "format.json").is_file():
        log.warning("compressed stages not saved for serving: the trained model was not saved")
        return []
    root = model_dir / STAGES_DIR
    root.mkdir(exist_ok=True)
    written = [save_stage(root, stage, test_users) for stage in stages]
    return [p for p in written if p is not None]


def list_stages(run_dir: str | Path) -> list[dict[str, Any]]:
    """The saved stages, by index: ``{index, name, folder, source, reloadable, reason}``."""
    root = Path(run_dir) / MODEL_DIR / STAGES_DIR
    out = []
    for meta_path in sorted(root.glob("*/stage.json")) if root.is_dir() else []:
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("format") != STAGE_FORMAT:
            continue
        out.append(
            {
                "index": meta.get("index"),
                "name": meta.get("name"),
                "folder": meta_path.parent.name,
                "source": meta.get("source"),
                "reloadable": bool(meta.get("reloadable")),
                "reason": meta.get("reason"),
            }
        )
    return sorted(out, key=lambda e: e["index"] if isinstance(e["index"], int) else 1 << 30)


def resolve(run_dir: Path, stage: int | str) -> dict[str, Any]:
    """The saved stage ``stage`` names: its index, its folder name (``1-quantize``) or its (unique) name."""
    stages = list_stages(run_dir)
    available = ", ".join(e["folder"] for e in stages) or "none"
    key = str(stage)
    found = [e for e in stages if key in (str(e["index"]), e["folder"])] or [e for e in stages if e["name"] == key]
    if not found:
        raise ConfigError(f"stage={stage!r}: {run_dir} has no such compressed stage (saved stages: {available})")
    if len(found) > 1:
        raise ConfigError(
            f"stage={stage!r} names {len(found)} stages of {run_dir} "
            f"({', '.join(e['folder'] for e in found)}): give the index or the folder name"
        )
    return found[0]


def _read_stage(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "stage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder / 'stage.json'} is not readable JSON ({exc}); run the experiment again") from None
    if meta.get("format_version", 0) > STAGE_FORMAT_VERSION:
        raise ConfigError(
            f"{folder} was saved in stage format {meta['format_version']}; this recframe reads "
            f"format {STAGE_FORMAT_VERSION}: upgrade recframe"
        )
    if not meta.get("reloadable"):
        raise ConfigError(f"compressed stage {folder.name} cannot be reloaded: {meta.get('reason')}")
    return meta


def stage_model(saved: SavedRun, entry: dict[str, Any], context: Any, cache: dict[int, Any]) -> Any:
    """The model of the stage ``entry`` (its source stages first), rebuilt and its state loaded."""
    from omegaconf import OmegaConf
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from recframe.factory import build
    from recframe.plugins import registries
    from recframe.serving.state import restore_state

    index = int(entry["index"])
    if index in cache:
        return cache[index]
    folder = saved.run_dir / MODEL_DIR / STAGES_DIR / entry["folder"]
    meta = _read_stage(folder)
    if meta.get("source") is None:
        source = saved.model
    else:
        by_index = {e["index"]: e for e in list_stages(saved.run_dir)}
        if meta["source"] not in by_index:
            raise ConfigError(
                f"compressed stage {folder.name} compressed stage {meta['source']}, which is not saved "
                f"in {folder.parent}; run the experiment again"
            )
        source = stage_model(saved, by_index[meta["source"]], context, cache)
    params = dict(meta["config"])
    name = str(params.pop("name"))
    try:
        cls = registries().compressor.get(name, config_key="compressor.name")
    except PluginError:
        raise ConfigError(
            f"compressed stage {folder.name} needs the compressor '{name}', which no installed plugin "
            f"registers: install the plugin that provides it"
        ) from None
    compressor = build(cls, "compressor", name, params)
    context.cfg = OmegaConf.create(saved.config)
    model = compressor.rebuild(source, context)
    if meta.get("state") is not None:
        weights = folder / "weights.safetensors"
        if not weights.is_file():
            raise ConfigError(f"{folder} is incomplete: weights.safetensors is missing; run the experiment again")
        try:
            tensors = load_file(str(weights))
        except SafetensorError as exc:
            raise ConfigError(f"{weights} is not a safetensors file ({exc}); run the experiment again") from None
        try:
            restore_state(model, tensors, meta["state"])
        except (KeyError, RuntimeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"{weights} does not fit the rebuilt '{name}' stage ({first}); was the plugin "
                f"changed since the run? run the experiment again"
            ) from None
    model.eval()
    cache[index] = model
    return model


def with_stage(saved: SavedRun, stage: int | str) -> SavedRun:
    """``saved`` with the compressed stage ``stage``'s model in place of the trained model."""
    from recframe.compression import CompressionContext, unwrap
    from recframe.models import apply_history

    entry = resolve(saved.run_dir, stage)
    info = dataset_info(saved.config, saved.train, saved.item_popularity)
    seed = int(saved.config.get("seed") or 0)
    context = CompressionContext(
        cfg=None, run_dir=saved.run_dir, split=None, info=info, evaluator=None, targets={}, seed=seed
    )
    model = stage_model(saved, entry, context, {})
    apply_history(unwrap(model), saved.history)  # the wrapper does not forward the history
    return dataclasses.replace(saved, model=model, stage=entry)


__all__ = ["save_stages", "list_stages", "with_stage", "STAGES_DIR"]
