"""Short database work started from the event loop: on the loop thread when it need not wait.

A command's transaction takes 1-4 ms of CPU. Run in a worker thread, each call adds two
thread switches and a fight for the GIL with the loop; on the bench's one shared CPU that
cost more than the work itself (see docs/PERFORMANCE.md). So on SQLite a call runs at once
on the loop thread, with SQLite told not to wait for the write lock (``busy_timeout=0``):
if another transaction holds it (a sweep in a worker thread, another process), the call
gives up at its first ``BEGIN IMMEDIATE``, before anything was written, and runs again in
a worker thread, where it may wait. On PostgreSQL (network round trips, row locks) every
call runs in a worker thread.

This is the one place that chooses; storage knows nothing of it (the choice reaches SQLite
through a pool ``checkout`` listener, before storage's ``begin`` takes the lock).
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from storage.db import BUSY_TIMEOUT_MS

T = TypeVar("T")
_NO_WAIT: contextvars.ContextVar[bool] = contextvars.ContextVar("casusbot_no_wait",
                                                                default=False)


def _busy_timeout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """When a transaction's connection is taken from the pool (before storage's
    ``BEGIN IMMEDIATE``): wait for the write lock, or, inside ``no_wait``, not. The pooled
    connection remembers its setting, so the PRAGMA runs only when it changes."""
    wanted = 0 if _NO_WAIT.get() else BUSY_TIMEOUT_MS
    if record.info.get("busy_timeout_ms", BUSY_TIMEOUT_MS) != wanted:
        dbapi_conn.execute(f"PRAGMA busy_timeout={wanted}")
        record.info["busy_timeout_ms"] = wanted


@contextmanager
def no_wait() -> Iterator[None]:
    """Transactions begun inside (on this thread, in this context) do not wait for SQLite's
    write lock: their ``BEGIN IMMEDIATE`` fails at once if it is taken (``is_locked``)."""
    token = _NO_WAIT.set(True)
    try:
        yield
    finally:
        _NO_WAIT.reset(token)


def is_locked(error: BaseException) -> bool:
    """SQLite's "the write lock is taken" (SQLITE_BUSY), as SQLAlchemy raises it."""
    return isinstance(error, OperationalError) and isinstance(error.orig, sqlite3.Error) \
        and "database is locked" in str(error.orig)


class DatabaseCalls:
    """``await calls.run(work, *args)``: ``work(*args)`` (blocking, opens its own
    transactions) on the loop thread if SQLite's write lock is free, else in a worker
    thread. ``work`` must be safe to run again after a refusal: a transaction of it that
    committed before a later one was refused runs twice (an event's handling does, and its
    dedupe row makes the second a no-op; the deliverer's writes are idempotent).
    ``inline`` and ``in_thread`` count where calls ran (/metrics, tests)."""

    def __init__(self, engine: Engine) -> None:
        self.sqlite = engine.dialect.name == "sqlite"
        if self.sqlite and not event.contains(engine, "checkout", _busy_timeout):
            event.listen(engine, "checkout", _busy_timeout)
        self.inline = 0
        self.in_thread = 0

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        if self.sqlite:
            try:
                with no_wait():
                    result = work(*args)
                self.inline += 1
                return result
            except OperationalError as e:
                if not is_locked(e):
                    raise
        self.in_thread += 1
        return await asyncio.to_thread(work, *args)
