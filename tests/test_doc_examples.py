"""The Python examples of ``docs/plugins/hooks.md`` and ``docs/plugins/tutorial.md`` run as written.

Each fenced ``python`` block of the hook reference is executed as a module of its own and registered
as a plugin; one short run then uses every contribution at once (the data source is loaded from a
real file, the filter, splitter, model, loss, metric and compressor drive a run on the synthetic
data, and the lifecycle hooks print). The tutorial's hooks are registered against the example
package's own modules, and its two test functions are called with recframe's fixtures.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLE_PACKAGE = DOCS / "examples" / "recframe-plugin-example"


def python_blocks(page: Path) -> list[str]:
    """The source of every fenced ``python`` block of ``page``, in order."""
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def as_module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102  (the documentation's own code)
    return module


@pytest.fixture
def hook_examples(recframe_plugin) -> dict[str, types.ModuleType]:
    """Every example of hooks.md as a registered plugin, keyed by the hook it shows."""
    modules = {}
    for n, source in enumerate(python_blocks(DOCS / "plugins" / "hooks.md")):
        module = as_module(source, f"hooks_md_example_{n}")
        hooks = [k for k, v in vars(module).items() if hasattr(v, "recframe_impl")]
        assert len(hooks) == 1, f"example {n} of hooks.md should implement one hook, not {hooks}"
        if hooks[0] != "register_config_dirs":  # it registers the folder of the file that defines it
            recframe_plugin(module)
        modules[hooks[0]] = module
    return modules


def test_every_hook_has_a_runnable_example(hook_examples):
    from recframe import hookspecs

    specs = {n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "recframe_spec")}
    assert set(hook_examples) == specs


def test_the_data_source_example_loads_its_file(hook_examples, tmp_path):
    (tmp_path / "clicks.csv").write_text("user,item,ts\nu1,a,3\nu2,a,1\nu1,b,2\n")
    from recframe.plugins import registries

    clicks = registries().data_source.get("clicks")(tmp_path)
    data = clicks.load()
    assert (data.n_users, data.n_items, len(data)) == (2, 2, 3)
    assert sorted(data.timestamp.tolist()) == [1, 2, 3]


def test_the_examples_drive_one_run_together(hook_examples, recframe_run, capsys):
    results = recframe_run(
        [
            "model=dot",
            "model.dim=8",
            "loss=hinge",
            "metrics.names=[ndcg,arhr]",
            "protocol.filters=[{name: active_users, min_items: 5}]",
            "protocol.split.name=last_days",
            "~protocol.split.ratios",
            "~protocol.split.group_by",
            "+protocol.split.day_seconds=60",
            "compressor=float16_rounding",
            "trainer.max_epochs=2",
        ]
    )
    metrics = results["metrics"]
    assert 0 < metrics["test/ndcg@10"] <= 1 and 0 < metrics["test/arhr@10"] <= 1
    assert metrics["valid/ndcg@10"] > 0  # validation is its own day, not the test day
    assert results["protocol"]["split"] == {"name": "last_days", "day_seconds": 60}
    compressed = results["compressed"]
    row = compressed[0] if isinstance(compressed, list) else next(iter(compressed.values()))
    assert "float16" in str(row)
    out = capsys.readouterr().out
    assert "training dot on" in out and str(metrics["test/ndcg@10"]) in out


def test_the_arhr_example_is_the_mean_reciprocal_rank_of_the_hits(hook_examples):
    import torch

    arhr = hook_examples["register_metrics"].ARHR(k=3)
    hits = torch.tensor([[True, False, True], [False, False, False]])
    arhr.update(hits, torch.tensor([2, 1]))
    assert float(arhr.compute()) == pytest.approx(((1 + 1 / 3) + 0) / 2)


def test_the_filter_example_keeps_active_users(hook_examples, tiny_interactions):
    from recframe.plugins import registries

    active = registries().filter.get("active_users")
    kept = active(tiny_interactions, min_items=11)
    assert len(kept) == 0 and len(active(tiny_interactions, min_items=10)) == len(tiny_interactions)
    counts = np.bincount(tiny_interactions.user)
    assert counts.min() == 10


@pytest.fixture
def tutorial(recframe_plugin, monkeypatch) -> types.ModuleType:
    """The tutorial's hooks registered (against the example package's modules); its tests as a module."""
    monkeypatch.syspath_prepend(str(EXAMPLE_PACKAGE))
    hooks_source, tests_source = python_blocks(DOCS / "plugins" / "tutorial.md")
    import recframe_example

    hooks = as_module(hooks_source, "tutorial_hooks")
    hooks.__file__ = recframe_example.__file__  # its config folder is the example package's
    recframe_plugin(hooks, "tutorial")
    return as_module(tests_source, "tutorial_tests")


def test_the_tutorial_model_test_runs(tutorial, recframe_run):
    tutorial.test_item_bias_learns_popularity(recframe_run)


def test_the_tutorial_metric_test_runs(tutorial, recframe_plugin, recframe_run):
    tutorial.test_arhr_at_least_mrr(recframe_plugin, recframe_run)
