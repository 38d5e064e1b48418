"""The command line's precheck of an Optuna multirun: compose, check the sweeper settings, list the
configs every searched value leads to (so each composes before Hydra starts).

Kept apart from :mod:`recframe.sweeps.settings` (which the sweeper imports while Hydra builds it)
because it composes configs through :mod:`recframe.config`, which registers the sweeper.
"""

from __future__ import annotations

from collections.abc import Sequence

from recframe.sweeps.settings import check_config


def check_overrides(fixed: Sequence[str], sweeps: Sequence[str], argv: Sequence[str]) -> list[list[str]] | None:
    """Precheck for the CLI: ``None`` unless the Optuna sweeper is selected; else the configs to compose.

    Composes the config with the command line's fixed and ``hydra`` overrides, checks the sweeper's
    settings, and returns one override list per categorical value and per end of each numeric range,
    so that every value the search can reach composes.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from recframe import config as rconfig

    if not any(a in ("-m", "--multirun") for a in argv):
        return None
    hydra_args = [a for a in argv if not a.startswith("-") and a.lstrip("+~").startswith(("hydra.", "hydra/"))]
    parser = OverridesParser.create()
    try:
        plain_hydra = [a for a in hydra_args if not parser.parse_override(a).is_sweep_override()]
    except Exception as exc:
        raise rconfig.explain_hydra_error(exc, hydra_args) from None
    cfg = rconfig.compose(list(fixed) + plain_hydra)
    settings = check_config(cfg, sweeps)
    if settings is None:
        return None
    base = list(fixed) + [
        f for f in settings.space.fixed if f.split("=", 1)[0] not in {x.split("=", 1)[0] for x in fixed}
    ]
    variants = []
    for key, dist in settings.space.distributions.items():
        values = list(getattr(dist, "choices", ()) or {dist.low, dist.high})
        for value in values:
            from recframe.sweeps.search_space import format_value

            variants.append(base + [f"{key}={format_value(value)}"])
    return variants
