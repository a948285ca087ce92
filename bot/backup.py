"""`casusbot backup` and `casusbot restore`: the database and the E2EE store, consistently.

SQLite files (the database, and nio's key store inside the store folder) are copied with
SQLite's online backup API, so a running bot does not make a torn copy. For PostgreSQL the
database is dumped with pg_dump; this module prints the command rather than guessing
credentials.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Config

MANIFEST = "casusbot-backup.json"


class BackupError(Exception):
    """The backup or restore cannot go ahead; the message says why."""


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    return Path(url[len("sqlite:///"):])


def _copy_sqlite(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _copy_store(store: Path, target: Path) -> int:
    """The store folder: SQLite files through the backup API, other files as they are."""
    n = 0
    for path in sorted(store.rglob("*")):
        if path.is_dir() or path.name.endswith(("-wal", "-shm", "-journal")):
            continue
        out = target / path.relative_to(store)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".db":
            _copy_sqlite(path, out)
        else:
            shutil.copy2(path, out)
        n += 1
    return n


def make_backup(config: Config, directory: Path) -> Iterator[str]:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty; give a new folder")
    directory.mkdir(parents=True, exist_ok=True)
    db = _sqlite_path(config.database_url)
    manifest: dict[str, object] = {"made_at": datetime.now(UTC).isoformat(),
                                   "user_id": config.user_id}
    if db is not None:
        if not db.exists():
            raise BackupError(f"the database {db} does not exist")
        _copy_sqlite(db, directory / "casusbot.db")
        manifest["database"] = "casusbot.db"
        yield f"database copied to {directory / 'casusbot.db'}"
    else:
        manifest["database"] = "postgresql: see pg_dump"
        yield ("PostgreSQL: dump the database with: pg_dump --format=custom "
               f"--file={directory / 'casusbot.pgdump'} '<your database URL without +psycopg>'")
    store = Path(config.store_path)
    if store.exists():
        n = _copy_store(store, directory / "store")
        manifest["store"] = "store"
        yield f"E2EE store copied ({n} files) to {directory / 'store'}"
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2))
    directory.chmod(0o700)
    yield ("done. The backup holds the bot's keys: keep it as secret as the configuration, "
           "and keep CASUSBOT_REF_KEY apart from it.")


def restore_backup(config: Config, directory: Path, *, force: bool) -> Iterator[str]:
    if not (directory / MANIFEST).exists():
        raise BackupError(f"{directory} is not a casusbot backup ({MANIFEST} is missing)")
    db = _sqlite_path(config.database_url)
    store = Path(config.store_path)
    if not force and ((db is not None and db.exists()) or store.exists()):
        raise BackupError("a database or store already exists; stop the bot and use --force")
    if db is not None and (directory / "casusbot.db").exists():
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        _copy_sqlite(directory / "casusbot.db", db)
        yield f"database restored to {db}"
    elif db is None:
        yield "PostgreSQL: restore the dump with pg_restore --clean into the database"
    if (directory / "store").exists():
        if store.exists():
            shutil.rmtree(store)
        _copy_store(directory / "store", store)
        yield f"E2EE store restored to {store}"
    yield "done. Start the bot: it continues with the same device and keys."
