"""Timed work rows: schedule, cancel, claim (by condition, never by a time window)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.db import Prepared, core_insert, read
from storage.models import Timer

_TIMERS = Timer.__table__  # type: ignore[attr-defined]

SCHEDULED = "timers.scheduled"
_BATCH = "timers.batch"


@contextmanager
def batch(session: Session) -> Iterator[None]:
    """Within the block, new timers are written together at its end (one multi-row INSERT);
    any read of timers inside it writes them first, so nothing can miss them."""
    session.info[_BATCH] = []
    try:
        yield
        write_batch(session)
    finally:
        session.info.pop(_BATCH, None)


def write_batch(session: Session) -> None:
    rows = session.info.get(_BATCH)
    if rows:
        core_insert(session, _TIMERS, list(rows))
        rows.clear()


def schedule(session: Session, *, overleg_id: int, kind: str, subject_id: int,
             due_at: datetime) -> None:
    row = {"overleg_id": overleg_id, "kind": kind, "subject_id": subject_id,
           "due_at": due_at, "cancelled": False, "handled_at": None}
    buffered = session.info.get(_BATCH)
    if buffered is not None:
        buffered.append(row)
    else:
        core_insert(session, _TIMERS, [row])
    # The earliest time scheduled in this transaction: the runtime re-arms its waker only
    # when that is sooner than what the waker already waits for.
    earliest = session.info.get(SCHEDULED)
    session.info[SCHEDULED] = due_at if earliest is None else min(earliest, due_at)


def pending(session: Session, *, kinds: tuple[str, ...], subject_id: int) -> list[Timer]:
    write_batch(session)
    return list(session.exec(select(Timer).where(
        col(Timer.kind).in_(kinds), Timer.subject_id == subject_id,
        col(Timer.handled_at).is_(None)).order_by(col(Timer.due_at))))


@cache
def _cancel_of(kinds: tuple[str, ...]) -> Prepared:
    """The cancelling UPDATE for ``kinds`` (a few fixed sets in the code): the kinds are
    values of the statement, not an expanding list, so it is prepared once per set."""
    t = _TIMERS.c
    return Prepared(update(_TIMERS).where(t.subject_id == bindparam("subject"),
                                          or_(*(t.kind == kind for kind in kinds)),
                                          t.handled_at.is_(None))
                    .values(handled_at=bindparam("now"), cancelled=True).returning(t.id))


def cancel(session: Session, *, kinds: tuple[str, ...], subject_id: int,
           now: datetime) -> int:
    """Cancel every pending timer of ``kinds`` for ``subject_id``; returns how many.

    One UPDATE from the partial index on pending timers by subject, no rows loaded (a new
    action has none to cancel, and most have two)."""
    write_batch(session)
    return len(read(session, _cancel_of(kinds), {"subject": subject_id, "now": now}))


class Due(NamedTuple):
    """A claimed timer, as a plain row: what its handler needs, no ORM object."""

    id: int
    overleg_id: int
    kind: str
    subject_id: int
    due_at: datetime


_DUE = (sa_select(_TIMERS.c.id, _TIMERS.c.overleg_id, _TIMERS.c.kind, _TIMERS.c.subject_id,
                  _TIMERS.c.due_at)
        .where(_TIMERS.c.handled_at.is_(None), _TIMERS.c.due_at <= bindparam("now"))
        .order_by(_TIMERS.c.due_at, _TIMERS.c.id).limit(bindparam("limit"))
        .with_for_update(skip_locked=True))


def claim_due(session: Session, now: datetime, limit: int = 500) -> list[Due]:
    """Lock and return the pending timers whose time has come, oldest first.

    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so a second instance takes other rows or none;
    on SQLite the transaction already holds the write lock (BEGIN IMMEDIATE).
    """
    write_batch(session)
    return [Due(*row) for row in session.execute(_DUE, {"now": now, "limit": limit})]


def mark_all_handled(session: Session, rows: list[Due], now: datetime) -> None:
    """One UPDATE for a sweep's batch."""
    session.execute(update(Timer).where(col(Timer.id).in_([t.id for t in rows]))
                    .values(handled_at=now).execution_options(synchronize_session=False))


_NEXT_DUE = Prepared(select(func.min(Timer.due_at)).where(col(Timer.handled_at).is_(None)))
_HAS_PENDING = Prepared(select(Timer.id).where(
    Timer.overleg_id == bindparam("overleg"), Timer.kind == bindparam("kind"),
    col(Timer.handled_at).is_(None)).limit(1))


def next_due(session: Session) -> datetime | None:
    write_batch(session)
    value = read(session, _NEXT_DUE).scalar()
    return value if isinstance(value, datetime) or value is None else None


def overlegs_with_pending(session: Session, kind: str) -> set[int]:
    write_batch(session)
    return set(session.exec(select(Timer.overleg_id).where(
        Timer.kind == kind, col(Timer.handled_at).is_(None)).distinct()))


def has_pending(session: Session, *, overleg_id: int, kind: str) -> bool:
    write_batch(session)
    return read(session, _HAS_PENDING, {"overleg": overleg_id, "kind": kind}).first() is not None
