"""SQLite's BEGIN IMMEDIATE on the driver connection (a locked database still reads as
locked); ``tables_written``'s engine-wide listener (nested blocks, exceptions, other
threads' transactions)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.dbcalls import DatabaseCalls, is_locked, no_wait
from storage.db import create_schema, make_engine, session_scope, tables_written


@pytest.fixture
def path(tmp_path):  # type: ignore[no-untyped-def]
    p = tmp_path / "db.sqlite"
    e = make_engine(f"sqlite:///{p}")
    create_schema(e)
    e.dispose()
    return p


def _hold_lock(path):  # type: ignore[no-untyped-def]
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_locked_begin_is_an_operational_error_that_reads_as_locked(path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{path}")
    DatabaseCalls(engine)  # its checkout listener
    other = _hold_lock(path)
    try:
        for begin in ("session", "core"):
            with pytest.raises(OperationalError) as caught, no_wait():
                if begin == "session":
                    with session_scope(engine) as s:
                        s.execute(text("SELECT 1"))
                else:
                    with engine.begin() as c:
                        c.execute(text("SELECT 1"))
            assert is_locked(caught.value), (begin, repr(caught.value))
    finally:
        other.rollback()
        other.close()
    # the pooled connection that failed its BEGIN is usable again (no half-begun state)
    for _ in range(3):
        with session_scope(engine) as s:
            s.execute(text("SELECT 1"))
        with engine.begin() as c:
            c.execute(text("SELECT 1"))
    engine.dispose()


async def test_dbcalls_moves_a_locked_call_to_a_worker_thread(path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{path}")
    calls = DatabaseCalls(engine)
    other = _hold_lock(path)
    where: list[str] = []

    def work() -> int:
        with session_scope(engine) as s:
            where.append(threading.current_thread().name)
            return int(s.execute(text("SELECT 41 + 1")).scalar_one())

    loop = asyncio.get_running_loop()
    loop.call_later(0.3, other.rollback)
    assert await calls.run(work) == 42
    assert calls.in_thread == 1 and calls.inline == 0
    other.close()
    engine.dispose()


def test_tables_written_nested_blocks(path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{path}")
    with session_scope(engine) as s, tables_written(s) as outer:
        s.execute(text("INSERT INTO joinedroom (room_id, joined_at) VALUES ('!a', "
                       "'2026-01-01 00:00:00.000000')"))
        with tables_written(s) as inner:
            s.execute(text("UPDATE joinedroom SET room_id='!b' WHERE room_id='!a'"))
        s.execute(text("DELETE FROM joinedroom WHERE room_id='!b'"))
    assert inner == ["joinedroom"]
    assert outer == ["joinedroom", "joinedroom", "joinedroom"], outer
    engine.dispose()


def test_tables_written_after_an_exception_leaves_nothing_behind(path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(RuntimeError), session_scope(engine) as s, tables_written(s):
        s.execute(text("INSERT INTO joinedroom (room_id, joined_at) VALUES ('!a', "
                       "'2026-01-01 00:00:00.000000')"))
        raise RuntimeError
    # the same pooled connection, a write outside any block: nobody's list grows; a
    # block afterwards starts empty
    with session_scope(engine) as s, tables_written(s) as written:
        pass
    assert written == []
    with engine.begin() as c:
        assert not any(k == "casusbot_tables_written" for k in c.info)
    engine.dispose()


def test_tables_written_sees_only_its_own_transaction_across_threads(path) -> None:  # type: ignore[no-untyped-def]
    """Another thread's transaction on the same engine (the deliverer's mark in a worker
    thread) is not counted in an event's block. (File SQLite: each thread its own pooled
    connection; the other thread waits for the write lock, so it writes after our block.)"""
    engine = make_engine(f"sqlite:///{path}")
    got: list[str] = []
    started = threading.Event()

    def other() -> None:
        started.set()
        with engine.begin() as c:
            c.execute(text("INSERT INTO joinedroom (room_id, joined_at) VALUES ('!z', "
                           "'2026-01-01 00:00:00.000000')"))

    with session_scope(engine) as s, tables_written(s) as written:
        s.execute(text("SELECT 1"))
        t = threading.Thread(target=other)
        t.start()
        started.wait()
        got = written
    t.join()
    assert got == []
    engine.dispose()


def test_tables_written_concurrent_writer_on_postgresql(pg_url: str) -> None:
    """PostgreSQL: another thread's transaction writes while the block is open (no global
    write lock there): its write is not counted in the block, the block's own is."""
    engine = make_engine(pg_url)
    create_schema(engine)
    done = threading.Event()

    def other() -> None:
        with engine.begin() as c:
            c.execute(text("INSERT INTO joinedroom (room_id, joined_at) VALUES ('!z', now())"))
        done.set()

    with session_scope(engine) as s, tables_written(s) as written:
        s.execute(text("SELECT 1"))
        t = threading.Thread(target=other)
        t.start()
        assert done.wait(10)
        s.execute(text("INSERT INTO joinedroom (room_id, joined_at) VALUES ('!y', now())"))
        got = list(written)
    t.join()
    assert got == ["joinedroom"]
    engine.dispose()
