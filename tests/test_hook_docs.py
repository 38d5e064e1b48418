"""docs/plugins/hooks.md documents every hook spec with its exact signature."""

from __future__ import annotations

import inspect
from pathlib import Path

from recframe import hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins" / "hooks.md"


def hook_specs():
    return {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "recframe_spec")}


def test_every_hook_is_documented_with_its_signature():
    headings = {
        line[len("### ") :].strip().strip("`") for line in DOC.read_text().splitlines() if line.startswith("### ")
    }
    specs = hook_specs()
    assert len(specs) == 11
    for name, fn in specs.items():
        signature = f"{name}({', '.join(inspect.signature(fn).parameters)})"
        assert signature in headings, f"{signature} is missing from {DOC.name}"
    documented = {h.split("(")[0] for h in headings}
    assert documented == set(specs), f"documented hooks that do not exist: {documented - set(specs)}"


def test_every_hook_section_has_an_example():
    sections = DOC.read_text().split("\n### ")[1:]
    assert len(sections) == len(hook_specs())
    for section in sections:
        assert "**Example**" in section and "```python" in section and "@hookimpl" in section
