"""An example recframe plugin: the model ``item_bias``, the metric ``arhr`` and their configs."""

from __future__ import annotations

from pathlib import Path

from recframe.api import hookimpl

__version__ = "0.2.0"


@hookimpl
def register_models(register):
    from recframe_example.item_bias import ItemBias

    register("item_bias", ItemBias)


@hookimpl
def register_metrics(register):
    from recframe_example.arhr import ARHR

    register("arhr", ARHR)


@hookimpl
def register_config_dirs(register):
    register(Path(__file__).parent / "conf")
