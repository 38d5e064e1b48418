"""The plugin boundary: plugins import only ``recframe.api``; the core never imports a plugin; every
attribute the core probes on a plugin object is declared on its base class and documented."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import recframe.api as api

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = [ROOT / "plugins", ROOT / "docs" / "examples"]
BUILTIN_PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file())


def imported_modules(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in ``source``, at any depth (functions, ``if`` blocks), and for
    ``importlib.import_module("...")`` / ``__import__("...")`` calls with a constant name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                getattr(node.func, "attr", None) == "import_module"
                or getattr(node.func, "id", None) in ("import_module", "__import__")
            )
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def private_core_imports(source: str) -> list[str]:
    """Imports of recframe other than ``recframe.api`` (``from recframe import hookimpl``/``api`` is allowed)."""
    bad = []
    for line, module in imported_modules(source):
        parts = module.split(".")
        if parts[0] != "recframe" or len(parts) == 1:
            continue
        if parts[1] == "api" or module in ("recframe.hookimpl", "recframe.__version__"):
            continue
        bad.append(f"line {line}: {module}")
    return bad


def plugin_imports(source: str) -> list[str]:
    return [
        f"line {line}: {module}"
        for line, module in imported_modules(source)
        if module.split(".")[0].startswith("recframe_")
    ]


def python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_checkers_see_imports_at_any_depth():
    source = (
        "import recframe.api\nfrom recframe.api import Recommender\nfrom recframe import hookimpl\n"
        "def f():\n    from recframe.models import Recommender\n"
        "if True:\n    import recframe.training.sampling as s\n"
        "import importlib\nimportlib.import_module('recframe.runner')\n"
    )
    assert private_core_imports(source) == [
        "line 5: recframe.models.Recommender",
        "line 7: recframe.training.sampling",
        "line 9: recframe.runner",
    ]
    assert plugin_imports("def g():\n    import recframe_cf.bpr\n") == ["line 2: recframe_cf.bpr"]


@pytest.mark.parametrize("path", python_files(*PLUGIN_DIRS), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path):
    bad = private_core_imports(path.read_text())
    assert not bad, (
        f"{path.relative_to(ROOT)} imports private core modules ({'; '.join(bad)}); import the "
        f"names from recframe.api (add a missing one to recframe/api.py's _EXPORTS)"
    )


def test_the_core_never_imports_a_plugin():
    offenders = {
        str(p.relative_to(ROOT)): found
        for p in python_files(ROOT / "recframe", ROOT / "hydra_plugins")
        if (found := plugin_imports(p.read_text()))
    }
    assert not offenders
    assert BUILTIN_PLUGINS and all(name.startswith("recframe_") for name in BUILTIN_PLUGINS)


def test_every_exported_name_resolves_from_its_module():
    assert sorted(api.__all__) == sorted(["hookimpl", *api._EXPORTS])
    for name, module in api._EXPORTS.items():
        value = getattr(api, name)
        assert value is getattr(importlib.import_module(module), name), name
    with pytest.raises(AttributeError, match="public names"):
        api.NotAName  # noqa: B018


def test_the_type_checking_block_lists_the_same_names():
    tree = ast.parse((ROOT / "recframe" / "api.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))
    typed = {(f.module, a.name) for f in block.body if isinstance(f, ast.ImportFrom) for a in f.names}
    assert typed == {(module, name) for name, module in api._EXPORTS.items()}


# --- attributes the core probes on plugin objects ------------------------------------------------------

#: attribute -> the base classes that declare it (every plugin object of that kind inherits a default)
DECLARED = {
    "family": ("TopKMetric", "ListMetric", "ScoreMetric", "PointwiseMetric"),
    "per_user_mean": ("TopKMetric", "ListMetric", "ScoreMetric"),
    "requires": ("TopKMetric", "ListMetric", "ScoreMetric", "PointwiseMetric"),
    "k": ("TopKMetric", "ListMetric"),
    "needs_ratings": ("PointwiseMetric",),
    "needs_all_scores": ("Loss",),
    "trainable": ("Recommender",),
    "max_len": ("Recommender",),
    "score_factors": ("Recommender",),
    "scores_unseen_items": ("Recommender",),
    "predicts_ratings": ("Recommender",),
    "param_aliases": ("Recommender",),
    "rebuild_is_exact": ("Compressor",),
    "unseen_items": ("Recommender",),
    "uses_history": ("Recommender",),
    "storage": ("Recommender",),
    "unstored": ("Recommender",),
    "history": ("Recommender",),
    "minus_inf_is_unranked": ("Recommender",),
    "dot_product_tables": ("Recommender",),
    "cache_version": ("DataSource",),
    "facts": ("Compressor",),
    "fit_seconds": ("Compressor",),
}
#: probes of objects that are not plugin objects, or markers on any ``nn.Module`` (documented too)
INTERNAL = {
    "__doc__",
    "__module__",
    "__name__",
    "__qualname__",
    "__version__",  # modules, registered objects, functions
    "_on_after_step",
    "_on_before_step",
    "optimizer",
    "gradient_clip_val",
    "strategy",
    "world_size",  # Lightning
    "_return_value",
    "hydra_cfg",
    "choices",
    "tags",  # Hydra and Optuna objects
    "set_epoch",
    "kind",  # recframe's own training streams
    "users",  # recframe's own evaluation targets
    "headers",  # an HTTP error's headers (recframe/data/download.py)
    "_returns_tensor",  # recframe's own marker on a score_all it wrapped (recframe/models.py)
    "__code__",  # a hook implementation's function object (recframe/plugins.py)
}
#: methods with defaults on a base class that the core calls directly (no probe), documented with the attributes
CALLED = {
    "fold_in": ("Recommender",),
    "serving_factors": ("Recommender",),
    "serving_state": ("Recommender",),
    "load_serving_state": ("Recommender",),
}
MARKERS = {"_recframe_sparse"}  # set by a compressor on a torch module it pruned


def probed_attributes() -> dict[str, list[str]]:
    """``getattr(x, "name", ...)`` and ``hasattr(x, "name")`` in the core: name -> where."""
    found: dict[str, list[str]] = {}
    for path in python_files(ROOT / "recframe"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                found.setdefault(node.args[1].value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def declares(cls: type, attr: str) -> bool:
    return any(attr in vars(base) or attr in getattr(base, "__annotations__", {}) for base in cls.__mro__)


def test_every_probed_attribute_is_declared_on_its_base_class():
    probed = probed_attributes()
    unknown = {k: v for k, v in probed.items() if k not in DECLARED and k not in INTERNAL and k not in MARKERS}
    assert not unknown, f"the core probes attributes no base class declares: {unknown}"
    for attr, bases in {**DECLARED, **CALLED}.items():
        for base in bases:
            assert declares(getattr(api, base), attr), f"{base} does not declare {attr}"


def test_probed_attributes_have_defaults_and_docs():
    from recframe.api import Compressor, DataSource, Loss, Recommender, TopKMetric

    assert Recommender.storage(object.__new__(Recommender)) is None  # None: recframe counts the model
    assert (Recommender.max_len, Recommender.unseen_items, Recommender.unstored) == (None, None, ("history",))
    assert Loss.needs_all_scores is False and DataSource.cache_version == 0 and Compressor.fit_seconds is None
    assert TopKMetric.requires == () and TopKMetric.per_user_mean is True
    assert inspect.getdoc(Recommender.storage) and inspect.getdoc(Recommender.score_factors)
    model = object.__new__(Recommender)
    model.score_factors = lambda users: ("P", "Q")  # serving_factors defaults to score_factors
    assert Recommender.fold_in(model, None) is None and Recommender.serving_state(model) is None
    assert Recommender.serving_factors(model, None) == ("P", "Q")
    assert "history" in Recommender.__annotations__ and not hasattr(Recommender, "history")
    assert all(inspect.getdoc(getattr(Recommender, name)) for name in CALLED)


def test_the_hooks_reference_documents_every_probed_attribute():
    text = (ROOT / "docs" / "plugins" / "hooks.md").read_text()
    section = text[text.index("## Attributes recframe reads from plugin objects") :]
    rows = set(re.findall(r"^\| `([a-z_]+)(?:\(\))?` \|", section, flags=re.M))
    assert set(DECLARED) | set(CALLED) | MARKERS <= rows, sorted(set(DECLARED) | set(CALLED) | MARKERS - rows)


def test_the_architecture_page_lists_every_public_name():
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text[text.index("## The public plugin API") : text.index("## Config tree")]
    listed = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", table))
    assert set(api.__all__) <= listed, sorted(set(api.__all__) - listed)
