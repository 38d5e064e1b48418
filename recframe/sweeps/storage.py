"""Where a study lives: SQLite in the sweep folder by default, any SQLAlchemy URL, or a journal file.

``storage: null`` gives ``sqlite:///<sweep dir>/optuna.db``; a URL (``sqlite:///...``,
``postgresql+psycopg://user@host:5432/db``) is an optuna ``RDBStorage``; ``journal:<path>`` or a
path ending in ``.log``/``.journal`` is optuna's journal file (works on NFS without a server). Every
form can be opened by ``optuna-dashboard <url>`` (journal: ``optuna-dashboard <path>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recframe.errors import ConfigError

DEFAULT_FILE = "optuna.db"


def storage_url(spec: str | None, sweep_dir: str | Path) -> str:
    """The storage as one string, resolved against the sweep folder."""
    if spec is None or str(spec).strip() == "":
        return f"sqlite:///{(Path(sweep_dir) / DEFAULT_FILE).resolve()}"
    spec = str(spec)
    if spec.startswith("journal:"):
        return "journal:" + str(Path(spec[len("journal:") :]).expanduser().resolve())
    if "://" not in spec:
        if spec.endswith((".log", ".journal")):
            return "journal:" + str(Path(spec).expanduser().resolve())
        if spec.endswith((".db", ".sqlite", ".sqlite3")):
            return f"sqlite:///{Path(spec).expanduser().resolve()}"
        raise ConfigError(
            f"hydra.sweeper.storage '{_redact(spec)}' is not a database URL (sqlite:///..., "
            f"postgresql+psycopg://...) or a journal file (journal:<path>, *.log)"
        )
    return spec


def open_storage(url: str) -> Any:
    """An optuna storage object for ``url`` (as returned by :func:`storage_url`, or ``env:NAME``)."""
    import optuna

    from recframe.redact import resolve_env

    url = resolve_env(url)
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url[len("journal:") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        # a wait instead of "database is locked" when workers write at once
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    if url.startswith(("postgresql", "postgres")):
        _require("psycopg", "a PostgreSQL storage", "postgres")
    try:
        return _rdb_storage(url, kwargs)
    except ImportError as exc:
        raise ConfigError(f"storage '{_redact(url)}' needs a driver: {exc}") from None
    except Exception as exc:  # connection refused, bad URL, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot open storage '{_redact(url)}': {first}") from None


def _rdb_storage(url: str, kwargs: dict[str, Any], attempts: int = 5) -> Any:
    """``RDBStorage(url)``, retried: processes opening a new database at once race to create its tables."""
    import time

    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts - 1 or "connection" in str(exc).lower() and "refused" in str(exc).lower():
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _require(module: str, what: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{what} needs {module}: pip install 'recframe[{extra}]'")


def _redact(url: str) -> str:
    """The URL without its password (``recframe/redact.py``)."""
    from recframe.redact import redact

    return redact(url)


def dashboard_hint(url: str) -> str:
    if url.startswith("journal:"):
        return f"optuna-dashboard {url[len('journal:') :]}"
    return f"optuna-dashboard {_redact(url)}"
