"""An agenda's composition and sending, and the timer rules that send it.

An agenda line holds a case ID, the kind of discussion and the linked partners: nothing else
about a case. The room gets the whole agenda; each member of an external partner gets, by
direct message, only the lines of the cases their partner is linked to, and nothing if none.
This module plans a meeting's agenda and nudge timers, composes and sends the agenda (message,
poll, .ics), withdraws it, and holds the views the agenda and attendance commands share.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from commands import caseid, covenant, workdays
from commands.registry import Batch, Ctx, Outgoing, ParseError, timer
from storage import actions, agendas, audit, cases, meetings, overlegs, presence, timers
from storage.models import AgendaItem, Case, Meeting, Overleg, Partner
from storage.timers import Due

AGENDA = "meeting.agenda"
NUDGE = "meeting.nudge"
START = "meeting.start"  # members are asked to confirm presence (commands/presence.py)
MEETING_KINDS = (AGENDA, NUDGE, START)
SEND_HOUR = 9


# ---- shared views --------------------------------------------------------------------------
def ended(meeting: Meeting, now: datetime) -> bool:
    """Whether ``meeting`` has ended at ``now`` (its start plus its length in minutes)."""
    return meeting.starts_at + timedelta(minutes=meeting.minutes) <= now


def find_meeting(ctx: Ctx, number: int, *, planned: bool = True) -> Meeting:
    """The overleg's meeting M``number`` (with ``planned``: not cancelled). Raises
    ``ParseError`` (``meeting/unknown``, ``meeting/not_planned``), which ``run`` turns into
    the reply."""
    meeting = meetings.by_number(ctx.session, ctx.overleg_id, number)
    if meeting is None or meeting.id is None:
        raise ParseError("meeting/unknown", number=number)
    if planned and meeting.status != "planned":
        raise ParseError("meeting/not_planned", meeting=meeting)
    return meeting


def agenda_lines(session: Session, meeting: Meeting) -> list[dict[str, Any]]:
    lines = []
    for it in agendas.items(session, meeting.id or 0):
        case = cases.by_id(session, it.case_id)
        partners = sorted(p.name for pid in actions.linked_partner_ids(session, it.case_id)
                          if (p := overlegs.partner_by_id(session, pid)) is not None)
        lines.append({"case": caseid.display(case.code if case else "?"), "case_id": it.case_id,
                      "kind": it.kind, "partners": partners,
                      "phase": case.phase if case else "?"})
    return lines


def invited_partners(session: Session, overleg: Overleg, meeting: Meeting) -> list[Partner]:
    """Core partners; for a casusoverleg also the case and external partners linked to a case
    on the agenda. A weegoverleg is the core partners' alone."""
    if meeting.kind == "weging":
        return [p for p in overlegs.partners(session, overleg.id or 0) if p.kind == "core"]
    linked: set[int] = set()
    for it in agendas.items(session, meeting.id or 0):
        linked |= actions.linked_partner_ids(session, it.case_id)
    return [p for p in overlegs.partners(session, overleg.id or 0)
            if p.kind == "core" or p.id in linked]


def status_view(session: Session, overleg: Overleg, meeting: Meeting) -> dict[str, Any]:
    answers = agendas.current_answers(session, meeting.id or 0)
    info = agendas.current_info(session, meeting.id or 0)
    partners = invited_partners(session, overleg, meeting)
    rows = []
    for p in partners:
        a = answers.get(p.id or 0)
        rows.append({"name": p.name, "kind": p.kind,
                     "state": "none" if a is None else ("yes" if a.attends else "no"),
                     "by": a.user_id if a else None, "at": a.at if a else None,
                     "delegate": a.delegate if a else None,
                     "source": a.source if a else None})
    names = {p.id: p.name for p in overlegs.partners(session, overleg.id or 0)}
    lines = []
    for line in agenda_lines(session, meeting):
        holders = sorted(names.get(pid, "?") for (cid, pid), ans in info.items()
                         if cid == line["case_id"] and ans.holds)
        lines.append({**line, "holders": holders})
    # Quorum: the core partners; for a casusoverleg also the covenant's case partners (RvdK,
    # Reclassering) that are linked to a case on the agenda.
    needed = [r for r in rows if r["kind"] == "core" or (r["kind"] == "case"
                                                         and meeting.kind == "casusoverleg")]
    return {"partners": rows, "lines": lines, "kind": meeting.kind,
            "quorum": bool(needed) and all(r["state"] == "yes" for r in needed),
            "missing": [r["name"] for r in rows if r["state"] == "none"]}


