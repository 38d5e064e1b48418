"""The Hydra plugin class of recframe's Optuna sweeper (``hydra/sweeper=optuna``).

Hydra only instantiates plugins defined under the ``hydra_plugins`` package; the logic lives in
:mod:`recframe.sweeps.optuna_sweeper`. recframe also registers this class explicitly
(:func:`recframe.config.install_hydra_plugins`), since editable installs hide it from Hydra's scan.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper


class RecframeOptunaSweeper(Sweeper):
    """Hyperparameter search with Optuna; settings are documented in ``conf/hydra/sweeper/optuna.yaml``."""

    def __init__(self, **settings: Any) -> None:
        from recframe.sweeps.optuna_sweeper import OptunaSweeperImpl

        self.impl = OptunaSweeperImpl(**settings)

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        import sys

        from recframe.errors import RecframeError

        try:
            return self.impl.sweep(arguments)
        except RecframeError as exc:  # one line, as everywhere in recframe (Hydra would print a traceback)
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
