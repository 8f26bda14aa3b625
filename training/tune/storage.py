"""Where a study lives: an Optuna storage, checked before anything is written to it.

A SQLite file named by ``tune.storage`` (``--storage sqlite:///FILE``) may be something else entirely: a
GeoPackage, another program's database. Optuna would add its tables to any SQLite file it is given, so
the file is looked at first, read-only: only a missing file, an empty one, or a database holding nothing
but Optuna's tables is used; anything else is refused and left exactly as it was.

Several processes may share one SQLite study (a documented feature). SQLite allows one writer at a time:
each connection waits up to ``BUSY_TIMEOUT_S`` for another's write lock (Python's sqlite3 module starts a
transaction at the first write, so a transaction never has to upgrade a read lock, the case SQLite
refuses at once), and the database uses write-ahead logging, so readers never wait for the writer nor
the writer for readers. Opening the storage creates Optuna's tables; two processes doing so at the same
moment can collide ("table already exists", "database is locked", a duplicate version row), so opening
is retried a few times before it fails.
"""
from __future__ import annotations

import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any, Callable, TypeVar

from .._plugin import errors

BUSY_TIMEOUT_S = 120.0  # how long one statement waits for another process's write lock
OPEN_ATTEMPTS = 6  # opening (creating the tables) is retried this often when another process holds the lock
OPTUNA_TABLES = frozenset({
    "studies", "version_info", "study_directions", "study_user_attributes", "study_system_attributes",
    "trials", "trial_user_attributes", "trial_system_attributes", "trial_params", "trial_values",
    "trial_intermediate_values", "trial_heartbeats", "alembic_version"})
_SQLITE_HEADER = b"SQLite format 3\x00"
_OUR_FILES: set[str] = set()  # resolved paths of the SQLite studies this process opened
T = TypeVar("T")


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for other URLs and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    name = url[len("sqlite:///"):].split("?", 1)[0]
    return None if name in ("", ":memory:") else Path(name)


def check_storage(config: Any) -> None:
    """Check the study storage a configuration names (its default, OUTPUT/tune.db, too) before any work."""
    url = config.tune.storage or f"sqlite:///{Path(config.output.folder).resolve() / 'tune.db'}"
    path = sqlite_path(url)
    if path is not None:
        check_sqlite_file(path, url)


def check_sqlite_file(path: Path, url: str) -> None:
    """Refuse, without changing it, a file that is not empty, not SQLite, or holds tables other than Optuna's."""
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return
    fix = ("tune keeps its study in a database of its own: give a new file (for example --storage "
           "sqlite:///tune.db, or leave --storage out for OUTPUT/tune.db). The file was not changed.")
    if not path.is_file():
        raise errors.InputError(f"The study storage '{url}' names {path}, which is not a file; {fix}")
    with path.open("rb") as handle:
        header = handle.read(len(_SQLITE_HEADER))
    if header != _SQLITE_HEADER:
        raise errors.InputError(f"The study storage '{url}' names {path.name}, which is not an SQLite database; {fix}")
    tables = _table_names(path, url, fix)
    foreign = sorted(tables - OPTUNA_TABLES)
    if foreign:
        shown = ", ".join(foreign[:6]) + (", ..." if len(foreign) > 6 else "")
        kind = "a GeoPackage" if "gpkg_contents" in tables else "an SQLite database of something else"
        raise errors.InputError(f"The study storage '{url}' names {path.name}, {kind} (it holds the tables {shown}); "
                                f"{fix}")


def _table_names(path: Path, url: str, fix: str) -> set[str]:
    """The tables of an SQLite file, read through a read-only connection (which writes nothing)."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as error:
        raise errors.InputError(f"The study storage '{url}' cannot be read ({error}); {fix}") from error
    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.Error as error:
        raise errors.InputError(f"The study storage '{url}' cannot be read as a database ({error}); {fix}") from error
    finally:
        connection.close()
    return {str(name) for (name,) in rows if not str(name).startswith("sqlite_")}


def open_storage(url: str) -> Any:
    """An Optuna RDBStorage for ``url`` (SQLite files checked first, then opened for sharing); InputError
    with the cause when it cannot be opened."""
    import optuna

    path = sqlite_path(url)
    engine: dict[str, Any] = {}
    if path is not None:
        check_sqlite_file(path, url)
        path.parent.mkdir(parents=True, exist_ok=True)
        _OUR_FILES.add(str(path.resolve()))
        _install_sqlite_hooks()
        engine = {"connect_args": {"timeout": BUSY_TIMEOUT_S}}

    def create() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: "experimental"
            return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=60, grace_period=300)

    try:
        return retry_when_locked(create) if path is not None else create()
    except errors.InputError:
        raise
    except Exception as error:  # noqa: BLE001 - SQLAlchemy and the database drivers raise many kinds
        raise errors.InputError(f"Cannot open the study storage '{url}': {error}. Give a writable SQLite path "
                                "(sqlite:///tune.db) or a database URL.") from error


def retry_when_locked(action: Callable[[], T], attempts: int = OPEN_ATTEMPTS) -> T:
    """Run ``action``, again after a pause when SQLite says another process holds the database."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception as error:  # noqa: BLE001 - locks surface as sqlite3, SQLAlchemy or Optuna errors
            if attempt == attempts - 1 or not _is_lock_error(error):
                raise
            time.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _is_lock_error(error: BaseException | None) -> bool:
    while error is not None:
        text = str(error).lower()
        if any(sign in text for sign in ("database is locked", "already exists", "database is busy",
                                         "unique constraint failed", "integrityerror")):
            return True
        error = error.__cause__ or error.__context__
    return False


def _ours(dbapi_connection: Any) -> bool:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return False
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return any(row[1] == "main" and row[2] and str(Path(row[2]).resolve()) in _OUR_FILES for row in rows)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if _ours(dbapi_connection):
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        dbapi_connection.execute("PRAGMA journal_mode = WAL")


def _install_sqlite_hooks() -> None:
    """A SQLAlchemy hook for the study files (only): busy timeout and write-ahead logging on connect."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _on_connect):
        event.listen(Engine, "connect", _on_connect)
