"""Reorganising the config tree (plugin config folders, shared protocol keys, trainer sub-groups) keeps
every composed value: each selection recorded in ``data/composed_configs.json`` (every reproduction,
experiment and group option, composed before the reorganisation) composes to the same values now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recframe import config as rconfig
from recframe import paths

RECORDED = json.loads((Path(__file__).parent / "data" / "composed_configs.json").read_text())
DATA_DIR_MARK = "<RECFRAME_DATA_DIR>"


def composed_values(overrides: list[str]) -> dict[str, Any]:
    """The resolved config of ``overrides`` without Hydra's node and the machine's paths, with the data
    folder written as a placeholder (the recorded values were taken on another machine)."""
    values = rconfig.plain(rconfig.compose(overrides))
    values.pop("paths", None)
    text = json.dumps(values, sort_keys=True).replace(str(paths.data_dir()), DATA_DIR_MARK)
    return json.loads(text)


def test_the_record_covers_every_reproduction():
    conf = Path(rconfig.__file__).resolve().parents[1] / "conf" / "experiment" / "repro"
    repros = {f"experiment={p.relative_to(conf.parent).with_suffix('').as_posix()}" for p in conf.rglob("*.yaml")}
    assert repros and repros <= set(RECORDED)


@pytest.mark.parametrize("selection", sorted(RECORDED))
def test_selection_composes_to_the_recorded_values(selection):
    recorded = RECORDED[selection]
    assert composed_values(recorded["overrides"]) == recorded["values"]
