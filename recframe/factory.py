"""The one shared factory: build a registered class from its config parameters.

Every configurable object (data source, splitter, model, loss, metric, compressor stage, Optuna
sampler) is built here, and the plan check (:mod:`recframe.plan`) calls :func:`check_params` on the
same parameters before any data is read, so the two can never disagree about what a constructor
accepts.

Errors: a key the constructor does not take, or a required parameter the config does not give, is a
one-line :class:`~recframe.errors.ConfigError` naming the config key. While constructing, a
``ConfigError`` passes through unchanged, and a ``ValueError`` raised by the factory's own package
(its validation of a parameter value, e.g. ``k must be >= 1``) becomes one line naming the object.
Anything else, and a ``ValueError`` raised inside a library the constructor calls, is a bug and
keeps its traceback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any

from recframe.errors import ConfigError, did_you_mean

_TAKES = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _signature(factory: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return None


def parameter_names(factory: Callable[..., Any], n_leading: int = 0) -> list[str] | None:
    """The keyword parameters a config may set (``None`` when the factory takes ``**kwargs``).

    The first ``n_leading`` positional parameters are given by recframe (a model's ``DatasetInfo``,
    a splitter's data, a data source's ``path``), not by the config.
    """
    if _inherits_a_closed_constructor(factory):
        return []
    sig = _signature(factory)
    if sig is None or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return [p.name for p in sig.parameters.values() if p.kind in _TAKES][n_leading:]


def _inherits_a_closed_constructor(factory: Callable[..., Any]) -> bool:
    """A class without its own ``__init__`` whose inherited one takes no config: ``object``'s, or
    ``torch.nn.Module``'s (whose ``**kwargs`` only rejects what it is given), e.g. a loss without options."""
    if not isinstance(factory, type):
        return False
    init = factory.__init__
    return init is object.__init__ or (
        getattr(init, "__qualname__", "") == "Module.__init__"
        and str(getattr(init, "__module__", "")).startswith("torch.nn")
    )


def check_params(
    factory: Callable[..., Any],
    kind: str,
    name: str,
    params: dict[str, Any],
    n_leading: int = 0,
    *,
    owner: str | None = None,
    noun: str = "parameter",
) -> None:
    """Raise a one-line :class:`ConfigError` unless ``factory(*leading, **params)`` binds.

    ``kind`` is the config key the parameters live under (``model``, ``protocol.split``...), so the
    message names ``<kind>.<key>``; ``owner`` (default ``<kind> '<name>'``) and ``noun`` word it,
    e.g. ``data.sep is not an option of data source 'csv' (options: ...)``.
    """
    owner = owner or f"{kind} '{name}'"
    accepted = parameter_names(factory, n_leading)
    if accepted is not None:
        article = "an" if noun[:1] in "aeiou" else "a"
        for key in params:
            if key not in accepted:
                raise ConfigError(
                    f"{kind}.{key} is not {article} {noun} of {owner} ({noun}s: "
                    f"{', '.join(accepted) or 'none'}){did_you_mean(str(key), accepted)}"
                )
    sig = _signature(factory)
    if sig is None:
        return
    required = [p.name for p in sig.parameters.values() if p.kind in _TAKES and p.default is p.empty][n_leading:]
    missing = [p for p in required if p not in params]
    if missing:
        raise ConfigError(
            f"{kind} '{name}' needs {', '.join(f'{kind}.{p}' for p in missing)}; set {kind}.{missing[0]}=..."
        )


def build(
    factory: Callable[..., Any],
    kind: str,
    name: str,
    params: dict[str, Any],
    *leading: Any,
    owner: str | None = None,
    noun: str = "parameter",
) -> Any:
    """``factory(*leading, **params)`` after :func:`check_params`; see the module docstring for errors.

    Deprecated parameter names the factory declares (``param_aliases``) are renamed first, with a warning.
    """
    from recframe.param_aliases import resolve_param_aliases

    params = resolve_param_aliases(factory, kind, name, params)
    check_params(factory, kind, name, params, len(leading), owner=owner, noun=noun)
    try:
        return factory(*leading, **params)
    except ConfigError:
        raise
    except ValueError as exc:
        if not raised_by_own_package(factory, exc.__traceback__):
            raise
        raise ConfigError(f"{kind} '{name}' rejected its config: {exc}") from None


def raised_by_own_package(factory: Callable[..., Any], tb: TracebackType | None) -> bool:
    """True when every frame below :func:`build` runs code of the factory's own top-level package
    (or of recframe's base classes).

    That is the constructor validating its arguments (directly or through its package's helpers);
    a frame in another package (numpy, torch...) means a library failed inside, which is reported
    with its traceback.
    """
    own = {(getattr(factory, "__module__", None) or "").partition(".")[0], "recframe"} - {""}
    tb = tb.tb_next if tb is not None else None  # skip build's own frame
    if tb is None:
        return False
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.partition(".")[0] not in own:
            return False
        tb = tb.tb_next
    return True


__all__ = ["build", "check_params", "parameter_names", "raised_by_own_package"]
