"""Timed work rows: schedule, cancel, claim (by condition, never by a time window)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.models import Overleg, RoomAbsence, Timer, table_of


def _held() -> Any:
    """The overleggen whose room the bot is out of: their timers wait until it is back
    (issue 19: what falls due meanwhile is sent when it is back, late, once)."""
    return (core_select(col(Overleg.id))
            .join(RoomAbsence, col(RoomAbsence.room_id) == col(Overleg.room_id))
            .where(col(RoomAbsence.back_at).is_(None)))


class Plan(NamedTuple):
    """A timer to write: which rule (``kind``), about what, when."""

    overleg_id: int
    kind: str
    subject_id: int
    due_at: datetime


def schedule(session: Session, *, overleg_id: int, kind: str, subject_id: int,
             due_at: datetime) -> None:
    """Plan one timer."""
    schedule_all(session, [Plan(overleg_id, kind, subject_id, due_at)])


_TIMERS = table_of(Timer)
_PLAN = insert(_TIMERS)


def schedule_all(session: Session, plans: list[Plan]) -> None:
    """Plan many timers with one Core INSERT of plain rows (a sweep plans thousands)."""
    if plans:
        session.execute(_PLAN, [
            {**p._asdict(), "cancelled": False, "handled_at": None} for p in plans])


def pending(session: Session, *, kinds: tuple[str, ...], subject_id: int) -> list[Timer]:
    return list(session.exec(select(Timer).where(
        col(Timer.kind).in_(kinds), Timer.subject_id == subject_id,
        col(Timer.handled_at).is_(None)).order_by(col(Timer.due_at))))


def cancel(session: Session, *, kinds: tuple[str, ...], subject_id: int,
           now: datetime) -> int:
    """Cancel every pending timer of ``kinds`` for ``subject_id``; returns how many (one
    UPDATE from the partial index on pending timers by subject, no rows loaded)."""
    result = session.execute(_cancel(kinds), {"subject": subject_id, "now": now})
    return int(result.rowcount)  # type: ignore[attr-defined]


@functools.cache
def _cancel(kinds: tuple[str, ...]) -> Any:
    """The cancelling UPDATE for one set of rules' kinds (a few fixed tuples), built once."""
    return update(_TIMERS).where(
        _TIMERS.c.subject_id == bindparam("subject"), _TIMERS.c.kind.in_(kinds),
        _TIMERS.c.handled_at.is_(None)).values(handled_at=bindparam("now"), cancelled=True)


class Due(NamedTuple):
    """A claimed timer: what its rule needs."""

    id: int
    overleg_id: int
    kind: str
    subject_id: int
    due_at: datetime


def claim_due(session: Session, now: datetime, limit: int = 500) -> list[Due]:
    """Lock and return the pending timers whose time has come, oldest first (not those
    of an overleg whose room the bot is out of: ``_held``).

    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so a second instance takes other rows or none;
    on SQLite the transaction already holds the write lock (BEGIN IMMEDIATE).
    """
    rows = session.execute(
        core_select(col(Timer.id), col(Timer.overleg_id), col(Timer.kind), col(Timer.subject_id),
               col(Timer.due_at))
        .where(col(Timer.handled_at).is_(None), col(Timer.due_at) <= now,
               col(Timer.overleg_id).not_in(_held()))
        .order_by(col(Timer.due_at), col(Timer.id)).limit(limit)
        .with_for_update(skip_locked=True))
    return [Due(*row) for row in rows]


def mark_all_handled(session: Session, rows: list[Due], now: datetime) -> None:
    """One UPDATE for a sweep's batch."""
    session.execute(update(Timer).where(col(Timer.id).in_([t.id for t in rows]))
                    .values(handled_at=now).execution_options(synchronize_session=False))


def next_due(session: Session) -> datetime | None:
    """When the earliest pending timer is due (None: nothing is planned); the timers of an
    overleg whose room the bot is out of wait for its return (``_held``)."""
    session.flush()  # (a Core statement does not autoflush: what this transaction changed)
    value = session.execute(_NEXT_DUE).scalar()
    return value if isinstance(value, datetime) else None


_NEXT_DUE = core_select(func.min(_TIMERS.c.due_at)).where(
    _TIMERS.c.handled_at.is_(None), _TIMERS.c.overleg_id.not_in(_held()))


def overlegs_with_pending(session: Session, kind: str) -> set[int]:
    return set(session.exec(select(Timer.overleg_id).where(
        Timer.kind == kind, col(Timer.handled_at).is_(None)).distinct()))


def has_pending(session: Session, *, overleg_id: int, kind: str) -> bool:
    return session.exec(select(Timer.id).where(
        Timer.overleg_id == overleg_id, Timer.kind == kind,
        col(Timer.handled_at).is_(None)).limit(1)).first() is not None
