"""An example recframe plugin: the model ``item_bias``, the metric ``arhr`` and their configs."""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl

__version__ = "0.2.0"


@hookimpl
def register_models(register: Register) -> None:
    register("item_bias", "recframe_example.item_bias:ItemBias")  # imported when a run builds it


@hookimpl
def register_metrics(register: Register) -> None:
    register("arhr", "recframe_example.arhr:ARHR")


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")