# ---- sending -------------------------------------------------------------------------------
def _to(overleg: Overleg, template: str, to: str, *, ref: str | None = None,
        extra: dict[str, Any] | None = None, mentions: tuple[str, ...] = (),
        pages_over: str | None = None, **values: Any) -> Outgoing:
    return Outgoing(template, values, room=to, locale=overleg.locale, timezone=overleg.timezone,
                    ref=ref, extra=extra, mentions=mentions, pages_over=pages_over)


def _package(overleg: Overleg, meeting: Meeting, to: str, lines: list[dict[str, Any]],
             changed: bool, now: datetime) -> list[Outgoing]:
    """The agenda message, its poll and its .ics invitation, for one room or one person."""
    ref = f"agenda:{meeting.id}"
    return [
        _to(overleg, "agenda/agenda", to, ref=ref, meeting=meeting, lines=lines,
            changed=changed, overleg_name=overleg.name, pages_over="lines"),
        _to(overleg, "agenda/poll", to, ref=ref, meeting=meeting,
            extra={"kind": "poll", "answers": {"yes": "agenda/poll_yes", "no": "agenda/poll_no"}}),
        _to(overleg, "agenda/ics", to, ref=ref, meeting=meeting,
            extra={"kind": "ics", "uid": f"casusbot-{overleg.id}-{meeting.id}",
                   "start": meeting.starts_at,
                   "end": meeting.starts_at + timedelta(minutes=meeting.minutes),
                   "place": meeting.place, "stamp": now, "summary": "agenda/ics_summary",
                   "description": "agenda/ics_description",
                   "filename": f"overleg-M{meeting.number}.ics"}),
    ]


def external_recipients(session: Session, overleg: Overleg,
                        meeting: Meeting) -> dict[str, list[dict[str, Any]]]:
    """Per member of an external or case partner: the lines of their partner's cases, but
    not those of a case whose last meeting (with presence asked) they did not confirm
    presence at (issue 24, ``storage.presence.Clearance``: no case-level direct message of
    that meeting afterwards; the room's agenda still has every line). A member left with
    no line gets nothing.

    Nobody but the core partners is invited to a weegoverleg, so it has no such recipients.
    """
    if meeting.kind == "weging":
        return {}
    lines = agenda_lines(session, meeting)
    linked: dict[int, set[int]] = {}  # case -> its partners, read once per case
    cleared: presence.Clearance | None = None  # read once someone has a line
    out: dict[str, list[dict[str, Any]]] = {}
    for p in overlegs.partners(session, overleg.id or 0):
        if p.kind == "core" or p.id is None:
            continue
        for ln in lines:
            if ln["case_id"] not in linked:
                linked[ln["case_id"]] = actions.linked_partner_ids(session, ln["case_id"])
        own = [ln for ln in lines if p.id in linked[ln["case_id"]]]
        for m in overlegs.members_of_partner(session, p.id) if own else []:
            if cleared is None:
                cleared = presence.clearance(session, overleg.id or 0)
            mine = [ln for ln in own if cleared.allows(m.user_id, ln["case_id"])]
            if mine:
                out[m.user_id] = mine
    return out


def send_agenda(session: Session, overleg: Overleg, meeting: Meeting, now: datetime,
                *, changed: bool = False) -> list[Outgoing]:
    """Everything that goes out when an agenda is sent (or sent again, marked changed)."""
    meeting.agenda_sent_at = now
    meeting.agenda_version += 1
    meetings.save(session, meeting)
    out = _package(overleg, meeting, overleg.room_id, agenda_lines(session, meeting), changed,
                   now)
    for user, lines in external_recipients(session, overleg, meeting).items():
        out += _package(overleg, meeting, user, lines, changed, now)
    return out


def withdrawal_notices(session: Session, overleg: Overleg, meeting: Meeting, *, moved: bool,
                       old_start: datetime | None = None) -> list[Outgoing]:
    """After a sent agenda: tell the room and every external recipient it no longer stands."""
    if meeting.agenda_sent_at is None:
        return []
    recipients = [overleg.room_id, *external_recipients(session, overleg, meeting)]
    return [_to(overleg, "agenda/cancelled", to, meeting=meeting, moved=moved,
                old_start=old_start or meeting.starts_at) for to in recipients]


