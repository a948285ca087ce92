"""Engine and transactions. Nothing here runs at import time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Table, event, inspect, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)

if TYPE_CHECKING:
    from alembic.config import Config


T = TypeVar("T")
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a transaction waits for another's write lock
_NO_WAIT: ContextVar[bool] = ContextVar("casusbot_sqlite_no_wait", default=False)


@contextmanager
def no_wait() -> Iterator[None]:
    """Within the block, a SQLite transaction that cannot take the write lock at once fails
    with ``OperationalError`` ("database is locked") instead of waiting for it: for work on
    an event loop's thread, which must never sit out another writer's transaction."""
    token = _NO_WAIT.set(True)
    try:
        yield
    finally:
        _NO_WAIT.reset(token)


def is_file_sqlite(engine: Engine) -> bool:
    """SQLite in a file: a transaction costs no network round trip, only CPU (and the lock)."""
    return engine.dialect.name == "sqlite" and not isinstance(engine.pool, StaticPool)


class WouldWait(Exception):
    """``run_now`` did not do the work: it could have blocked the caller's thread."""


def run_now(engine: Engine, work: Callable[[], T], *,
            also: tuple[type[Exception], ...] = ()) -> T:
    """``work()`` (its own transactions) on the caller's thread, if that cannot block: SQLite
    in a file with its write lock free this instant (``no_wait``). Raises ``WouldWait``
    otherwise (PostgreSQL, where each statement is a network round trip; in-memory SQLite;
    the lock taken: BEGIN IMMEDIATE fails before anything is done), and for the ``also``
    errors: the caller then does the work in a worker thread."""
    if not is_file_sqlite(engine):
        raise WouldWait
    busy: tuple[type[Exception], ...] = (OperationalError, *also)
    try:
        with no_wait():
            return work()
    except busy as e:
        raise WouldWait from e


def make_engine(url: str) -> Engine:
    """An engine for ``url``; on SQLite with foreign keys on, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
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
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Take the write lock up front: writers are serialised anyway, and a deferred
            # transaction that later upgrades its lock can fail with "database is locked".
            raw = conn.connection.dbapi_connection  # (a PRAGMA outside SQLAlchemy's autobegin)
            if not _NO_WAIT.get():
                _begin_immediate(conn, raw)
                return
            raw.execute("PRAGMA busy_timeout=0")
            try:
                _begin_immediate(conn, raw)
            finally:
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _begin_immediate(conn: Connection, raw: Any) -> None:
    """BEGIN IMMEDIATE on the driver itself (~5 us; through SQLAlchemy ~40, and every
    transaction pays it), its error as SQLAlchemy's; observed like any statement when
    something listens for cursor events (see ``Prepared``)."""
    if _observed(conn.engine):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    try:
        raw.execute("BEGIN IMMEDIATE")
    except conn.dialect.loaded_dbapi.Error as e:
        raise DBAPIError.instance("BEGIN IMMEDIATE", (), e, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from e


def _observed(engine: Engine) -> bool:
    """Something (a statement counter, tracing) listens for the engine's cursor events."""
    return bool(engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute)


class PerDialect(Generic[T]):
    """A statement built once per database dialect, then reused: building SQLAlchemy
    statements and their cache keys was a tenth of a command's time on the hot path."""

    def __init__(self, build: Callable[[str], T]) -> None:
        self.build = build
        self._built: dict[str, T] = {}

    def for_dialect(self, name: str) -> T:
        stmt = self._built.get(name)
        if stmt is None:
            stmt = self._built[name] = self.build(name)
        return stmt


def insert_for(dialect: str, table: Table) -> Any:
    """An INSERT that can say ON CONFLICT (SQLite and PostgreSQL both can)."""
    if dialect == "postgresql":
        return pg_insert(table)
    if dialect == "sqlite":
        return sqlite_insert(table)
    raise NotImplementedError(f"database {dialect!r} is not supported (SQLite, PostgreSQL)")


class Rows(list[Any]):
    """A statement's rows, fetched: tuples on the direct path, ``Row`` objects otherwise
    (both unpack and index alike)."""

    def first(self) -> Any:
        return self[0] if self else None

    def one(self) -> Any:
        if len(self) != 1:
            raise ValueError(f"expected one row, got {len(self)}")
        return self[0]

    def scalar(self) -> Any:
        return self[0][0] if self else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self]


class _Direct:
    """A prepared statement compiled for SQLite's driver: its SQL, where each positional
    parameter comes from (the caller's name or the statement's own value) and how its
    value is converted, and how each result column is converted back."""

    def __init__(self, compiled: Any, statement: Any, dialect: Any) -> None:
        self.sql: str = compiled.string
        binds = compiled.binds
        self.names: tuple[str, ...] = tuple(compiled.positiontup)
        self.defaults = {name: b.effective_value for name, b in binds.items()
                         if not b.required}
        self.bind = tuple(binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                          for name in self.names)
        columns = list(statement.exported_columns)  # a SELECT's, or RETURNING's
        self.result = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                            for c in columns)
        self.returns = bool(columns)
        self.converts = any(self.result)

    @staticmethod
    def of(statement: Any, dialect: Any, keys: tuple[str, ...] | None) -> _Direct | None:
        """None for a statement the driver cannot take as compiled (expanding IN lists,
        Python-side column defaults to fill in): those go through SQLAlchemy each time."""
        compiled = statement.compile(dialect=dialect,
                                     column_keys=list(keys) if keys is not None else None)
        if (compiled.positiontup is None or compiled.post_compile_params
                or compiled.literal_execute_params or compiled.insert_prefetch
                or compiled.update_prefetch):
            return None
        return _Direct(compiled, statement, dialect)

    def values(self, params: dict[str, Any]) -> list[Any]:
        out = []
        for name, convert in zip(self.names, self.bind, strict=True):
            value = params[name] if name in params else self.defaults[name]
            out.append(convert(value) if convert is not None else value)
        return out

    def rows(self, cursor: Any) -> Rows:
        fetched = cursor.fetchall()
        if not self.converts:
            return Rows(fetched)
        result = self.result
        return Rows(tuple(c(v) if c is not None else v for c, v in zip(result, row,
                                                                           strict=True))
                    for row in fetched)


