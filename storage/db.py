"""Engine and transactions. Nothing here runs at import time."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, event, inspect, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)

if TYPE_CHECKING:
    from alembic.config import Config


BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a transaction waits for another's write lock


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL (``sqlite:///relative`` or ``sqlite:////absolute``);
    None for an in-memory database or another engine."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url[len("sqlite:///"):].split("?", 1)[0])


def make_engine(url: str) -> Engine:
    """An engine for ``url``; on SQLite with foreign keys on, WAL, a busy timeout and every
    transaction taking the write lock when it begins (``BEGIN IMMEDIATE``). Statement
    parameters are kept out of error messages (``hide_parameters``): they may hold what
    users typed, and errors are logged. A SQLite file that is not there yet is created empty
    with mode 0600 first (owner only; SQLite gives its -wal and -shm files the same mode)."""
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None and path.parent.is_dir() and not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30},
                                  "hide_parameters": True}
        if in_memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when a transaction begins, so that
            # SAVEPOINTs work (the recipe in SQLAlchemy's SQLite dialect docs).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")
                # No fsync per commit (one per checkpoint): a power cut may undo the last
                # commits, always a whole suffix of them, never corrupt. Safe here because
                # an event's effects, its dedupe row, its outbox rows and the sync token
                # after it roll back together (the event is handled again), and a resent
                # message keeps its transaction ID (the homeserver dedupes it).
                cur.execute("PRAGMA synchronous=NORMAL")
                # Deleted rows are overwritten with zeros, not left in free pages: a purged
                # case's text must not stay readable in the file (AVG, storage limitation).
                cur.execute("PRAGMA secure_delete=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Take the write lock up front: writers are serialised anyway, and a deferred
            # transaction that later upgrades its lock can fail with "database is locked"
            # (the same recipe in SQLAlchemy's SQLite dialect docs).
            # On the driver's connection: through SQLAlchemy's statement machinery this
            # cost as much as a statement, and every transaction begins so. Its error is
            # wrapped as SQLAlchemy would (callers look for a locked database in it).
            driver: Any = conn.connection.driver_connection
            try:
                driver.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise DBAPIError.instance("BEGIN IMMEDIATE", None, e, sqlite3.Error) from e

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def dialect_of(session: Session) -> str:
    """``sqlite`` or ``postgresql``: the key of a statement built once per database kind
    (an INSERT … ON CONFLICT, see ``insert_for``)."""
    return str(session.get_bind().dialect.name)


def insert_for(session: Session | str, table: Table) -> Any:
    """An INSERT of ``table`` that can say ON CONFLICT, for the session's database (SQLite
    and PostgreSQL both can; their dialects spell it the same way in SQLAlchemy)."""
    dialect = session if isinstance(session, str) else dialect_of(session)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        return pg_insert(table)
    if dialect == "sqlite":
        return sqlite_insert(table)
    raise NotImplementedError(f"database {dialect!r} is not supported (SQLite, PostgreSQL)")


MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0022"
"""The newest migration (a test checks it against Alembic's scripts). A database already
at it is not touched, and Alembic (~0.3 s and ~12 MB to import) is not loaded at start-up."""
_LOCK_ID = 7_246_310_001  # PostgreSQL advisory lock: one migrating instance at a time


class MigrationRefused(Exception):
    """A migration cannot run on this database as it is; the message says what to do. The
    CLI prints it as one line (no traceback) and exits with status 2."""


class PreMigrationDatabase(MigrationRefused):
    """The database has casusbot tables but no migration history."""


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet (unit tests; the app uses ``migrate``)."""
    SQLModel.metadata.create_all(engine)


def alembic_config(connection: Connection | None = None,
                   now: datetime | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["now"] = now  # the time of the upgrade, for a migration that plans
    return cfg


def migrate(engine: Engine, revision: str = "head", *, now: datetime | None = None) -> None:
    """Bring the schema to ``revision``; safe when two instances start at once. ``now``:
    the time of the upgrade (the caller's clock), for migrations that plan timers from it
    (0019: the presence question of meetings still to come); without it they plan none.

    On PostgreSQL a session-level advisory lock serialises the instances; on SQLite the
    migration's transaction takes the write lock (BEGIN IMMEDIATE).
    """
    if revision in ("head", HEAD) and current_revision(engine) == HEAD:
        return  # (revisions only move forward: no lock needed to see it is done)
    from alembic import command

    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({_LOCK_ID})")
            connection.commit()
        try:
            tables = set(inspect(connection).get_table_names())
            if "overleg" in tables and "alembic_version" not in tables:
                raise PreMigrationDatabase(
                    "this database was made by a pre-release casusbot without migrations; "
                    "move it away (or delete it) and start again")
            command.upgrade(alembic_config(connection, now), revision)
            connection.commit()
        finally:
            if postgres:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_LOCK_ID})")
                connection.commit()


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision (None: none applied), read without Alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    if len(rows) > 1:
        raise RuntimeError("the database has several migration heads: run `casusbot migrate`")
    return str(rows[0][0]) if rows else None