def schedule_meeting(session: Session, overleg: Overleg, meeting: Meeting,
                     now: datetime) -> None:
    """(Re)plan the agenda, the nudge and the presence question (at the start) of
    ``meeting``; a cancelled meeting has none, a meeting already asked no new question."""
    assert meeting.id is not None
    timers.cancel(session, kinds=MEETING_KINDS, subject_id=meeting.id, now=now)
    if meeting.status != "planned":
        return
    day = meeting.starts_at.astimezone(ZoneInfo(overleg.timezone)).date()
    plans: list[timers.Plan] = []
    agenda_at = workdays.at_local(overleg, day - timedelta(days=overleg.agenda_days_before),
                                  SEND_HOUR)
    if meeting.agenda_sent_at is None:
        plans.append(timers.Plan(overleg.id or 0, AGENDA, meeting.id, max(agenda_at, now)))
    nudge_at = workdays.at_local(overleg, day - timedelta(days=overleg.nudge_days_before),
                                 SEND_HOUR)
    if nudge_at > now:
        plans.append(timers.Plan(overleg.id or 0, NUDGE, meeting.id, nudge_at))
    if meeting.presence_asked_at is None:
        plans.append(timers.Plan(overleg.id or 0, START, meeting.id,
                                 max(meeting.starts_at, now)))
    timers.schedule_all(session, plans)  # (one INSERT; a series plans hundreds of meetings)


@timer(AGENDA)
def agenda_due(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """The agenda falls due: send it, unless it was sent already or the meeting started."""
    session, now = batch.session, batch.now
    meeting = session.get(Meeting, due.subject_id)
    if meeting is None or meeting.status != "planned" or meeting.agenda_sent_at is not None \
            or meeting.starts_at <= now:
        return []
    if not agendas.items(session, meeting.id or 0):
        # Nothing on it yet: look again tomorrow at 09:00 (until the meeting starts).
        tomorrow = workdays.local_today(overleg, now) + timedelta(days=1)
        at = workdays.at_local(overleg, tomorrow, SEND_HOUR)
        if at < meeting.starts_at:
            timers.schedule(session, overleg_id=overleg.id or 0, kind=AGENDA,
                            subject_id=meeting.id or 0, due_at=at)
        return []
    return send_agenda(session, overleg, meeting, now)


@timer(NUDGE)
def nudge(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """M days before: remind partners without an answer; tell the chair where things stand."""
    session = batch.session
    meeting = session.get(Meeting, due.subject_id)
    if meeting is None or meeting.status != "planned" or meeting.starts_at <= batch.now:
        return []
    view = status_view(session, overleg, meeting)
    missing = [p for p in invited_partners(session, overleg, meeting)
               if p.name in view["missing"]]
    members = overlegs.members(session, overleg.id or 0)
    out: list[Outgoing] = []
    if missing:
        users = tuple(m.user_id for p in missing for m in members if m.partner_id == p.id)
        out.append(_to(overleg, "agenda/nudge", overleg.room_id, mentions=users,
                       meeting=meeting, missing=[p.name for p in missing], users=list(users)))
    for chair in (m.user_id for m in members if m.role == "chair"):
        out.append(_to(overleg, "agenda/summary", chair, meeting=meeting, status=view))
    return out


@timer(covenant.MONITOR)
def monitor(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """Every N weeks in monitoren: back on the next casusoverleg's agenda, and if nothing
    happened in the period (no open actions, no agenda item), ask the chair "afsluiten?"."""
    session, now = batch.session, batch.now
    case = session.get(Case, due.subject_id)
    if case is None or case.status != "open" or case.phase != "monitoren" or case.id is None:
        return []
    out: list[Outgoing] = []
    period_start = now - timedelta(weeks=overleg.monitor_weeks)
    open_actions = [a for a in actions.of_case(session, case.id) if a.status == "open"]
    recent_items = session.exec(select(AgendaItem).where(
        AgendaItem.case_id == case.id, AgendaItem.added_at >= period_start)).all()
    chairs = batch.roster(overleg).chairs
    shown = caseid.display(case.code)
    if not open_actions and not recent_items:
        out += [Outgoing("covenant/close_prompt", {"case": shown, "weeks": overleg.monitor_weeks},
                         room=c, locale=overleg.locale, timezone=overleg.timezone)
                for c in chairs]
    upcoming = [m for m in meetings.upcoming(session, overleg.id or 0, now)
                if m.kind == "casusoverleg" and m.starts_at > now]
    target: Meeting | None = upcoming[0] if upcoming else None
    if target is not None and agendas.item(session, target.id or 0, case.id) is None:
        agendas.add_item(session, meeting_id=target.id or 0, case_id=case.id, kind="review",
                         now=now)
        audit.record(session, overleg_id=overleg.id, actor="casusbot", role="system",
                     action="agenda.add", subject=f"M{target.number} {shown} review", now=now)
        out.append(Outgoing("covenant/monitor_agenda", {"case": shown, "meeting": target},
                            room=overleg.room_id, locale=overleg.locale,
                            timezone=overleg.timezone))
        if target.agenda_sent_at is not None:
            out += send_agenda(session, overleg, target, now, changed=True)
    elif target is None:
        out += [Outgoing("covenant/monitor_no_meeting", {"case": shown}, room=c,
                         locale=overleg.locale, timezone=overleg.timezone) for c in chairs]
    covenant.schedule_monitor(session, overleg, case, now)
    return out
