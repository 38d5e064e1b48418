"""Keeping secrets out of what recframe prints and writes.

A storage URL such as ``postgresql+psycopg://user:secret@host/db`` must not appear in the sweeper's
printed lines, ``multirun.yaml`` or a trial's ``.hydra/`` files. :func:`redact` replaces the password
(and ``password=``/``token=``-style query values) with ``***``. To hand the real URL to trial jobs
without writing it down, the sweeper puts it in the environment variable :data:`STORAGE_ENV` and passes
``trial.storage=env:RECFRAME_OPTUNA_STORAGE``; :func:`resolve_env` turns that back into the URL.
"""

from __future__ import annotations

import os
import re

from recframe.errors import ConfigError

STORAGE_ENV = "RECFRAME_OPTUNA_STORAGE"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s'\"]*):(?P<pw>[^@\s'\"]*)@")
_QUERY = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|token|secret|api_key|access_key)=)(?P<value>[^&;\s'\"]*)", re.IGNORECASE
)


def redact(text: str) -> str:
    """``text`` with every URL password and secret query value replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _QUERY.sub(lambda m: f"{m['key']}***", text)


def has_secret(text: str) -> bool:
    """Whether :func:`redact` would change ``text``."""
    return redact(text) != text


def env_reference(name: str = STORAGE_ENV) -> str:
    return f"env:{name}"


def resolve_env(value: str) -> str:
    """``env:NAME`` as the value of the environment variable ``NAME``; any other value unchanged."""
    if not value.startswith("env:"):
        return value
    name = value[len("env:") :]
    found = os.environ.get(name)
    if not found:
        raise ConfigError(
            f"trial.storage names the environment variable {name}, which is not set in this "
            f"process; launchers must pass the sweeper's environment to the jobs"
        )
    return found
