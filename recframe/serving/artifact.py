"""The saved model folder of a run (``<run_dir>/model/``): write it once per run, read it back with
no access to the dataset files.

Layout (every file written atomically; the folder appears in one rename)::

    model/
      format.json        format name and version, recframe version, model name and class, what is saved
      config.yaml        the run's resolved config (model parameters, protocol, data.features)
      weights.safetensors  the fitted state (recframe/serving/state.py): state_dict and fitted attributes
      data.npz           id maps and the interactions the model knows (allow_pickle=False):
                         user_ids, item_ids (original ids by internal id), item_popularity,
                         train/{user,item,rating,timestamp}, valid/{user,item,rating,timestamp}
      items.parquet      item metadata (titles, genres...) by internal id, where the data has it
                         (first column ``recframe_id``: the original id)
      users.parquet      user features, where the data has them

Nothing is pickled: tensors load through safetensors, arrays through ``numpy.load(allow_pickle=False)``,
tables through Parquet. A folder without ``model/`` (an older recframe), a newer format or a model no
installed plugin registers is a one-line :class:`recframe.errors.ConfigError`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recframe.data.interactions import Interactions
from recframe.errors import ConfigError, PluginError

log = logging.getLogger(__name__)

MODEL_DIR = "model"
FORMAT = "recframe-model"
FORMAT_VERSION = 1
PARTS = ("train", "valid")
COLUMNS = ("user", "item", "rating", "timestamp")
ID_COLUMN = "recframe_id"  # the original id, first column of items.parquet / users.parquet


def _ids_array(ids: np.ndarray) -> np.ndarray:
    """Original ids as a numeric or fixed-width unicode array (object arrays would need pickle)."""
    ids = np.asarray(ids)
    return ids if ids.dtype.kind in "biuf" else ids.astype(str)


def _parts_arrays(split: Any) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for part in PARTS:
        data = split.part(part)
        for col in COLUMNS:
            value = getattr(data, col)
            if value is not None:
                arrays[f"{part}/{col}"] = np.asarray(value)
    return arrays


def _feature_table(table: pd.DataFrame | None, ids: np.ndarray) -> pd.DataFrame | None:
    if table is None or not len(table.columns):
        return None
    out = table.reset_index(drop=True).copy()
    out.insert(0, ID_COLUMN, ids)
    out.columns = [str(c) for c in out.columns]
    return out


def write_folder(folder: Path, tensors: dict[str, Any], meta: dict[str, Any], split: Any, cfg: Any) -> None:
    """Write the files of a model folder into ``folder`` (a temporary folder :func:`save_model` renames)."""
    from omegaconf import OmegaConf
    from safetensors.torch import save_file

    from recframe import config as rconfig

    train = split.train
    save_file(tensors, str(folder / "weights.safetensors"))
    arrays = {
        "user_ids": _ids_array(train.user_ids),
        "item_ids": _ids_array(train.item_ids),
        "item_popularity": np.bincount(train.item, minlength=split.n_items),
        **_parts_arrays(split),
    }
    with open(folder / "data.npz", "wb") as fh:
        np.savez(fh, **arrays)
    for name, table, ids in (
        ("items", train.item_features, train.item_ids),
        ("users", train.user_features, train.user_ids),
    ):
        frame = _feature_table(table, ids)
        if frame is not None:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
            meta[f"{name}_table"] = f"{name}.parquet"
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(rconfig.plain(cfg))), encoding="utf-8")
    (folder / "format.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def save_model(run_dir: str | Path, model: Any, split: Any, cfg: Any) -> Path | None:
    """Write ``<run_dir>/model/`` for ``model`` fitted on ``split`` under the composed config ``cfg``.

    Called by the runner once results are computed. A model whose state cannot be stored as plain
    tensors (or whose tables Parquet cannot hold) is logged and not saved: the run's results stand.
    The files go into a temporary folder renamed into place; an existing folder is replaced whole,
    and kept if writing the new one fails.
    """
    from recframe import __version__
    from recframe.serving.state import model_state

    run_dir = Path(run_dir)
    try:
        tensors, layout = model_state(model)
    except ConfigError as exc:
        log.warning("model not saved for serving: %s", exc)
        return None
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "recframe_version": __version__,
        "model": str(cfg.model.name),
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "n_users": int(split.n_users),
        "n_items": int(split.n_items),
        "state": layout,
        "uses_history": bool(getattr(model, "uses_history", False)),
    }
    target = run_dir / MODEL_DIR
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR}.", suffix=".tmp", dir=run_dir))
    try:
        write_folder(tmp, tensors, meta, split, cfg)
    except (ValueError, TypeError) as exc:  # e.g. a feature table Parquet cannot hold: the run's results stand
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("model not saved for serving: %s", exc)
        return None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = run_dir / f".{MODEL_DIR}.old"
    if target.exists():  # a re-run replaces the folder whole: the old one is dropped only once the new is in place
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


@dataclass
class SavedRun:
    """What a saved model folder holds, read back: the model (rebuilt, weights loaded, eval mode),
    the config, the id maps, the known interactions and the tables."""

    run_dir: Path
    meta: dict[str, Any]
    config: dict[str, Any]
    model: Any
    user_ids: np.ndarray  # original id of each internal user id
    item_ids: np.ndarray  # original id of each internal item id
    train: Interactions
    valid: Interactions
    item_popularity: np.ndarray  # int64[n_items]
    items: pd.DataFrame | None  # item metadata by internal id (first column recframe_id: the original id)
    results: dict[str, Any]
    #: the compressed stage loaded in place of the trained model (its ``stage.json``), ``None``: the trained model
    stage: dict[str, Any] | None = None

    @property
    def history(self) -> Interactions:
        """Everything the model saw before the test part (train and validation), as the test ranking used."""
        from recframe.data.sequences import concat

        return concat([self.train, self.valid]) if len(self.valid) else self.train


def _read_meta(run_dir: Path) -> dict[str, Any]:
    folder = run_dir / MODEL_DIR
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such run folder")
    if not (folder / "format.json").is_file():
        hint = (
            (" (it has results.json: it was written by a recframe that did not save models; run it again to save one)")
            if (run_dir / "results.json").is_file()
            else " (is it a run folder?)"
        )
        raise ConfigError(f"{run_dir} has no saved model ({MODEL_DIR}/format.json is missing){hint}")
    try:
        meta = json.loads((folder / "format.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder / 'format.json'} is not readable JSON ({exc}); run the experiment again") from None
    if meta.get("format") != FORMAT or not isinstance(meta.get("format_version"), int):
        raise ConfigError(f"{folder / 'format.json'} is not a recframe model folder (format: {meta.get('format')!r})")
    if meta["format_version"] > FORMAT_VERSION:
        raise ConfigError(
            f"{folder} was saved in model format {meta['format_version']} by recframe "
            f"{meta.get('recframe_version')}; this recframe reads format {FORMAT_VERSION}: "
            f"upgrade recframe"
        )
    for name in ("weights.safetensors", "data.npz", "config.yaml"):
        if not (folder / name).is_file():
            raise ConfigError(f"{folder} is incomplete: {name} is missing; run the experiment again")
    return meta


def _part(
    arrays: Any,
    part: str,
    n_users: int,
    n_items: int,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    items: pd.DataFrame | None,
    users: pd.DataFrame | None,
) -> Interactions:
    cols = {c: arrays[f"{part}/{c}"] if f"{part}/{c}" in arrays.files else None for c in COLUMNS}
    empty = np.zeros(0, dtype=np.int64)
    return Interactions(
        user=cols["user"] if cols["user"] is not None else empty,
        item=cols["item"] if cols["item"] is not None else empty,
        n_users=n_users,
        n_items=n_items,
        rating=cols["rating"],
        timestamp=cols["timestamp"],
        user_ids=user_ids,
        item_ids=item_ids,
        item_features=items,
        user_features=users,
    )


def dataset_info(config: dict[str, Any], train: Interactions, item_popularity: np.ndarray) -> Any:
    """The :class:`DatasetInfo` a model is built from, out of the saved training data and ``data.features``."""
    from recframe.models import DatasetInfo

    features = None
    spec = (config.get("data") or {}).get("features")
    if spec is not None:
        from recframe.data.features import build_features

        features = build_features(spec, train)
    return DatasetInfo(train.n_users, train.n_items, train, item_popularity, features)


def build_saved_model(
    meta: dict[str, Any], config: dict[str, Any], train: Interactions, item_popularity: np.ndarray, folder: Path
) -> Any:
    """Rebuild the model from its config and a :class:`DatasetInfo` of the saved training data, then
    load its weights (safetensors: no code runs while loading)."""
    import torch
    from safetensors.torch import load_file

    from recframe.factory import build
    from recframe.plugins import registries
    from recframe.serving.state import restore_state

    model_cfg = dict(config["model"])
    name = str(model_cfg.pop("name"))
    try:
        model_cls = registries().model.get(name, config_key="model.name")
    except PluginError:
        raise ConfigError(
            f"{folder} holds a '{name}' model ({meta.get('model_class')}), but no installed plugin "
            f"registers the model '{name}': install the plugin that provides it"
        ) from None
    info = dataset_info(config, train, item_popularity)
    torch.manual_seed(0)
    model = build(model_cls, "model", name, model_cfg, info)
    try:
        restore_state(model, load_file(str(folder / "weights.safetensors")), meta["state"])
    except (KeyError, RuntimeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{folder / 'weights.safetensors'} does not fit the installed '{name}' model "
            f"({first}); was the plugin changed since the run? run the experiment again"
        ) from None
    model.eval()
    return model


def load_saved_run(run_dir: str | Path) -> SavedRun:
    """Read ``<run_dir>/model/`` (one-line errors for anything missing or foreign); a compressed stage's
    model is put in place by :func:`recframe.serving.stages.with_stage`."""
    run_dir = Path(run_dir)
    meta = _read_meta(run_dir)
    folder = run_dir / MODEL_DIR
    from omegaconf import OmegaConf

    config = OmegaConf.to_container(OmegaConf.load(folder / "config.yaml"), resolve=True)
    with np.load(folder / "data.npz", allow_pickle=False) as arrays:
        user_ids, item_ids = arrays["user_ids"], arrays["item_ids"]
        items = pd.read_parquet(folder / meta["items_table"]) if meta.get("items_table") else None
        users = pd.read_parquet(folder / meta["users_table"]) if meta.get("users_table") else None
        item_features = None if items is None else items.drop(columns=[ID_COLUMN])
        user_features = None if users is None else users.drop(columns=[ID_COLUMN])
        n_users, n_items = int(meta["n_users"]), int(meta["n_items"])
        train = _part(arrays, "train", n_users, n_items, user_ids, item_ids, item_features, user_features)
        valid = _part(arrays, "valid", n_users, n_items, user_ids, item_ids, item_features, user_features)
        popularity = arrays["item_popularity"]
    model = build_saved_model(meta, config, train, popularity, folder)
    results_path = run_dir / "results.json"
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
    return SavedRun(run_dir, meta, config, model, user_ids, item_ids, train, valid, popularity, items, results)
