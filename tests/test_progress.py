"""Progress bars: drawn on a terminal, silent in pipes and when turned off (a real pty, a real process)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from recframe import progress

SCRIPT = Path(sys.executable).parent / "recframe"


def test_not_a_terminal_or_turned_off_means_silent(monkeypatch, capsys):
    assert not progress.enabled()  # pytest captures stderr: not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.enabled() and not progress.enabled(False) and not progress.enabled("false")
    monkeypatch.setenv(progress.ENV, "0")
    assert not progress.enabled()
    calls = []
    with progress.task("x", 3) as advance:
        advance(2)
        calls.append("ran")
    assert calls == ["ran"] and capsys.readouterr().err == ""


def _download_on_a_pty(tmp_path: Path, archive: Path, env: dict[str, str]) -> str:
    main, secondary = os.openpty()
    proc = subprocess.Popen(
        [
            str(SCRIPT),
            "download",
            "ml-100k",
            "--url",
            archive.as_uri(),
            "--path",
            str(tmp_path / "out" / "ml-100k"),
            "--force",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, **env},
    )
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # the process closed its end
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=600)
    os.close(main)
    assert proc.returncode == 0
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow  # two recframe processes
def test_download_draws_a_bar_on_a_terminal_only_when_enabled(tmp_path, ml100k):
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("u.data", "u.user", "u.item"):
            zf.write(ml100k / name, f"ml-100k/{name}")
    env = {"TERM": "xterm", "COLUMNS": "100"}
    shown = _download_on_a_pty(tmp_path, archive, {**env, progress.ENV: "1"})
    assert "downloading ml-100k.zip" in shown
    hidden = _download_on_a_pty(tmp_path, archive, {**env, progress.ENV: "0"})
    assert "downloading ml-100k.zip" not in hidden
