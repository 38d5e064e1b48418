"""scripts/mypy_baseline.py: new mypy errors fail, moved ones do not, fixed ones let the baseline shrink."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mypy_baseline.py"
OLD = 'recframe/a.py:10: error: Incompatible return value type (got "int", expected "str")  [return-value]'
OTHER = 'recframe/b.py:3: error: Name "x" is not defined  [name-defined]'


@pytest.fixture
def script(tmp_path, monkeypatch):
    """The script with its baseline pointed at a temporary file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mypy_baseline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "BASELINE", tmp_path / "baseline.txt")
    monkeypatch.setattr(module, "ROOT", tmp_path)

    def run(mypy_lines: list[str], *flags: str) -> int:
        output = tmp_path / "mypy.txt"
        output.write_text("\n".join([*mypy_lines, "Found N errors"]) + "\n")
        monkeypatch.setattr(sys, "argv", ["mypy_baseline.py", "--mypy-output", str(output), *flags])
        return module.main()

    run.baseline = tmp_path / "baseline.txt"  # type: ignore[attr-defined]
    return run


def test_normalise_drops_line_numbers_and_keeps_code_and_message(script):
    from importlib import util

    spec = util.spec_from_file_location("mb", SCRIPT)
    mb = util.module_from_spec(spec)
    spec.loader.exec_module(mb)
    expected = 'recframe/a.py: return-value: Incompatible return value type (got "int", expected "str")'
    assert mb.normalise(OLD) == expected
    assert mb.normalise("recframe/a.py:10: note: See https://...") is None


def test_new_errors_fail_and_moved_errors_pass(script, capsys):
    assert script([OLD], "--record") == 0
    assert script([OLD.replace(":10:", ":42:")]) == 0  # an edit above it moved the line
    assert script([OLD, OTHER]) == 1
    assert 'Name "x" is not defined' in capsys.readouterr().err
    assert script([OLD, OLD]) == 1  # the same error twice is one new error


def test_the_baseline_only_shrinks(script):
    assert script([OLD, OTHER], "--record") == 0
    assert script([OLD], "--update") == 0
    assert script.baseline.read_text().count("\n") == 1
    assert script([OLD, OTHER], "--update") == 1  # a new error is never written into the baseline
    assert script.baseline.read_text().count("\n") == 1


def test_the_recorded_baseline_matches_the_script_format():
    baseline = SCRIPT.parents[1] / ".ci" / "mypy-baseline.txt"
    lines = [line for line in baseline.read_text().splitlines() if line]
    assert lines and all(line.count(": ") >= 2 and line.split(":", 1)[0].endswith(".py") for line in lines)
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--update" in done.stdout
