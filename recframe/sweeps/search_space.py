"""The Optuna search space, written in Hydra's sweep vocabulary.

``hydra.sweeper.params`` maps config keys to Hydra override values, parsed with Hydra's own
override parser, so a search space reads like a ``-m`` command line:

=====================================  ===========================================================
``choice(32, 64, 128)`` / ``32,64``    categorical over the listed values
``range(1, 10)`` / ``range(0, 1, 0.25)``  the values Hydra's ``range`` yields (stop excluded, as in
                                       Python and Hydra's basic sweeper), as an int or stepped float
``interval(0.001, 0.1)``               a float in ``[low, high]``
``tag(log, interval(1e-4, 1e-1))``     log scale
``tag(int, interval(16, 256))``        an integer in ``[low, high]`` (``log`` may be combined)
anything else (``0.01``, ``adam``)     fixed: passed to every trial unchanged
=====================================  ===========================================================

Command-line sweep overrides (``trainer.lr=interval(1e-4,1e-2)``) join the search space; a key in
both takes the command line's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recframe.errors import ConfigError

TAGS = {"log", "int"}


@dataclass
class SearchSpace:
    """Distributions (``key -> optuna distribution``) and fixed overrides (``key=value`` strings)."""

    distributions: dict[str, Any] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)
    grid: dict[str, list[Any]] = field(default_factory=dict)  # the values of choice/range keys

    def grid_size(self) -> int:
        """Number of points of the full grid (every key must be a choice or range)."""
        size = 1
        for values in self.grid.values():
            size *= len(values)
        return size

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """Hydra overrides for one trial's sampled ``params`` plus the fixed ones."""
        return [*self.fixed, *(f"{key}={format_value(params[key])}" for key in self.distributions)]


def format_value(value: Any) -> str:
    """A value as Hydra override text (strings quoted where the grammar needs it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return quote(str(value))


def quote(text: str) -> str:
    """Quote ``text`` for an override unless it is a plain word Hydra reads back unchanged."""
    if (
        text
        and all(c.isalnum() or c in "_-./@" for c in text)
        and not text[0].isdigit()
        and text.lower() not in ("true", "false", "null", "nan", "inf")
    ):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_search_space(params: Mapping[str, Any] | None, cli_overrides: Sequence[str] = ()) -> SearchSpace:
    """Build the search space from ``hydra.sweeper.params`` and command-line overrides."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    lines: dict[str, str] = {}
    for key, value in (params or {}).items():
        lines[str(key)] = f"{key}={value}"
    for line in cli_overrides:
        key = line.split("=", 1)[0]
        lines[key] = line
    space = SearchSpace()
    for key, line in lines.items():
        try:
            override = parser.parse_override(line)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"hydra.sweeper.params.{key}: cannot parse '{line.split('=', 1)[-1]}' ({first})"
            ) from None
        if not override.is_sweep_override():
            space.fixed.append(line)
            continue
        dist, grid = distribution(key, override.value())
        space.distributions[override.get_key_element()] = dist
        if grid is not None:
            space.grid[override.get_key_element()] = grid
    return space


def distribution(key: str, sweep: Any) -> tuple[Any, list[Any] | None]:
    """The optuna distribution for one Hydra sweep value, and its grid values (None for intervals)."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    tags = set(getattr(sweep, "tags", set()) or set())
    unknown = tags - TAGS
    if unknown:
        raise ConfigError(f"hydra.sweeper.params.{key}: unknown tag {sorted(unknown)[0]!r}; tags are {sorted(TAGS)}")
    if isinstance(sweep, ChoiceSweep):
        values = list(sweep.list)
        for v in values:
            if not (v is None or isinstance(v, (bool, int, float, str))):
                raise ConfigError(
                    f"hydra.sweeper.params.{key}: choice() values must be numbers, strings, booleans or null, got {v!r}"
                )
        if not values:
            raise ConfigError(f"hydra.sweeper.params.{key}: choice() needs at least one value")
        return CategoricalDistribution(values), values
    if isinstance(sweep, RangeSweep):
        values = [v for v in _range_values(sweep)]
        if not values:
            raise ConfigError(f"hydra.sweeper.params.{key}: range({sweep.start}, {sweep.stop}, {sweep.step}) is empty")
        if "log" in tags:
            raise ConfigError(f"hydra.sweeper.params.{key}: tag(log, ...) applies to interval(), not range()")
        if all(isinstance(v, int) for v in (sweep.start, sweep.stop, sweep.step)):
            return IntDistribution(int(values[0]), int(values[-1]), step=abs(int(sweep.step))), values
        return FloatDistribution(float(values[0]), float(values[-1]), step=abs(float(sweep.step))), values
    if isinstance(sweep, IntervalSweep):
        low, high = float(sweep.start), float(sweep.end)
        if not low < high:
            raise ConfigError(f"hydra.sweeper.params.{key}: interval({low}, {high}) needs low < high")
        log = "log" in tags
        if log and low <= 0:
            raise ConfigError(f"hydra.sweeper.params.{key}: tag(log, interval(...)) needs low > 0, got {low}")
        if "int" in tags:
            if not (low.is_integer() and high.is_integer()):
                raise ConfigError(f"hydra.sweeper.params.{key}: tag(int, interval(...)) needs integer bounds")
            return IntDistribution(int(low), int(high), log=log), None
        return FloatDistribution(low, high, log=log), None
    raise ConfigError(
        f"hydra.sweeper.params.{key}: {type(sweep).__name__} is not supported; use choice(), "
        f"range(), interval() or tag(log, interval())"
    )


def _range_values(sweep: Any) -> list[Any]:
    start, stop, step = sweep.start, sweep.stop, sweep.step
    if step == 0:
        return []
    values, i = [], 0
    while True:
        v = start + i * step
        if (step > 0 and v >= stop - (1e-12 if isinstance(v, float) else 0)) or (step < 0 and v <= stop):
            break
        values.append(round(v, 12) if isinstance(v, float) else v)
        i += 1
    if step < 0:
        values.reverse()
    return values
