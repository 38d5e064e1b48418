"""A model's fitted state as flat tensors, and back, without pickling any object.

Two kinds of state are saved:

* the ``state_dict`` (parameters and persistent buffers) of every gradient-trained model, and of
  closed-form models that keep their state in buffers (EASE's ``B``, iALS's factors, Pop's counts);
* plain attributes of the model or any submodule that hold fitted numbers but are not buffers: a
  ``Tensor``, a numeric ``numpy`` array or a ``scipy.sparse`` matrix (ItemKNN's similarity CSR, the
  training rows EASE and Mult-VAE score from, the cold-fallback ``unseen_items``). They are found by
  walking the modules' attributes, so a new closed-form model is saved with no code of its own.

A model whose state is elsewhere overrides :meth:`recframe.models.Recommender.serving_state` (``dict[str,
Tensor | ndarray | spmatrix]`` instead of ``None``) and ``load_serving_state(state)``; those replace the
attribute walk for it. The model's own attributes are put back through ``load_serving_state`` (by default
one ``setattr`` each), its submodules' by ``setattr``.
Attributes whose names start with ``_`` are caches and are not saved.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recframe.errors import ConfigError
from recframe.models import Recommender

SPARSE_PARTS = ("data", "indices", "indptr")
#: (safetensors keys, layout entry) of one saved value
Packed = tuple[dict[str, Tensor], dict[str, Any]]


def _plain(t: Tensor) -> Tensor:
    """A contiguous CPU copy that owns its memory (safetensors refuses shared or strided storage)."""
    return t.detach().to("cpu").contiguous().clone()


def _saveable(value: Any) -> bool:
    if isinstance(value, Tensor):
        return not value.is_quantized and value.layout == torch.strided
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    return sp.issparse(value) and value.format in ("csr", "csc", "coo")


def pack(key: str, value: Any) -> Packed:
    """Safetensors entries and a JSON layout entry for one tensor, array or sparse matrix."""
    if isinstance(value, Tensor):
        return {key: _plain(value)}, {"kind": "tensor"}
    if isinstance(value, np.ndarray):
        return {key: torch.from_numpy(np.ascontiguousarray(value).copy())}, {"kind": "array"}
    fmt = value.format
    m = value.tocsr() if fmt == "coo" else value
    tensors = {
        f"{key}.{part}": torch.from_numpy(np.ascontiguousarray(getattr(m, part)).copy()) for part in SPARSE_PARTS
    }
    return tensors, {"kind": "sparse", "format": "csr" if fmt == "coo" else fmt, "shape": list(m.shape)}


def unpack(key: str, entry: dict[str, Any], tensors: dict[str, Tensor]) -> Any:
    """The value :func:`pack` stored under ``key``."""
    kind = entry["kind"]
    if kind == "tensor":
        return tensors[key]
    if kind == "array":
        return tensors[key].numpy()
    parts = [tensors[f"{key}.{part}"].numpy() for part in SPARSE_PARTS]
    cls = sp.csr_matrix if entry["format"] == "csr" else sp.csc_matrix
    return cls(tuple(parts), shape=tuple(entry["shape"]))


def fitted_attributes(model: Recommender) -> dict[str, Any]:
    """``{"<submodule path>:<attribute>": value}`` for every saveable plain attribute (see module doc)."""
    custom = model.serving_state() if isinstance(model, Recommender) else None
    if custom is not None:
        return {f":{name}": value for name, value in custom.items()}
    found: dict[str, Any] = {}
    for path, module in model.named_modules():
        for name, value in vars(module).items():
            if name.startswith("_") or name == "training":
                continue
            if _saveable(value):
                found[f"{path}:{name}"] = value
    return found


def model_state(model: Recommender) -> Packed:
    """Everything :func:`restore_state` needs: safetensors entries and their JSON layout."""
    tensors: dict[str, Tensor] = {}
    layout: dict[str, Any] = {"state": [], "attributes": {}}
    for name, value in model.state_dict().items():
        if not isinstance(value, Tensor) or not _saveable(value):
            raise ConfigError(
                f"model state '{name}' is a {type(value).__name__} that cannot be saved as a plain tensor"
            )
        tensors[f"state/{name}"] = _plain(value)
        layout["state"].append(name)
    for key, value in fitted_attributes(model).items():
        packed, entry = pack(f"attr/{key}", value)
        tensors.update(packed)
        layout["attributes"][key] = entry
    return tensors, layout


def restore_state(model: Recommender, tensors: dict[str, Tensor], layout: dict[str, Any]) -> None:
    """Load what :func:`model_state` saved into a freshly built ``model`` of the same config."""
    state = {name: tensors[f"state/{name}"] for name in layout["state"]}
    own: dict[str, Any] = {}
    for key, entry in layout["attributes"].items():  # first: a buffer replaced by assignment may have a new shape
        path, _, name = key.partition(":")
        value = unpack(f"attr/{key}", entry, tensors)
        if path:
            setattr(model.get_submodule(path), name, value)
        else:
            own[name] = value
    model.load_serving_state(own)
    current = model.state_dict()
    for name, value in state.items():  # buffers a fit re-assigned with another shape (EASE's B)
        if name in current and current[name].shape != value.shape:
            owner, _, leaf = name.rpartition(".")
            module = model.get_submodule(owner) if owner else model
            if leaf in module._buffers:
                module._buffers[leaf] = torch.empty_like(value)
    model.load_state_dict(state, strict=True)
