"""Retention: closed cases are purged after the overleg's term; open ones are reviewed yearly.

The purge removes a case everywhere: its agenda lines, information answers, actions with
their history and reminders, partner links, and every outbox row that mentions it. The
audit chain keeps a tombstone; subjects that named the case are blanked (their digests keep
the chain verifiable).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, or_, select

from commands import caseid, covenant, workdays
from commands.registry import Batch, Outgoing, timer, upkeep
from storage import audit, cases, overlegs, timers
from storage.models import (
    Action,
    ActionChange,
    AgendaItem,
    Case,
    CasePartner,
    InfoAnswer,
    Member,
    OutboxMessage,
    Overleg,
    Timer,
)
from storage.timers import Due

log = logging.getLogger(__name__)
REVIEW = "case.review"


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def expired(session: Session, now: datetime) -> list[tuple[Overleg, Case]]:
    """Closed cases whose retention term has passed."""
    out = []
    by_id = {o.id: o for o in overlegs.all_overlegs(session)}
    # One query for every overleg (the sweep asks this on every pass).
    for case in session.exec(select(Case).where(Case.status == "closed")):
        overleg = by_id.get(case.overleg_id)
        if overleg and case.closed_at and \
                add_years(case.closed_at, overleg.retention_years) <= now:
            out.append((overleg, case))
    return out


def purge_case(session: Session, overleg: Overleg, case: Case, now: datetime) -> dict[str, int]:
    """Remove ``case`` and everything about it after its retention term (``remove_case``),
    and record that in the audit chain; returns what was removed, per kind."""
    counts = remove_case(session, case, reason="retention", now=now)
    audit.record(session, overleg_id=overleg.id, actor="casusbot", role="system",
                 action="case.purged", subject=f"case #{case.id} after "
                 f"{overleg.retention_years} years", now=now)
    return counts


CASE_TIMERS = (REVIEW, covenant.FOLLOWUP, covenant.MONITOR)
"""The timers whose subject is a case (the yearly review, a weging's follow-up date, the
monitoring cadence of commands/covenant.py)."""


def remove_case(session: Session, case: Case, *, reason: str, now: datetime
                ) -> dict[str, int]:
    """Delete ``case`` and everything about it: agenda lines, information answers, actions
    with their history and reminders, the case's own timers, partner links, every outbox row
    (sent or not) that names its ID or one of its actions (``case_message_ids``); the audit
    subjects that named it or one of its actions (``A<n>`` as a whole ID, within the
    overleg: action numbers are never reissued, migration 0022) are blanked (their digests
    keep the chain verifiable); a tombstone (``storage.cases.bury``: the ID with ``reason``,
    ``retention`` or an erasure's ground, and ``now``) keeps the ID from being given out
    again and lets an export say it was removed. The one removal both the retention purge
    and an erasure (commands/casefile.py) use; the caller records why in the audit chain.
    Returns how many rows went, per kind (English labels for the command line)."""
    assert case.id is not None
    shown = caseid.display(case.code)
    owned = list(session.exec(select(Action.id, Action.number).where(
        Action.case_id == case.id)))
    action_ids = [row[0] for row in owned]
    numbers = [f"A{row[1]}" for row in owned]
    reminders = or_(col(Timer.kind).in_(("action.due_soon", "action.overdue"))
                    & col(Timer.subject_id).in_(action_ids),
                    col(Timer.kind).in_(CASE_TIMERS) & (col(Timer.subject_id) == case.id))
    # First take every pending timer of the case's overleg (PostgreSQL: FOR UPDATE). A
    # sweep that has claimed one of them (a reminder of the case, the overleg's digest that
    # lists it) has committed by then, and what it wrote is read below and removed too; a
    # sweep that comes later skips them (SKIP LOCKED) until this transaction commits, so it
    # never reads the case. Found by breaking try-outs: a sweep's reminder, and a digest,
    # outlived the erasure. (SQLite: transactions are serial; no-op.)
    session.exec(select(Timer.id).where(col(Timer.overleg_id) == case.overleg_id,
                                        col(Timer.handled_at).is_(None))
                 .with_for_update()).all()
    messages = case_message_ids(session, case, numbers)
    counts = {
        "agenda lines": _delete(session, AgendaItem, col(AgendaItem.case_id) == case.id),
        "information answers": _delete(session, InfoAnswer, col(InfoAnswer.case_id) == case.id),
        "action changes": _delete(session, ActionChange,
                                  col(ActionChange.action_id).in_(action_ids)),
        "reminders": _delete(session, Timer, reminders),
        "actions": _delete(session, Action, col(Action.case_id) == case.id),
        "partner links": _delete(session, CasePartner, col(CasePartner.case_id) == case.id),
        "messages": _delete(session, OutboxMessage, col(OutboxMessage.id).in_(messages)),
    }
    session.delete(case)
    session.flush()
    cases.bury(session, code=case.code, overleg_id=case.overleg_id, reason=reason, now=now)
    counts["audit subjects blanked"] = audit.erase_subjects_naming(session, [shown], None) + \
        audit.erase_subjects_naming(session, numbers, case.overleg_id)
    return counts


def case_message_ids(session: Session, case: Case, numbers: list[str]) -> list[int]:
    """The outbox rows (sent or not) about ``case``, oldest first: every row naming its ID
    ``C-…`` as a whole ID (``C-7K2FJ`` is not ``C-7K2FJ7``: IDs have 5 to 8 characters),
    and every row naming one of its actions (``numbers``, e.g. ``["A3"]``; the replies to
    ``!actie wijzig``, ``verplaatsen``, ``toewijzen``, ``klaar`` name only the action) as a
    whole ID (``A1`` is not ``A10``) in the overleg's room or a direct message to a member
    of this overleg and of no other (an action number is unique only within its overleg).
    Action numbers are never given out again (migration 0022), so the match is the case's
    own. With them the poll and ``.ics`` rows of an undelivered agenda among them
    (``_companions``)."""
    shown = caseid.display(case.code)
    fields = (OutboxMessage.body, OutboxMessage.formatted_body, OutboxMessage.content_json)
    named = audit.whole_ids([shown])  # (not a longer ID that starts with it: 5-8 characters)
    found = {row.id for row in session.exec(select(OutboxMessage).where(
        or_(*(col(f).contains(shown) for f in fields))))
        if any(named.search(t or "") for t in (row.body, row.formatted_body, row.content_json))}
    if numbers:
        overleg = session.get(Overleg, case.overleg_id)
        own = set(session.exec(select(Member.user_id).where(
            Member.overleg_id == case.overleg_id)))
        elsewhere = set(session.exec(select(Member.user_id).where(
            col(Member.user_id).in_(own), Member.overleg_id != case.overleg_id)))
        rooms = (own - elsewhere) | ({overleg.room_id} if overleg else set())
        pattern = audit.whole_ids(numbers)
        for row in session.exec(select(OutboxMessage).where(
                col(OutboxMessage.room_id).in_(rooms),
                or_(*(col(f).contains(n) for f in fields for n in numbers)))):
            if any(pattern.search(t or "") for t in (row.body, row.formatted_body,
                                                      row.content_json)):
                found.add(row.id)
    ids = sorted(i for i in found if i is not None)
    return sorted(ids + _companions(session, ids))


def _companions(session: Session, ids: list[int]) -> list[int]:
    """The poll and ``.ics`` rows that go with an undelivered agenda among ``ids`` (same
    ``ref`` and room, not sent either): the agenda is withdrawn whole, so they would
    otherwise be delivered without it."""
    if not ids:
        return []
    agendas = session.exec(select(OutboxMessage.ref, OutboxMessage.room_id).where(
        col(OutboxMessage.id).in_(ids), OutboxMessage.template == "agenda/agenda",
        col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.ref).is_not(None))).all()
    found: list[int] = []
    for ref, room in set(agendas):
        found += [i for i in session.exec(select(OutboxMessage.id).where(
            OutboxMessage.ref == ref, OutboxMessage.room_id == room,
            col(OutboxMessage.sent_at).is_(None),
            col(OutboxMessage.template).in_(("agenda/poll", "agenda/ics")))) if i is not None]
    return sorted(set(found) - set(ids))


def _delete(session: Session, table: type, condition: object) -> int:
    result = session.execute(delete(table).where(condition))  # type: ignore[arg-type]
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge(session: Session, now: datetime, *, dry_run: bool = False) -> list[dict[str, object]]:
    """Purge every expired case (or, with ``dry_run``, only say which would go)."""
    report: list[dict[str, object]] = []
    for overleg, case in expired(session, now):
        entry: dict[str, object] = {"overleg": overleg.name, "case": caseid.display(case.code),
                                    "closed_at": case.closed_at}
        if not dry_run:
            entry["removed"] = purge_case(session, overleg, case, now)
        report.append(entry)
    return report


@upkeep
def purge_expired(session: Session, now: datetime) -> None:
    """Every sweep first purges the cases whose retention term has ended."""
    for gone in purge(session, now):
        log.info("purged a case after its retention term", extra={"overleg": gone["overleg"]})


def schedule_review(session: Session, overleg: Overleg, case_id: int, *,
                    opened_at: datetime) -> None:
    """The yearly "is bespreking nog nodig?" prompt, a year after opening (09:00 local)."""
    day = workdays.local_today(overleg, add_years(opened_at, 1))
    timers.schedule(session, overleg_id=overleg.id or 0, kind=REVIEW, subject_id=case_id,
                    due_at=workdays.at_local(overleg, day, 9))


@timer(REVIEW)
def review(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """Yearly for an open case: the chairs are asked whether it still needs discussing."""
    case = batch.session.get(Case, due.subject_id)
    if case is None or case.status != "open":
        return []
    next_day = workdays.local_today(overleg, add_years(due.due_at, 1))
    batch.plan(due, workdays.at_local(overleg, next_day, 9))
    years = max(1, round((batch.now - case.opened_at) / timedelta(days=365.25)))
    return [Outgoing("case/review", {"case": caseid.display(case.code), "years": years,
                                     "opened_at": case.opened_at},
                     room=chair, locale=overleg.locale, timezone=overleg.timezone)
            for chair in batch.roster(overleg).chairs]
