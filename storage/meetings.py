"""Meetings, numbered M1, M2… per overleg, and their series, S1, S2… per overleg."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from storage.models import Meeting, MeetingSeries

_BY_NUMBER = select(Meeting).where(Meeting.overleg_id == bindparam("overleg"),
                                   Meeting.number == bindparam("number"))
_PLANNED = select(Meeting).where(Meeting.overleg_id == bindparam("overleg"),
                                 Meeting.status == "planned").order_by(col(Meeting.starts_at))


def _next_number(session: Session, overleg_id: int,
                 model: type[Meeting] | type[MeetingSeries] = Meeting) -> int:
    """One above the overleg's highest number of ``model`` (M1, M2…; S1, S2…)."""
    current = session.exec(select(func.max(model.number)).where(
        model.overleg_id == overleg_id)).one()
    return int(current or 0) + 1


def add(session: Session, *, overleg_id: int, starts_at: datetime, minutes: int,
        place: str | None, now: datetime, kind: str = "casusoverleg",
        series_id: int | None = None, series_start: datetime | None = None) -> Meeting:
    meeting = Meeting(overleg_id=overleg_id, number=_next_number(session, overleg_id),
                      starts_at=starts_at, minutes=minutes, place=place, kind=kind,
                      created_at=now, series_id=series_id, series_start=series_start)
    session.add(meeting)
    session.flush()
    return meeting


def by_number(session: Session, overleg_id: int, number: int) -> Meeting | None:
    return session.exec(_BY_NUMBER, params={"overleg": overleg_id, "number": number}).first()


def upcoming(session: Session, overleg_id: int, now: datetime) -> list[Meeting]:
    """Planned meetings that have not ended yet, soonest first."""
    rows = session.exec(_PLANNED, params={"overleg": overleg_id}).all()
    return [m for m in rows if m.starts_at.timestamp() + m.minutes * 60 > now.timestamp()]


def count_future(session: Session, overleg_id: int, now: datetime) -> int:
    """How many planned meetings of the overleg start after ``now`` (one COUNT query)."""
    return int(session.exec(select(func.count()).select_from(Meeting).where(
        Meeting.overleg_id == overleg_id, Meeting.status == "planned",
        col(Meeting.starts_at) > now)).one())


def save(session: Session, meeting: Meeting) -> None:
    session.add(meeting)
    session.flush()


def add_series(session: Session, series: MeetingSeries) -> MeetingSeries:
    """Store ``series`` with the overleg's next number (S1, S2…)."""
    series.number = _next_number(session, series.overleg_id, MeetingSeries)
    session.add(series)
    session.flush()
    return series


def series_by_number(session: Session, overleg_id: int, number: int) -> MeetingSeries | None:
    return session.exec(select(MeetingSeries).where(
        MeetingSeries.overleg_id == overleg_id, MeetingSeries.number == number)).first()


def all_series(session: Session, overleg_id: int) -> list[MeetingSeries]:
    return list(session.exec(select(MeetingSeries).where(
        MeetingSeries.overleg_id == overleg_id).order_by(col(MeetingSeries.number))))


def of_series(session: Session, series_id: int) -> list[Meeting]:
    """Every meeting of a series, planned or cancelled, by the moment the rule gives it."""
    return list(session.exec(select(Meeting).where(Meeting.series_id == series_id)
                             .order_by(col(Meeting.series_start))))


def save_series(session: Session, series: MeetingSeries) -> None:
    session.add(series)
    session.flush()