class Prepared:
    """A Core statement (or a builder per dialect) that the hot path runs many times.

    On SQLite it is compiled once and then handed straight to the driver in the session's
    transaction: SQLAlchemy's execution path (contexts, events, result objects) cost ~40 us
    per statement where the driver takes ~8 (measured: the event's dedupe insert, 41.6 vs
    10.6 us). Values are converted with the column types' own processors, driver errors
    come out as SQLAlchemy's (``OperationalError``, ``IntegrityError``), and with any
    cursor-event listener on the engine (statement counters, tracing) every statement goes
    the ordinary way so that they see it. PostgreSQL always goes the ordinary way: there a
    statement is a network round trip, and SQLAlchemy's share of it is small.
    """

    def __init__(self, statement: Any, *, keys: tuple[str, ...] | None = None) -> None:
        self._built: PerDialect[Any] = statement if isinstance(statement, PerDialect) else \
            PerDialect(lambda _dialect: statement)
        self.keys = keys  # an INSERT of the table's columns: the ones given
        self._direct: dict[str, _Direct | None] = {}

    def statement(self, dialect: str) -> Any:
        return self._built.for_dialect(dialect)

    def direct(self, dialect: Any) -> _Direct | None:
        if dialect.name not in self._direct:
            self._direct[dialect.name] = (
                _Direct.of(self.statement(dialect.name), dialect, self.keys)
                if dialect.name == "sqlite" else None)
        return self._direct[dialect.name]


def _ordinary(connection: Connection, statement: Any, params: Any) -> Rows:
    result = connection.execute(statement, params)
    return Rows(result.all()) if result.returns_rows else Rows()


def read(session: Session, statement: Any, params: dict[str, Any] | None = None) -> Rows:
    """Run a Core statement in the session's transaction and fetch its rows: a read of
    plain columns, or a write (with RETURNING, its rows). No ORM compile and result
    machinery (measured: 27 us instead of 78 us per statement here); a ``Prepared``
    statement on SQLite goes straight to the driver (~8 us). Pending ORM changes are
    flushed first, as ``session.exec`` would autoflush."""
    session.flush()  # (nothing to do, and cheap, when nothing is pending)
    connection = session.connection()
    params = params or {}
    if not isinstance(statement, Prepared):
        return _ordinary(connection, statement, params)
    dialect = connection.dialect
    direct = statement.direct(dialect)
    if direct is None or _observed(connection.engine):
        return _ordinary(connection, statement.statement(dialect.name), params)
    values = direct.values(params)
    raw: Any = connection.connection.driver_connection
    try:
        cursor = raw.execute(direct.sql, values)
        try:
            return direct.rows(cursor) if direct.returns else Rows()
        finally:
            cursor.close()
    except dialect.loaded_dbapi.Error as e:
        raise DBAPIError.instance(direct.sql, values, e, dialect.loaded_dbapi.Error,
                                  hide_parameters=True,  # they may hold what users typed
                                  dialect=dialect) from e


@cache
def _insert(table: Table, keys: tuple[str, ...], returning: bool = False) -> Prepared:
    """The INSERT of ``table``'s columns ``keys`` (with RETURNING of its primary key): one
    per (table, columns) the code uses."""
    statement = table.insert()
    if returning:
        [key] = table.primary_key.columns
        statement = statement.returning(key)
    return Prepared(statement, keys=keys)


def core_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows written with Core in the session's transaction: no ORM unit of work, no
    identity map, several times cheaper for rows nobody reads back as objects. Pending ORM
    changes are flushed first (as an ORM insert would autoflush), so rows they refer to
    exist and rows written as objects before these keep their lower IDs. One row goes
    straight to SQLite's driver (``Prepared``)."""
    if len(rows) == 1:
        read(session, _insert(table, tuple(rows[0])), rows[0])
    elif rows:
        session.flush()
        session.connection().execute(table.insert(), rows)


def core_insert_one(session: Session, table: Table, row: dict[str, Any]) -> int:
    """``core_insert`` of one row; returns its new primary key (for a caller that needs the
    ID but not an ORM object)."""
    return int(read(session, _insert(table, tuple(row), returning=True), row).scalar())


MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0008"
"""The newest migration (a test checks it against Alembic's scripts). A database already
at it is not touched, and Alembic (~0.3 s and ~12 MB to import) is not loaded at start-up."""
_LOCK_ID = 7_246_310_001  # PostgreSQL advisory lock: one migrating instance at a time


class PreMigrationDatabase(Exception):
    """The database has casusbot tables but no migration history."""


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet (unit tests; the app uses ``migrate``)."""
    SQLModel.metadata.create_all(engine)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe when two instances start at once.

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
            command.upgrade(alembic_config(connection), revision)
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


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit if the block succeeds, roll back if it raises. (The block may
    roll back itself and go on in a new transaction: ``commands.inbound.answer`` does.)"""
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
