"""Agendas (case IDs only), attendance answers and "we hold information" answers."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlmodel import Session, col, select

from storage.models import AgendaItem, Attendance, InfoAnswer, Meeting, PollEnd, Presence


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


Answered = TypeVar("Answered", Attendance, Presence)


def withdraw_source(session: Session, table: type[Answered],
                    source_event_id: str) -> Answered | None:
    """Mark the row of ``table`` given by ``source_event_id`` (a reaction that was removed)
    withdrawn; None when there is none or it was withdrawn already. One rule for agenda
    answers and presence confirmations."""
    row = session.exec(select(table).where(
        col(table.source_event_id) == source_event_id)).first()
    if row is None or row.withdrawn:
        return None
    row.withdrawn = True
    session.add(row)
    session.flush()
    return row


def withdraw(session: Session, source_event_id: str) -> Attendance | None:
    """Withdraw the answer given by ``source_event_id`` (a reaction that was removed)."""
    return withdraw_source(session, Attendance, source_event_id)


POLL = "poll"
SPOILED = "poll_spoiled"
"""Sources of poll responses: a valid vote, and a spoiled one (no valid answer ID: an empty
selection or an unknown ID), kept as a row so it can override the sender's earlier vote."""


def current_answers(session: Session, meeting_id: int) -> dict[int, Attendance]:
    """Per partner ID, the latest answer (by the time it was said) that was not withdrawn.

    Poll responses follow MSC3381 (Chat Polls): of one user's responses to the meeting's
    poll only the latest by its ``origin_server_ts`` counts, even when it arrived first; a
    latest response that is spoiled means that user has no poll answer (an earlier vote of
    theirs does not come back); a redacted response is as if it was never sent (the user's
    vote reverts to their previous response). Commands, reactions and card buttons are
    separate answers: the last of all answers that count is the partner's answer.
    """
    rows = list(session.exec(select(Attendance).where(Attendance.meeting_id == meeting_id,
                                                      col(Attendance.withdrawn).is_(False))
                             .order_by(col(Attendance.at), col(Attendance.id))))
    latest_vote: dict[str, Attendance] = {}
    for row in rows:
        if row.source in (POLL, SPOILED):
            latest_vote[row.user_id] = row
    current: dict[int, Attendance] = {}
    for row in rows:
        if row.source in (POLL, SPOILED) and (row.source == SPOILED
                                              or latest_vote[row.user_id] is not row):
            continue
        current[row.partner_id] = row
    return current


def latest_vote(session: Session, meeting_id: int, user_id: str) -> Attendance | None:
    """``user_id``'s poll response that counts for the meeting (MSC3381: the latest by its
    own timestamp, not withdrawn), spoiled or not; None when they never voted."""
    return session.exec(select(Attendance).where(
        Attendance.meeting_id == meeting_id, Attendance.user_id == user_id,
        col(Attendance.source).in_((POLL, SPOILED)), col(Attendance.withdrawn).is_(False))
        .order_by(col(Attendance.at).desc(), col(Attendance.id).desc())).first()


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


def end_poll(session: Session, poll_event_id: str, sender: str, at: datetime) -> PollEnd:
    """Remember that the poll ``poll_event_id`` was closed at ``at`` (an ``m.poll.end``'s
    own timestamp); of several ends the earliest counts (MSC3381)."""
    row = session.get(PollEnd, poll_event_id)
    if row is None:
        row = PollEnd(poll_event_id=poll_event_id, ended_at=at, sender=sender)
    elif at < row.ended_at:
        row.ended_at, row.sender = at, sender
    session.add(row)
    session.flush()
    return row


def poll_ended_at(session: Session, poll_event_id: str) -> datetime | None:
    """When the poll ``poll_event_id`` was closed (None: it is open)."""
    row = session.get(PollEnd, poll_event_id)
    return row.ended_at if row else None
