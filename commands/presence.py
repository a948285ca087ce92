"""Presence and confidentiality at a meeting (issue 24).

At a meeting's start (the ``meeting.start`` timer) or when the chair types ``!overleg
starten M3``, the bot asks every member in the room, once per meeting, to confirm that they
are present and, unless the overleg switched it off (``!instellingen geheimhouding uit``),
that they keep what is discussed confidential (geheimhouding). A member confirms with
``!aanwezig M3``, a ✅ reaction on the question, or on Teams the question card's button,
on the meeting's day (in the overleg's zone). ``!presentie M3`` shows who confirmed, per
partner. Who did not confirm gets no direct message about the meeting's cases afterwards
(``storage.presence.Clearance``, applied where reminders, digests and agenda lines go out
by direct message: ``commands.action``, ``commands.agenda.external_recipients``). Every
question, confirmation and withdrawal is an audit entry (AVG art. 5(2): the organisation
can show who was present).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from commands import parse, workdays
from commands.agenda import START, ended, find_meeting
from commands.attendance import as_of_meeting, meeting_of, reaction_answer
from commands.auditing import audit_change
from commands.registry import Batch, Ctx, Outgoing, arg, command, timer
from storage import audit, overlegs, presence
from storage.models import Meeting, Overleg, Presence
from storage.timers import Due

REF = "presence:"
"""The ``ref`` of a presence question: ``presence:<meeting row ID>`` (answers by reaction
and by card button find their meeting through it)."""
CARD_VERB = "present"
"""The verb of the question card's button on Teams (``commands.answers.card``)."""


# ---- when a question may be asked and answered -----------------------------------------------
def day_bounds(overleg: Overleg, meeting: Meeting) -> tuple[datetime, datetime]:
    """The start and end of the meeting's calendar day in the overleg's zone: the question
    is asked, and confirmations are taken, on that day only."""
    day = meeting.starts_at.astimezone(ZoneInfo(overleg.timezone)).date()
    return workdays.at_local(overleg, day, 0), workdays.at_local(
        overleg, day + timedelta(days=1), 0)


def ask(session: Session, overleg: Overleg, meeting: Meeting, now: datetime, *,
        late: bool = False, late_since: datetime | None = None) -> Outgoing | None:
    """Ask every member in the room of ``overleg`` to confirm presence at ``meeting`` (and
    confidentiality, per the overleg's setting): records the question (``presence.ask``)
    and returns the message; None when they were asked already (once per meeting)."""
    if not presence.ask(session, meeting, confidential=overleg.ask_confidentiality, now=now):
        return None
    users = [m.user_id for m in presence.invited(session, meeting)]
    return Outgoing("presence/question",
                    {"meeting": meeting, "users": users,
                     "confidential": overleg.ask_confidentiality, "late": late,
                     "late_since": late_since or now},
                    room=overleg.room_id, locale=overleg.locale, timezone=overleg.timezone,
                    mentions=tuple(users), ref=f"{REF}{meeting.id}")