_WRITE = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)',
                    re.IGNORECASE)


_WRITTEN = "casusbot_tables_written"  # the key of a connection's ``info`` inside the block


def _note_write(conn: Connection, cursor: Any, statement: str, *_rest: Any) -> None:
    """The engine's one ``after_cursor_execute`` listener: inside ``tables_written``, the
    table a write changed. A write with RETURNING counts as written: SQLite's cursor says
    rowcount 0 until its rows are fetched, which happens after this listener."""
    blocks = conn.info.get(_WRITTEN)
    if blocks:
        m = _WRITE.match(statement)
        if m is not None and (cursor.rowcount != 0 or cursor.description is not None):
            for written in blocks:  # (blocks nest: an outer one sees the inner's writes)
                written.append(m[1].lower())


@contextmanager
def tables_written(session: Session) -> Iterator[list[str]]:
    """The tables whose rows the statements inside the block changed, in order (lower case,
    once per statement): whether a command changed anything beyond the bookkeeping, whether
    it touched the timers. The lists of the blocks open on the connection live in its
    ``info`` (blocks may nest); one listener per engine, added once (adding and removing
    one per block cost ~80 us)."""
    connection = session.connection()
    if not event.contains(connection.engine, "after_cursor_execute", _note_write):
        event.listen(connection.engine, "after_cursor_execute", _note_write)
    written: list[str] = []
    blocks: list[list[str]] = connection.info.setdefault(_WRITTEN, [])
    blocks.append(written)
    try:
        yield written
    finally:
        del blocks[next(i for i, b in enumerate(blocks) if b is written)]
        if not blocks:
            del connection.info[_WRITTEN]


def checkpoint(engine: Engine) -> None:
    """SQLite: copy the write-ahead log into the database and truncate it, so text deleted
    by a purge does not linger in the ``-wal`` file (with ``secure_delete`` the database's
    own pages are zeroed). Nothing on PostgreSQL. Outside any transaction."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # (no BEGIN: a checkpoint cannot run in a transaction)
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()


CASE_TABLES = ("case", "action", "actionchange", "agendaitem", "infoanswer", "casepartner",
               "timer", "outboxmessage", "auditentry")
"""The tables a case's removal (commands/retention.py ``remove_case``) deletes from or
blanks subjects in."""


def scrub(engine: Engine, tables: tuple[str, ...] = CASE_TABLES) -> None:
    """After a removal (an erasure or a purge), make what was deleted unreadable where the
    database can: SQLite ``checkpoint`` (``secure_delete`` zeroes the pages already);
    PostgreSQL ``VACUUM (ANALYZE)`` on ``tables``: dead tuples are freed for reuse and the
    planner's samples (``pg_statistic``, readable as ``pg_stats``, which held message bodies)
    are taken again from what remains. Outside any transaction (VACUUM cannot run in one).
    What stays until it rotates (WAL segments, backups) is in docs/admin.md."""
    if engine.dialect.name != "postgresql":
        checkpoint(engine)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.exec_driver_sql(f'VACUUM (ANALYZE) "{table}"')


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit if the block succeeds, roll back if it raises. (The block may
    roll back itself and go on in a new transaction: ``commands.inbound.handle`` does after
    a failed command.)"""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        done = session.get_transaction()
        if done is not None and not done.is_active:
            session.rollback()  # a failed flush the block caught: as ``session.begin()`` did
        else:
            session.commit()
