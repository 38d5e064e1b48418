"""User-facing errors.

Every error a user can cause (bad config, bad data, unknown plugin name, a diverging loss) is a
:class:`RecframeError` whose message is one line that names the key, file, line or epoch at fault
and, where there is one, the fix. The CLI prints such errors as ``error: <message>`` without a
traceback; anything else is a bug in recframe or a plugin and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RecframeError(Exception):
    """Base class of errors caused by input (configs, data, plugins), reported in one line."""


class ConfigError(RecframeError):
    """A config key is unknown, has the wrong type or a value out of range."""


class DataError(RecframeError):
    """A dataset is missing, malformed or emptied by its filters."""


class PluginError(RecframeError):
    """A name is unknown or registered twice, or a plugin failed inside a hook."""


class TrainingError(RecframeError):
    """Training went wrong in a way the user can fix (e.g. the loss became NaN)."""


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate most similar to ``name``, or ``None`` if nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix for error messages, or an empty string."""
    match = closest(name, candidates)
    return f"; did you mean '{match}'?" if match else ""
