"""Meetings, numbered M1, M2… per overleg."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from storage.models import Meeting

_BY_NUMBER = select(Meeting).where(Meeting.overleg_id == bindparam("overleg"),
                                   Meeting.number == bindparam("number"))
_PLANNED = select(Meeting).where(Meeting.overleg_id == bindparam("overleg"),
                                 Meeting.status == "planned").order_by(col(Meeting.starts_at))


def _next_number(session: Session, overleg_id: int) -> int:
    current = session.exec(select(func.max(Meeting.number)).where(
        Meeting.overleg_id == overleg_id)).one()
    return int(current or 0) + 1


def add(session: Session, *, overleg_id: int, starts_at: datetime, minutes: int,
        place: str | None, now: datetime, kind: str = "casusoverleg") -> Meeting:
    meeting = Meeting(overleg_id=overleg_id, number=_next_number(session, overleg_id),
                      starts_at=starts_at, minutes=minutes, place=place, kind=kind,
                      created_at=now)
    session.add(meeting)
    session.flush()
    return meeting


def by_number(session: Session, overleg_id: int, number: int) -> Meeting | None:
    return session.exec(_BY_NUMBER, params={"overleg": overleg_id, "number": number}).first()


def upcoming(session: Session, overleg_id: int, now: datetime) -> list[Meeting]:
    """Planned meetings that have not ended yet, soonest first."""
    rows = session.exec(_PLANNED, params={"overleg": overleg_id}).all()
    return [m for m in rows if m.starts_at.timestamp() + m.minutes * 60 > now.timestamp()]


def save(session: Session, meeting: Meeting) -> None:
    session.add(meeting)
    session.flush()
