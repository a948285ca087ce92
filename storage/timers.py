"""Timed work rows: schedule, cancel, claim (by condition, never by a time window)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import Timer

SCHEDULED = "timers.scheduled"


def schedule(session: Session, *, overleg_id: int, kind: str, subject_id: int,
             due_at: datetime) -> Timer:
    timer = Timer(overleg_id=overleg_id, kind=kind, subject_id=subject_id, due_at=due_at)
    session.add(timer)
    session.flush()
    session.info[SCHEDULED] = True  # the runtime re-arms its waker only after such a change
    return timer


def pending(session: Session, *, kinds: tuple[str, ...], subject_id: int) -> list[Timer]:
    return list(session.exec(select(Timer).where(
        col(Timer.kind).in_(kinds), Timer.subject_id == subject_id,
        col(Timer.handled_at).is_(None)).order_by(col(Timer.due_at))))


def cancel(session: Session, *, kinds: tuple[str, ...], subject_id: int,
           now: datetime) -> int:
    """Cancel every pending timer of ``kinds`` for ``subject_id``; returns how many."""
    rows = pending(session, kinds=kinds, subject_id=subject_id)
    for row in rows:
        row.handled_at = now
        row.cancelled = True
        session.add(row)
    session.flush()
    return len(rows)


def claim_due(session: Session, now: datetime, limit: int = 500) -> list[Timer]:
    """Lock and return the pending timers whose time has come, oldest first.

    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so a second instance takes other rows or none;
    on SQLite the transaction already holds the write lock (BEGIN IMMEDIATE).
    """
    query = (select(Timer).where(col(Timer.handled_at).is_(None), Timer.due_at <= now)
             .order_by(col(Timer.due_at), col(Timer.id)).limit(limit)
             .with_for_update(skip_locked=True))
    return list(session.exec(query))


def mark_handled(session: Session, timer: Timer, now: datetime) -> None:
    timer.handled_at = now
    session.add(timer)
    session.flush()


def next_due(session: Session) -> datetime | None:
    value = session.exec(select(func.min(Timer.due_at))
                         .where(col(Timer.handled_at).is_(None))).one()
    return value if isinstance(value, datetime) or value is None else None


def has_pending(session: Session, *, overleg_id: int, kind: str) -> bool:
    return session.exec(select(Timer.id).where(
        Timer.overleg_id == overleg_id, Timer.kind == kind,
        col(Timer.handled_at).is_(None)).limit(1)).first() is not None
