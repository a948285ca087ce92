"""Agendas (case IDs only), attendance answers and "we hold information" answers."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import AgendaItem, Attendance, InfoAnswer, Meeting


def items(session: Session, meeting_id: int) -> list[AgendaItem]:
    return list(session.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                             .order_by(col(AgendaItem.id))))


def item(session: Session, meeting_id: int, case_id: int) -> AgendaItem | None:
    return session.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id,
                                                 AgendaItem.case_id == case_id)).first()


def add_item(session: Session, *, meeting_id: int, case_id: int, kind: str,
             now: datetime) -> AgendaItem:
    row = AgendaItem(meeting_id=meeting_id, case_id=case_id, kind=kind, added_at=now)
    session.add(row)
    session.flush()
    return row


def remove_item(session: Session, row: AgendaItem) -> None:
    session.delete(row)
    session.flush()


def meetings_of_case(session: Session, case_id: int) -> list[Meeting]:
    return list(session.exec(select(Meeting).join(AgendaItem,
                                                  col(AgendaItem.meeting_id) == Meeting.id)
                             .where(AgendaItem.case_id == case_id)
                             .order_by(col(Meeting.starts_at))))


def was_on_an_agenda(session: Session, case_id: int) -> bool:
    query = select(AgendaItem.id).where(AgendaItem.case_id == case_id).limit(1)
    return session.exec(query).first() is not None


def answer(session: Session, *, meeting_id: int, partner_id: int, user_id: str, attends: bool,
           delegate: str | None, source: str, source_event_id: str | None,
           now: datetime) -> Attendance:
    row = Attendance(meeting_id=meeting_id, partner_id=partner_id, user_id=user_id,
                     attends=attends, delegate=delegate, source=source,
                     source_event_id=source_event_id, at=now)
    session.add(row)
    session.flush()
    return row


def withdraw(session: Session, source_event_id: str) -> Attendance | None:
    """Withdraw the answer given by ``source_event_id`` (a reaction that was removed)."""
    row = session.exec(select(Attendance).where(
        Attendance.source_event_id == source_event_id)).first()
    if row is None or row.withdrawn:
        return None
    row.withdrawn = True
    session.add(row)
    session.flush()
    return row


def current_answers(session: Session, meeting_id: int) -> dict[int, Attendance]:
    """Per partner ID, the latest answer that was not withdrawn."""
    current: dict[int, Attendance] = {}
    for row in session.exec(select(Attendance).where(Attendance.meeting_id == meeting_id,
                                                     col(Attendance.withdrawn).is_(False))
                            .order_by(col(Attendance.at), col(Attendance.id))):
        current[row.partner_id] = row
    return current


def history(session: Session, meeting_id: int) -> list[Attendance]:
    return list(session.exec(select(Attendance).where(Attendance.meeting_id == meeting_id)
                             .order_by(col(Attendance.id))))


def set_info(session: Session, *, meeting_id: int, case_id: int, partner_id: int,
             user_id: str, holds: bool, now: datetime) -> InfoAnswer:
    row = InfoAnswer(meeting_id=meeting_id, case_id=case_id, partner_id=partner_id,
                     user_id=user_id, holds=holds, at=now)
    session.add(row)
    session.flush()
    return row


def current_info(session: Session, meeting_id: int) -> dict[tuple[int, int], InfoAnswer]:
    """Per (case ID, partner ID), the latest information answer."""
    current: dict[tuple[int, int], InfoAnswer] = {}
    for row in session.exec(select(InfoAnswer).where(InfoAnswer.meeting_id == meeting_id)
                            .order_by(col(InfoAnswer.at), col(InfoAnswer.id))):
        current[(row.case_id, row.partner_id)] = row
    return current


def by_source_event(session: Session, source_event_id: str) -> bool:
    return session.exec(select(Attendance.id).where(
        Attendance.source_event_id == source_event_id)).first() is not None
