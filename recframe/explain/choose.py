"""Finding the explainer for a model: by name from the ``explainer`` registry, or ``auto``.

``auto`` takes, among the registered explainers that support the model, one that lists the model's
registry name in its ``models``, exact ones first, then by ``auto_rank`` and name; else any that
supports it (a gradient baseline). A named explainer that cannot explain the model is a one-line error.
"""

from __future__ import annotations

from typing import Any

from recframe.errors import ConfigError
from recframe.explain.base import Explainer, unsupported


def explainer_names() -> list[str]:
    from recframe.plugins import registries

    return registries().explainer.names()


def build_explainer(name: str) -> Explainer:
    """The registered explainer ``name``, constructed with no arguments."""
    from recframe.plugins import registries

    cls = registries().explainer.get(name, config_key="explain.explainer")
    return cls()


def model_registry_name(model_name: str) -> str:
    """The canonical registry name of a model name or alias (``mf`` -> ``bpr``)."""
    from recframe.plugins import registries

    try:
        return registries().model.entry(model_name).name
    except Exception:
        return model_name


def choose_explainer(model: Any, model_name: str, name: str = "auto") -> tuple[str, Explainer]:
    """``(name, explainer)`` for ``model`` (registered as ``model_name``); ``name='auto'`` picks one."""
    canonical = model_registry_name(model_name)
    if name != "auto":
        explainer = build_explainer(name)
        if not explainer.supports(model):
            raise unsupported(name, explainer, canonical)
        return name, explainer
    found = [(n, e) for n, e in ((n, build_explainer(n)) for n in explainer_names()) if e.supports(model)]
    if found:
        return min(found, key=lambda ne: (canonical not in ne[1].models, not ne[1].exact, ne[1].auto_rank, ne[0]))
    raise ConfigError(
        f"no registered explainer supports model '{canonical}' (explainers: {', '.join(explainer_names())})"
    )
