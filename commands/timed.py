"""The rules of timed work, and the sweep that applies them.

Every reminder is a ``Timer`` row. ``sweep`` claims the rows whose time has come, renders
their messages into the outbox and marks them handled, all in the caller's transaction;
what fell due while the bot was down is simply due now, and is sent late, once. Nothing here
reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlmodel import Session

from commands import caseid, workdays
from commands.deferred import defer_all
from commands.registry import Outgoing, Render, render_all
from storage import actions, outbox, overlegs, timers
from storage.models import Action, AnyOverleg, Case, Meeting
from storage.outbox import Rendered
from storage.timers import Due

log = logging.getLogger(__name__)

DUE_SOON = "action.due_soon"
OVERDUE = "action.overdue"
DIGEST = "overleg.digest"
ACTION_KINDS = (DUE_SOON, OVERDUE)
REMIND_HOUR = 9
DIGEST_AT = (8, 30)
LATE_AFTER = timedelta(minutes=15)



class _Planned(Protocol):
    """An action as planning needs it: an ORM ``Action`` or its ``actions.Facts``."""

    @property
    def id(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def due(self) -> date: ...


def schedule_action(session: Session, overleg: AnyOverleg, action: _Planned,
                    now: datetime) -> None:
    """(Re)plan the reminders of ``action`` from its due date; earlier plans are cancelled."""
    assert action.id is not None
    timers.cancel(session, kinds=ACTION_KINDS, subject_id=action.id, now=now)
    if action.status != "open":
        return
    soon_day = workdays.working_days_before(overleg, action.due, overleg.due_soon_days)
    soon_at = workdays.at_local(overleg, soon_day, REMIND_HOUR)
    if soon_at > now and overleg.due_soon_days > 0:
        timers.schedule(session, overleg_id=overleg.id or 0, kind=DUE_SOON,
                        subject_id=action.id, due_at=soon_at)
    first_overdue = workdays.next_working_day(overleg, action.due)
    timers.schedule(session, overleg_id=overleg.id or 0, kind=OVERDUE, subject_id=action.id,
                    due_at=max(workdays.at_local(overleg, first_overdue, REMIND_HOUR), now))


def ensure_digest(session: Session, overleg: AnyOverleg, now: datetime) -> None:
    """Make sure the coordinators' daily digest is planned (08:30 on the next working day)."""
    if timers.has_pending(session, overleg_id=overleg.id or 0, kind=DIGEST):
        return
    today = workdays.local_today(overleg, now)
    day = today if workdays.is_working_day(overleg, today) else \
        workdays.next_working_day(overleg, today)
    at = workdays.at_local(overleg, day, *DIGEST_AT)
    if at <= now:
        at = workdays.at_local(overleg, workdays.next_working_day(overleg, today), *DIGEST_AT)
    timers.schedule(session, overleg_id=overleg.id or 0, kind=DIGEST,
                    subject_id=overleg.id or 0, due_at=at)


def overdue_days(overleg: AnyOverleg, due: date, today: date) -> int:
    """Working days past the due date (0 while not overdue)."""
    return workdays.working_days_between(overleg, due, today) if today > due else 0


def action_view(session: Session, overleg: AnyOverleg, action: Action,
                today: date) -> dict[str, object]:
    """Plain values a template needs to show one action."""
    partner = overlegs.partner_by_id(session, action.partner_id)
    return _view(overleg, number=action.number, case_code=actions.case_of(session, action).code,
                 partner=partner.name if partner else None, due=action.due,
                 description=action.description, status=action.status, today=today)


def _view(overleg: AnyOverleg, *, number: int, case_code: str, partner: str | None, due: date,
          description: str, status: str, today: date) -> dict[str, object]:
    return {"id": f"A{number}", "case": caseid.display(case_code), "partner": partner or "?",
            "due": due, "description": description, "status": status,
            "overdue_days": overdue_days(overleg, due, today)}


def fact_view(overleg: AnyOverleg, action: actions.Facts, partner: str | None,
              today: date) -> dict[str, object]:
    """``action_view`` of an action read as ``Facts``, its partner's name given."""
    return _view(overleg, number=action.number, case_code=action.case_code, partner=partner,
                 due=action.due, description=action.description, status=action.status,
                 today=today)


def fact_views(session: Session, overleg: AnyOverleg, rows: list[actions.Facts],
               today: date) -> list[dict[str, object]]:
    """``action_view`` of many actions read as ``Facts``; partners' names read once."""
    names = overlegs.partner_names(session, overleg.id or 0) if rows else {}
    return [fact_view(overleg, a, names.get(a.partner_id), today) for a in rows]


