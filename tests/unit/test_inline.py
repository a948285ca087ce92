"""Commands on the event loop's own thread (App.handle_now): only when that cannot block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from commands.inbound import Inbound
from storage.db import BUSY_TIMEOUT_MS, session_scope
from tests.unit.apps import CHAIR, throwaway_app

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROOM = "!r:localhost"


def _msg(n: int, text_: str = "!overleg list") -> Inbound:
    return Inbound(f"$e{n}", ROOM, CHAIR, text_, NOW, encrypted=True)


@contextmanager
def _write_lock_held_by_another_thread(engine: Engine) -> Iterator[threading.Event]:
    """Within the block another thread's transaction holds SQLite's write lock (until the
    block ends, or the yielded event is set)."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with session_scope(engine) as s:
            s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is ours
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        yield release
    finally:
        release.set()
        holder.join()


def test_with_the_lock_free_the_command_is_handled_at_once(tmp_path: Path) -> None:
    app = throwaway_app(f"sqlite:///{tmp_path / 'db.sqlite'}", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(days=1))
    setup = app.handle_now(_msg(0, "!setup Test"))
    assert setup is not None and "Test" in setup.replies[0].body
    again = app.handle_now(_msg(0, "!setup Test"))
    assert again is not None and again.replies == []  # once only, as on a worker thread
    with session_scope(app.engine) as s:  # the connection waits for a lock again afterwards
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == BUSY_TIMEOUT_MS
    app.engine.dispose()


def test_while_another_transaction_holds_the_lock_it_is_left_to_a_worker(
        tmp_path: Path) -> None:
    app = throwaway_app(f"sqlite:///{tmp_path / 'db.sqlite'}", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(days=1))
    assert app.handle_now(_msg(0, "!setup Test")) is not None
    with _write_lock_held_by_another_thread(app.engine):
        # Had it waited for the lock, it would have been handled once released (below).
        assert app.handle_now(_msg(1)) is None
    done = app.handle(_msg(1))  # the worker thread's path: nothing of the first try stayed
    assert len(done.replies) == 1
    app.engine.dispose()


def test_in_memory_sqlite_is_never_handled_inline() -> None:
    app = throwaway_app("sqlite://", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(days=1))
    assert app.handle_now(_msg(0, "!setup Test")) is None
    app.engine.dispose()


async def test_short_transactions_run_on_the_loop_unless_the_lock_is_taken(
        tmp_path: Path) -> None:
    """``bot.aio.short_transaction`` (a row marked sent, the sync token saved): on the
    loop's thread when SQLite's lock is free, else in a worker thread that waits for it."""
    import asyncio

    from bot.aio import short_transaction
    from storage.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    loop_thread = threading.get_ident()

    def where() -> int:
        with session_scope(engine) as s:
            s.execute(text("SELECT 1"))
        return threading.get_ident()

    assert await short_transaction(engine, where) == loop_thread
    with _write_lock_held_by_another_thread(engine) as release:
        waiting = asyncio.ensure_future(short_transaction(engine, where))
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(0.2)
        # It waits for the lock, and not on the loop's thread (which would have stood still
        # for the 30 s busy timeout).
        assert not waiting.done() and asyncio.get_running_loop().time() - started < 5
        release.set()
        assert await waiting != loop_thread
    memory = make_engine("sqlite://")
    assert await short_transaction(memory, lambda: threading.get_ident()) != loop_thread
    engine.dispose()
    memory.dispose()


async def test_the_sync_token_is_saved_first_then_every_few_seconds_and_at_stop(
        tmp_path: Path) -> None:
    """A write per sync response was a large share of the bot's CPU; a restart from a token
    a few seconds old only sees events again that were recorded as handled."""
    from unittest import mock

    from bot import matrix
    from bot.matrix import MatrixTransport

    app = throwaway_app(f"sqlite:///{tmp_path / 'db.sqlite'}", FakeClock(NOW),
                        CASUSBOT_STORE_PATH=str(tmp_path / "store"))
    transport = MatrixTransport(app)
    key = transport._device_key()
    await transport._save_token("t1")
    assert app.sync_token(key) == "t1"  # the first at once
    await transport._save_token("t2")
    await transport._save_token("t3")
    assert app.sync_token(key) == "t1"  # not on every sync
    with mock.patch.object(matrix, "TOKEN_SAVE_EVERY", 0.0):
        await transport._save_token("t4")
    assert app.sync_token(key) == "t4"
    await transport._save_token("t5")
    await transport.stop()
    assert app.sync_token(key) == "t5"  # the last one, at stop
    app.engine.dispose()