@timer(START)
def started(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """The meeting starts: ask its members, unless they were asked (the chair started it)
    or it was cancelled. When it is no longer the meeting's day (the bot was down all day)
    nobody is asked: the room is told once, mentioning the chairs (``presence/missed``),
    and an audit entry ``presence.missed`` keeps that the attendance was not asked."""
    meeting = batch.session.get(Meeting, due.subject_id)
    if meeting is None or meeting.status != "planned" or meeting.presence_asked_at is not None:
        return []
    if batch.now >= day_bounds(overleg, meeting)[1]:
        chairs = tuple(batch.roster(overleg).chairs)
        audit.record(batch.session, overleg_id=overleg.id, actor="casusbot", role="system",
                     action="presence.missed", subject=f"M{meeting.number}", now=batch.now)
        return [Outgoing("presence/missed", {"meeting": meeting, "chairs": list(chairs)},
                         room=overleg.room_id, locale=overleg.locale,
                         timezone=overleg.timezone, mentions=chairs)]
    out = ask(batch.session, overleg, meeting, batch.now, late=batch.late(due),
              late_since=due.due_at)
    if out is None:
        return []
    audit.record(batch.session, overleg_id=overleg.id, actor="casusbot", role="system",
                 action="presence.ask", subject=_asked_subject(meeting, out), now=batch.now)
    return [out]


def _asked_subject(meeting: Meeting, question: Outgoing) -> str:
    """The audit subject of a question: the meeting, whether confidentiality was asked, and
    the user IDs asked (IDs only)."""
    what = "confidentiality" if meeting.presence_confidential else "attendance"
    return f"M{meeting.number} {what} asked={' '.join(question.values['users'])}"


def moved(ctx: Ctx, meeting: Meeting, old_start: datetime) -> None:
    """``meeting`` moved from ``old_start``: when it was asked already and now falls on
    another day (in the overleg's zone), its members are asked again at the new start; the
    confirmations of the old day no longer count (``presence.reset``; an audit entry
    ``presence.reset`` names how many). Call before ``agenda.schedule_meeting``, which then
    plans the new question."""
    assert ctx.overleg is not None
    if meeting.presence_asked_at is None:
        return
    zone = ZoneInfo(ctx.overleg.timezone)
    if old_start.astimezone(zone).date() == meeting.starts_at.astimezone(zone).date():
        return
    count = presence.reset(ctx.session, meeting)
    audit_change(ctx, action="presence.reset", subject=f"M{meeting.number} set_aside={count}")


# ---- commands ------------------------------------------------------------------------------
@command("meeting start", nl="overleg starten", aliases=("overleg start",))
@arg("number", parse.meeting_number, metavar="meeting")
def start(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Start the meeting now: every member in the room is asked to confirm presence (and
    confidentiality), once per meeting; on the meeting's day only, and not once the meeting
    has ended (``meeting/ended``)."""
    meeting = find_meeting(ctx, number)
    assert ctx.overleg is not None
    if meeting.presence_asked_at is not None:
        return [ctx.refuse("presence/already_asked", meeting=meeting,
                           asked_at=meeting.presence_asked_at)]
    if ended(meeting, ctx.now):
        return [ctx.refuse("meeting/ended", meeting=meeting, verb="start")]
    first, end = day_bounds(ctx.overleg, meeting)
    if not first <= ctx.now < end:
        return [ctx.refuse("presence/not_today", meeting=meeting)]
    question = ask(ctx.session, ctx.overleg, meeting, ctx.now)
    if question is None:  # (asked meanwhile, by the start timer on another instance)
        return [ctx.refuse("presence/already_asked", meeting=meeting,
                           asked_at=meeting.presence_asked_at)]
    audit_change(ctx, action="presence.ask", subject=_asked_subject(meeting, question))
    return [question]


@command("present", nl="aanwezig", aliases=("aanwezigheid",))
@arg("number", parse.meeting_number, metavar="meeting")
def present(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Confirm that you are present at the meeting (and keep it confidential)."""
    meeting = find_meeting(ctx, number)
    return confirm(ctx, meeting, source="command", source_event_id=None)


def confirm(ctx: Ctx, meeting: Meeting, *, source: str,
            source_event_id: str | None) -> list[Outgoing]:
    """Record the sender's confirmation (``source``: command, reaction, card), judged by
    when they said it (``ctx.spoken``): after the question, on the meeting's day, of a
    meeting not cancelled. A second confirmation changes nothing and says when the first
    was kept (and keeps the new source, so that removing one reaction withdraws only when no
    other source of that person's confirmation stands). Returns the reply
    (``presence/confirmed``) or the refusal."""
    overleg = ctx.overleg
    assert overleg is not None and ctx.member is not None
    if meeting.status != "planned":
        return [ctx.refuse("meeting/not_planned", meeting=meeting)]
    if ctx.spoken >= day_bounds(overleg, meeting)[1]:
        return [ctx.refuse("presence/closed", meeting=meeting)]
    if meeting.presence_asked_at is None:
        return [ctx.refuse("presence/not_asked", meeting=meeting)]
    partner = overlegs.partner_by_id(ctx.session, ctx.member.partner_id)
    earlier = presence.current(ctx.session, meeting.id or 0).get(ctx.sender)
    if earlier is not None:
        # Kept as one more source of the same confirmation (not counted twice, no audit
        # entry): removing one reaction then withdraws only if no other source stands.
        if not presence.has_source(ctx.session, meeting.id or 0, ctx.sender, source,
                                   source_event_id):
            presence.confirm(ctx.session, meeting_id=meeting.id or 0, user_id=ctx.sender,
                             partner_id=earlier.partner_id, confidential=earlier.confidential,
                             source=source, source_event_id=source_event_id, now=ctx.spoken)
        return [ctx.reply("presence/already", meeting=meeting, at=earlier.at,
                          confidential=earlier.confidential)]
    presence.confirm(ctx.session, meeting_id=meeting.id or 0, user_id=ctx.sender,
                     partner_id=partner.id if partner else None,
                     confidential=meeting.presence_confidential, source=source,
                     source_event_id=source_event_id, now=ctx.spoken)
    what = "confidential" if meeting.presence_confidential else "present"
    audit_change(ctx, action=f"presence.{what}",
                 subject=f"M{meeting.number} {partner.name if partner else '-'}",
                 overleg_id=meeting.overleg_id)
    return [ctx.reply("presence/confirmed", meeting=meeting, user=ctx.sender,
                      partner=partner.name if partner else None,
                      confidential=meeting.presence_confidential, source=source)]


@command("attendance", nl="presentie")
@arg("number", parse.meeting_number, metavar="meeting")
def attendance(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Who confirmed presence (and confidentiality) at the meeting, per partner; who of the
    members in the room did not."""
    meeting = find_meeting(ctx, number, planned=False)
    if meeting.presence_asked_at is None:
        assert ctx.overleg is not None
        if ctx.now >= day_bounds(ctx.overleg, meeting)[1]:  # never promise a past time
            return [ctx.refuse("presence/never_asked", meeting=meeting)]
        return [ctx.refuse("presence/not_asked", meeting=meeting)]
    return [ctx.reply("presence/list", pages_over=("groups", "people"), meeting=meeting,
                      **attendance_view(ctx, meeting))]


def attendance_view(ctx: Ctx, meeting: Meeting) -> dict[str, Any]:
    """Plain values of the attendance list: ``groups`` (one per partner, by name, then the
    members without a partner), each with ``people`` (user, confirmed, at, confidential,
    source); ``confirmed`` and ``total`` counts. Only those the question was for
    (``storage.presence.invited``: at a weegoverleg the core partners' members) who were
    members when it went out; members who left the room are listed only if they confirmed."""
    confirmed = presence.current(ctx.session, meeting.id or 0)
    names = overlegs.partner_names(ctx.session, meeting.overleg_id)
    members = presence.invited(ctx.session, meeting, with_left=True)
    groups: dict[int | None, list[dict[str, Any]]] = {}
    listed: set[str] = set()
    for m in members:
        row = confirmed.get(m.user_id)
        if row is None and (m.left_room_at is not None or (
                meeting.presence_asked_at is not None and not presence.was_asked(m, meeting))):
            continue  # left the room, or joined after the question: not missing
        partner = row.partner_id if row is not None else m.partner_id
        groups.setdefault(partner, []).append(_person(m.user_id, row))
        listed.add(m.user_id)
    for user, row in confirmed.items():  # confirmed, and no longer a member
        if user not in listed:
            groups.setdefault(row.partner_id, []).append(_person(user, row))
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, names.get(kv[0] or 0, "")))
    return {"groups": [{"partner": names.get(pid) if pid is not None else None,
                        "people": sorted(people, key=lambda p: p["user"])}
                       for pid, people in ordered],
            "confirmed": len(confirmed), "total": sum(len(g) for g in groups.values()),
            "asked_at": meeting.presence_asked_at,
            "confidential_asked": meeting.presence_confidential}


def _person(user: str, row: Presence | None) -> dict[str, Any]:
    return {"user": user, "confirmed": row is not None, "at": row.at if row else None,
            "confidential": bool(row and row.confidential),
            "source": row.source if row else None}


# ---- answers that are not commands (commands.answers dispatches) ------------------------------
def question_meeting(ctx: Ctx, target_event_id: str | None) -> Meeting | None:
    """The meeting whose presence question the platform knows as ``target_event_id``."""
    return meeting_of(ctx, target_event_id, REF)


def _as_member(ctx: Ctx, meeting: Meeting) -> Ctx | list[Outgoing]:
    mctx = as_of_meeting(ctx, meeting)
    if mctx is None:
        return []
    if mctx.member is None:
        return [mctx.reply("error/not_a_member")]
    return mctx


def by_reaction(ctx: Ctx, meeting: Meeting, key: str, event_id: str) -> list[Outgoing]:
    """A reaction on the presence question: ✅ (in any form,
    ``commands.attendance.reaction_answer``) confirms; any other emoji is not an answer."""
    if reaction_answer(key) is not True:
        return []
    found = _as_member(ctx, meeting)
    if isinstance(found, list):
        return found
    return confirm(found, meeting, source="reaction", source_event_id=event_id)


def by_card(ctx: Ctx, meeting: Meeting, event_id: str) -> list[Outgoing]:
    """The question card's button on Teams."""
    found = _as_member(ctx, meeting)
    if isinstance(found, list):
        return found
    return confirm(found, meeting, source="card", source_event_id=event_id)


def withdrawal(ctx: Ctx, redacted_event_id: str) -> list[Outgoing]:
    """A ✅ reaction on the question was removed: its confirmation no longer counts (a
    confirmation by command or card stays). On the meeting's day only (judged by when the
    reaction was removed, ``ctx.spoken``): afterwards the attendance record of the meeting is
    fixed (AVG art. 5(2), accountability) and a removal changes nothing and says nothing."""
    found = presence.by_event(ctx.session, redacted_event_id)
    if found is None or found.withdrawn:
        return []
    meeting = ctx.session.get(Meeting, found.meeting_id)
    overleg = overlegs.by_id(ctx.session, meeting.overleg_id) if meeting else None
    if meeting is None or overleg is None:
        return []
    if ctx.spoken >= day_bounds(overleg, meeting)[1]:
        return []
    row = presence.withdraw(ctx.session, redacted_event_id)
    if row is None:
        return []
    if row.user_id in presence.current(ctx.session, meeting.id or 0):
        return []  # confirmed in another way too (command, card, another reaction): stands
    mctx = replace(ctx, overleg=overleg,
                   member=overlegs.member(ctx.session, overleg.id or 0, ctx.sender))
    names = overlegs.partner_names(ctx.session, meeting.overleg_id)
    audit_change(mctx, action="presence.withdraw",
                 subject=f"M{meeting.number} {names.get(row.partner_id or 0, '-')}")
    return [mctx.reply("presence/withdrawn", meeting=meeting, user=ctx.sender)]
