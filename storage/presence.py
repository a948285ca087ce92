"""Presence at a meeting: who confirmed (and kept confidentiality), and who may therefore get
direct messages about the cases that meeting discussed (issue 24)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage import agendas, overlegs
from storage.models import AgendaItem, Meeting, Member, Presence


def invited(session: Session, meeting: Meeting, *, with_left: bool = False) -> list[Member]:
    """The members ``meeting``'s presence question is for: every member of its overleg in
    the room (``with_left``: also those who left it); at a weegoverleg only the core
    partners' members and those of no partner (chair, coordinator), as only they take part
    (docs/voorzitter.md)."""
    members = overlegs.members(session, meeting.overleg_id, with_left=with_left)
    return _for_meeting(session, meeting, members)


def _for_meeting(session: Session, meeting: Meeting, members: list[Member]) -> list[Member]:
    """Those of ``members`` (of ``meeting``'s overleg) the meeting's question is for."""
    if meeting.kind != "weging":
        return members
    core = {p.id for p in overlegs.partners(session, meeting.overleg_id) if p.kind == "core"}
    return [m for m in members if m.partner_id is None or m.partner_id in core]


def was_asked(member: Member, meeting: Meeting) -> bool:
    """Whether ``member`` was a member when ``meeting``'s question went out (one who joined
    the overleg later was never asked, so never missed it)."""
    asked_at = meeting.presence_asked_at
    return asked_at is not None and member.created_at <= asked_at


def ask(session: Session, meeting: Meeting, *, confidential: bool, now: datetime) -> bool:
    """Record that the members of ``meeting``'s overleg were asked to confirm, unless they
    were asked already: False then. One conditional UPDATE, so of two instances (the start
    timer and the chair's command at once) only one asks."""
    result = session.execute(
        update(Meeting).where(col(Meeting.id) == meeting.id,
                              col(Meeting.presence_asked_at).is_(None))
        .values(presence_asked_at=now, presence_confidential=confidential)
        .execution_options(synchronize_session=False))
    session.refresh(meeting)
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def reset(session: Session, meeting: Meeting) -> int:
    """Ask ``meeting``'s members again (it moved to another day): the question is no longer
    recorded as asked and its confirmations no longer count (kept as withdrawn rows; the
    audit chain keeps each of them). Returns the number of confirmations set aside."""
    result = session.execute(
        update(Presence).where(col(Presence.meeting_id) == meeting.id,
                               col(Presence.withdrawn).is_(False))
        .values(withdrawn=True).execution_options(synchronize_session=False))
    meeting.presence_asked_at = None
    session.add(meeting)
    session.flush()
    session.expire_all()
    return int(result.rowcount)  # type: ignore[attr-defined]


def confirm(session: Session, *, meeting_id: int, user_id: str, partner_id: int | None,
            confidential: bool, source: str, source_event_id: str | None,
            now: datetime) -> Presence:
    """Keep one confirmation (``source``: command, reaction or card)."""
    row = Presence(meeting_id=meeting_id, user_id=user_id, partner_id=partner_id,
                   confidential=confidential, source=source, source_event_id=source_event_id,
                   at=now)
    session.add(row)
    session.flush()
    return row


def current(session: Session, meeting_id: int) -> dict[str, Presence]:
    """Per user ID, the first confirmation for the meeting that was not withdrawn (a person
    confirmed in several ways has one row per source; the earliest standing one counts)."""
    out: dict[str, Presence] = {}
    for row in session.exec(select(Presence).where(
            Presence.meeting_id == meeting_id, col(Presence.withdrawn).is_(False))
            .order_by(col(Presence.at), col(Presence.id))):
        out.setdefault(row.user_id, row)
    return out


def history(session: Session, meeting_id: int) -> list[Presence]:
    """Every confirmation of the meeting, withdrawn ones too, in the order they were kept."""
    return list(session.exec(select(Presence).where(Presence.meeting_id == meeting_id)
                             .order_by(col(Presence.id))))


def withdraw(session: Session, source_event_id: str) -> Presence | None:
    """Withdraw the confirmation given by ``source_event_id`` (a reaction that was removed);
    None when there is none (or it was withdrawn already)."""
    return agendas.withdraw_source(session, Presence, source_event_id)


def has_source(session: Session, meeting_id: int, user_id: str, source: str,
               source_event_id: str | None) -> bool:
    """Whether ``user_id`` has a standing (not withdrawn) confirmation for the meeting from
    ``source`` (and, for a reaction, that very event)."""
    return session.exec(select(Presence.id).where(
        Presence.meeting_id == meeting_id, Presence.user_id == user_id,
        Presence.source == source, Presence.source_event_id == source_event_id,
        col(Presence.withdrawn).is_(False))).first() is not None


def by_event(session: Session, source_event_id: str) -> Presence | None:
    """The confirmation given by ``source_event_id`` (a reaction), withdrawn or not."""
    return session.exec(select(Presence).where(
        Presence.source_event_id == source_event_id)).first()


def by_source_event(session: Session, source_event_id: str) -> bool:
    return session.exec(select(Presence.id).where(
        Presence.source_event_id == source_event_id)).first() is not None


@dataclass(frozen=True)
class Clearance:
    """Who may get direct messages about which case of one overleg.

    ``missed`` maps a case ID to the users whom the last meeting that discussed it (had it
    on its agenda, and asked its members) asked to confirm presence and who did not. Rule
    (issue 24): such a member gets no case-level direct message of that meeting afterwards;
    the room's copy still goes out.
    """

    missed: dict[int, frozenset[str]] = field(default_factory=dict)

    def allows(self, user_id: str, case_id: int) -> bool:
        """Whether ``user_id`` may get a direct message about case ``case_id``: yes unless
        the case's last meeting asked them and they did not confirm."""
        return user_id not in self.missed.get(case_id, ())


def clearance(session: Session, overleg_id: int, now: datetime | None = None) -> Clearance:
    """The overleg's ``Clearance`` (at ``now``: of the meetings asked by then; None: every
    meeting asked so far). Three queries: the agendas of asked meetings with their meetings,
    those meetings' confirmations, the overleg's members (and its partners for a
    weegoverleg, ``_for_meeting``)."""
    asked: list[Any] = [Meeting.overleg_id == overleg_id, Meeting.status == "planned",
             col(Meeting.presence_asked_at).is_not(None)]
    if now is not None:
        asked.append(col(Meeting.presence_asked_at) <= now)
    rows = session.exec(
        select(AgendaItem.case_id, Meeting)
        .join(Meeting, col(Meeting.id) == col(AgendaItem.meeting_id)).where(*asked)
        .order_by(col(Meeting.starts_at), col(Meeting.id))).all()
    last: dict[int, Meeting] = {}
    for case_id, meeting in rows:
        last[case_id] = meeting
    if not last:
        return Clearance()
    meetings = {m.id or 0: m for m in last.values()}
    who: dict[int, set[str]] = {m: set() for m in meetings}
    for meeting_id, user_id in session.exec(
            select(Presence.meeting_id, Presence.user_id).where(
                col(Presence.meeting_id).in_(list(who)), col(Presence.withdrawn).is_(False))):
        who[meeting_id].add(user_id)
    members = overlegs.members(session, overleg_id, with_left=True)  # read once, not per meeting
    missed: dict[int, frozenset[str]] = {}
    for meeting_id, meeting in meetings.items():
        missed[meeting_id] = frozenset(
            m.user_id for m in _for_meeting(session, meeting, members)
            if was_asked(m, meeting) and m.user_id not in who[meeting_id])
    return Clearance({case: missed[m.id or 0] for case, m in last.items()})