def action_order(v: dict[str, object]) -> tuple[bool, int, str, int]:
    """Open before done, most overdue first, then by due date and number."""
    return (v["status"] != "open", -int(str(v["overdue_days"])), str(v["due"]),
            int(str(v["id"])[1:]))


@dataclass(frozen=True)
class _Roster:
    """Who is told what in one overleg, as plain values: read once per sweep."""

    partner_names: dict[int, str]
    owners: dict[int, list[str]]  # partner id -> its members' user IDs
    coordinators: list[str]
    chairs: list[str]


_ROSTERS = "timed.rosters"
_FACTS = "timed.facts"


def _roster(session: Session, overleg: AnyOverleg) -> _Roster:
    memo: dict[int, _Roster] | None = session.info.get(_ROSTERS)
    if memo is not None and overleg.id in memo:
        return memo[overleg.id or 0]
    members = overlegs.members(session, overleg.id or 0)
    owners: dict[int, list[str]] = {}
    for m in members:
        if m.partner_id is not None:
            owners.setdefault(m.partner_id, []).append(m.user_id)
    roster = _Roster(partner_names=overlegs.partner_names(session, overleg.id or 0),
                     owners=owners,
                     coordinators=[m.user_id for m in members if m.role == "coordinator"],
                     chairs=[m.user_id for m in members if m.role == "chair"])
    if memo is not None:
        memo[overleg.id or 0] = roster
    return roster


def _action_facts(session: Session, action_id: int) -> actions.Facts | None:
    held: dict[int, actions.Facts] | None = session.info.get(_FACTS)
    if held is not None:
        return held.get(action_id)
    return actions.facts(session, {action_id}).get(action_id)


def _reply(overleg: AnyOverleg, template: str, *, to: str, mentions: tuple[str, ...] = (),
           **values: object) -> Outgoing:
    return Outgoing(template, values, room=to, locale=overleg.locale, timezone=overleg.timezone,
                    mentions=mentions)


def _action_reminder(session: Session, overleg: AnyOverleg, timer: Due,
                     now: datetime) -> list[Outgoing]:
    action = _action_facts(session, timer.subject_id)
    if action is None or action.status != "open":
        return []
    today = workdays.local_today(overleg, now)
    late = now - timer.due_at > LATE_AFTER
    roster = _roster(session, overleg)
    view = fact_view(overleg, action, roster.partner_names.get(action.partner_id), today)
    owners = list(roster.owners.get(action.partner_id, ()))
    if timer.kind == DUE_SOON:
        if today > action.due:
            return []  # sent this late it would be news from the past: the overdue one says it
        out = [_reply(overleg, "action/due_soon", to=overleg.room_id, mentions=tuple(owners),
                      action=view, owners=owners, late=late, late_since=timer.due_at)]
        if overleg.remind_by_dm:
            out += [_reply(overleg, "action/due_soon", to=user, action=view, owners=[user],
                           late=late, late_since=timer.due_at) for user in owners]
        return out
    # Overdue: owner and coordinators, every working day; after E days the chair as well.
    coordinators = list(roster.coordinators)
    days = int(str(view["overdue_days"]))
    escalated = days >= overleg.escalate_after_days
    chairs = list(roster.chairs) if escalated else []
    told = tuple(dict.fromkeys(owners + coordinators + chairs))
    out = [_reply(overleg, "action/overdue", to=overleg.room_id, mentions=told, action=view,
                  owners=owners, coordinators=coordinators, chairs=chairs, escalated=escalated,
                  late=late, late_since=timer.due_at)]
    if overleg.remind_by_dm:
        out += [_reply(overleg, "action/overdue", to=user, action=view, owners=owners,
                       coordinators=coordinators, chairs=chairs, escalated=escalated,
                       late=late, late_since=timer.due_at) for user in told]
    next_day = workdays.next_working_day(overleg, today)
    timers.schedule(session, overleg_id=overleg.id or 0, kind=OVERDUE, subject_id=action.id,
                    due_at=workdays.at_local(overleg, next_day, REMIND_HOUR))
    return out


def digest_rows(session: Session, overleg: AnyOverleg, today: date) -> list[dict[str, object]]:
    """Open actions grouped per case, overdue first, most overdue on top."""
    views = fact_views(session, overleg,
                       actions.facts_of_overleg(session, overleg.id or 0, status="open"), today)
    views.sort(key=action_order)
    per_case: dict[str, list[dict[str, object]]] = {}
    for v in views:
        per_case.setdefault(str(v["case"]), []).append(v)
    return [{"case": case, "actions": rows} for case, rows in per_case.items()]


