"""Database calls from the event loop (bot/dbcalls.py): on the loop thread while SQLite's
write lock is free; in a worker thread, waiting, while another connection holds it. The lock
is held by a second, real SQLite connection, as another process or a sweep would."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select

from bot.app import retrying
from bot.clock import FakeClock
from bot.dbcalls import DatabaseCalls, is_locked, no_wait
from commands.inbound import Inbound
from storage import inbound
from storage.db import session_scope
from storage.models import InboundEvent
from tests.unit.apps import throwaway_app

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROOM = "!r:localhost"


def _db_file(url: str) -> str:
    return url.removeprefix("sqlite:///")


@pytest.fixture
def app(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW),
                        CASUSBOT_REQUIRE_E2EE="false")
    app.record_join(ROOM, NOW - timedelta(days=1))
    return app


def _help(n: int) -> Inbound:
    return Inbound(event_id=f"$e{n}", room_id=ROOM, sender="@chair:localhost",
                   text="!hulp", sent_at=NOW)


def _threads_used(calls: DatabaseCalls, work):  # type: ignore[no-untyped-def]
    seen: list[int] = []

    def traced(*args):  # type: ignore[no-untyped-def]
        seen.append(threading.get_ident())
        return work(*args)

    return seen, traced


def test_a_call_runs_on_the_loop_thread_when_the_lock_is_free(app) -> None:  # type: ignore[no-untyped-def]
    calls = DatabaseCalls(app.engine)

    async def go() -> tuple[int, list[int]]:
        seen, traced = _threads_used(calls, app.handle)
        done = await calls.run(traced, _help(1))
        return len(done.replies), seen

    replies, seen = asyncio.run(go())
    assert replies == 1
    assert seen == [threading.get_ident()]  # asyncio.run's loop runs in this thread
    assert (calls.inline, calls.in_thread) == (1, 0)


def test_a_held_lock_sends_the_call_to_a_thread_that_waits_and_handles_it_once(app) -> None:  # type: ignore[no-untyped-def]
    calls = DatabaseCalls(app.engine)
    holder = sqlite3.connect(_db_file(str(app.engine.url)), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock

    async def go() -> tuple[int, list[int], bool]:
        seen, traced = _threads_used(calls, app.handle)
        task = asyncio.ensure_future(calls.run(traced, _help(2)))
        await asyncio.sleep(0.3)
        waiting = not task.done()  # the loop was not blocked: this coroutine ran meanwhile
        holder.execute("COMMIT")
        done = await asyncio.wait_for(task, 30)
        return len(done.replies), seen, waiting

    replies, seen, waiting = asyncio.run(go())
    holder.close()
    assert waiting and replies == 1
    assert seen[-1] != threading.get_ident()  # it ran (again) in a worker thread
    assert (calls.inline, calls.in_thread) == (0, 1)
    with session_scope(app.engine) as s:  # recorded once, answered once
        assert s.exec(select(func.count()).select_from(InboundEvent)).one() == 1


def test_a_lock_refusal_is_not_retried_as_a_lost_race(app) -> None:  # type: ignore[no-untyped-def]
    DatabaseCalls(app.engine)  # (its listener makes ``no_wait`` reach SQLite)
    holder = sqlite3.connect(_db_file(str(app.engine.url)), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    tries: list[int] = []

    def work() -> None:
        tries.append(1)
        with no_wait(), session_scope(app.engine) as s:
            inbound.first_time(s, "$x", ROOM, NOW)

    with pytest.raises(OperationalError) as refused:
        retrying(work)
    holder.execute("ROLLBACK")
    holder.close()
    assert is_locked(refused.value)
    assert len(tries) == 1


def test_other_database_errors_propagate_from_the_loop_thread(app) -> None:  # type: ignore[no-untyped-def]
    calls = DatabaseCalls(app.engine)

    def broken() -> None:
        with session_scope(app.engine) as s:
            s.connection().exec_driver_sql("SELECT * FROM no_such_table")

    with pytest.raises(OperationalError):
        asyncio.run(calls.run(broken))
    assert (calls.inline, calls.in_thread) == (0, 0)