def _digest(session: Session, overleg: AnyOverleg, timer: Due, now: datetime) -> list[Outgoing]:
    today = workdays.local_today(overleg, now)
    nxt = workdays.next_working_day(overleg, today)
    timers.schedule(session, overleg_id=overleg.id or 0, kind=DIGEST, subject_id=overleg.id or 0,
                    due_at=workdays.at_local(overleg, nxt, *DIGEST_AT))
    if not workdays.is_working_day(overleg, today):
        return []  # the day became a holiday after planning (settings changed)
    rows = digest_rows(session, overleg, today)
    if not rows:
        return []  # nothing to report: no digest
    late = now - timer.due_at > LATE_AFTER
    coordinators = [m.user_id for m in overlegs.members(session, overleg.id or 0)
                    if m.role == "coordinator"]
    return [_reply(overleg, "action/digest", to=user, cases=rows, overleg_name=overleg.name,
                   today=workdays.at_local(overleg, today, 12), late=late,
                   late_since=timer.due_at) for user in coordinators]


def _meeting_timer(session: Session, overleg: AnyOverleg, timer: Due,
                   now: datetime) -> list[Outgoing]:
    from commands import agenda  # agenda plans meetings with the helpers of this module

    meeting = session.get(Meeting, timer.subject_id)
    if meeting is None:
        return []
    if timer.kind == agenda.AGENDA:
        return agenda.agenda_timer(session, overleg, meeting, now)
    return agenda.nudge_timer(session, overleg, meeting, now)


def _review_timer(session: Session, overleg: AnyOverleg, timer: Due,
                  now: datetime) -> list[Outgoing]:
    from commands import retention

    case = session.get(Case, timer.subject_id)
    return retention.review_timer(session, overleg, case, now, timer.due_at) if case else []


def _case_timer(session: Session, overleg: AnyOverleg, timer: Due,
                now: datetime) -> list[Outgoing]:
    from commands import covenant

    case = session.get(Case, timer.subject_id)
    if case is None:
        return []
    if timer.kind == covenant.FOLLOWUP:
        return covenant.followup_timer(session, overleg, case, now)
    return covenant.monitor_timer(session, overleg, case, now)


HANDLERS = {DUE_SOON: _action_reminder, OVERDUE: _action_reminder, DIGEST: _digest,
            "meeting.agenda": _meeting_timer, "meeting.nudge": _meeting_timer,
            "case.review": _review_timer, "case.followup": _case_timer,
            "case.monitor": _case_timer}


def sweep(session: Session, render: Render, now: datetime, *,
          defer: bool = False) -> datetime | None:
    """Handle every timer whose time has come; returns when the next one is due.

    ``defer``: write the messages' templates and values, to be rendered by the deliverer
    when it sends them (commands/deferred.py), instead of rendering them here.

    Up to 500 timers per call, as one batch: claimed as plain rows, the facts of their
    actions read with one query, each overleg's members and partners once; their outbox
    rows and follow-up timers are written together at the end.
    """
    from commands import retention

    for gone in retention.purge(session, now):
        log.info("purged a case after its retention term", extra={"overleg": gone["overleg"]})
    planned = timers.overlegs_with_pending(session, DIGEST)  # one query, not one per overleg
    for overleg in overlegs.all_overlegs(session):
        if overleg.id not in planned:
            ensure_digest(session, overleg, now)
    claimed = timers.claim_due(session, now)
    if not claimed:
        return timers.next_due(session)
    owners = {o.id: o for o in overlegs.by_ids(session, {t.overleg_id for t in claimed})}
    rendered: list[Rendered] = []
    session.info[_FACTS] = actions.facts(
        session, {t.subject_id for t in claimed if t.kind in ACTION_KINDS})
    session.info[_ROSTERS] = {}
    try:
        with overlegs.members_memo(session), timers.batch(session):
            for timer in claimed:
                owner = owners.get(timer.overleg_id)
                handler = HANDLERS.get(timer.kind)
                messages: list[Outgoing] = []
                if owner is not None and handler is not None:
                    messages = handler(session, owner, timer, now)
                else:
                    log.warning("timer without handler", extra={"timer": timer.id,
                                                                "kind": timer.kind})
                room = owner.room_id if owner else ""
                rendered += (defer_all if defer else render_all)(render, messages, room)
    finally:
        session.info.pop(_FACTS, None)
        session.info.pop(_ROSTERS, None)
    timers.mark_all_handled(session, claimed, now)
    outbox.enqueue(session, rendered, now)
    return timers.next_due(session)
