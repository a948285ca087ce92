"""Meetings of an overleg: plan, list, move, cancel."""

from __future__ import annotations

from datetime import datetime

from commands import agenda, parse, presence
from commands.auditing import audit_change
from commands.registry import Ctx, Outgoing, arg, command
from storage import meetings
from storage.models import Meeting

MAX_FUTURE = 500
"""At most this many planned meetings to come per overleg (a series and single meetings
together): a bound on what every listing, sweep and calendar file has to go through."""
LIST_MAX = 50
"""``!overleg lijst`` shows at most this many meetings to come, soonest first, and says how
many more there are."""


@command("meeting plan", nl="overleg plannen", aliases=("overleg plan",))
@arg("starts_at", parse.when, metavar="when")
@arg("minutes", parse.duration, required=False, metavar="duration")
@arg("kind", parse.meeting_kind, required=False, metavar="meeting_kind")
@arg("place", parse.place, required=False, metavar="place")
def plan(ctx: Ctx, *, starts_at: datetime, minutes: int | None, kind: str | None,
         place: str | None) -> list[Outgoing]:
    """Plan a meeting of this overleg; answers with its ID."""
    if starts_at <= ctx.now:
        return [ctx.refuse("meeting/in_past", starts_at=starts_at)]
    if meetings.count_future(ctx.session, ctx.overleg_id, ctx.now) >= MAX_FUTURE:
        return [ctx.refuse("meeting/too_many", limit=MAX_FUTURE)]
    assert ctx.overleg is not None
    meeting = meetings.add(ctx.session, overleg_id=ctx.overleg_id, starts_at=starts_at,
                           minutes=minutes or ctx.overleg.meeting_minutes, place=place,
                           now=ctx.now, kind=kind or "casusoverleg")
    agenda.schedule_meeting(ctx.session, ctx.overleg, meeting, ctx.now)
    audit_change(ctx, action="meeting.plan", subject=f"M{meeting.number}")
    return [ctx.reply("meeting/planned", meeting=meeting)]


@command("meeting list", nl="overleg lijst", aliases=("overleg list",))
def listing(ctx: Ctx) -> list[Outgoing]:
    """List the meetings that have not ended yet: the first ``LIST_MAX``, soonest first,
    and how many more there are (``more``)."""
    rows = meetings.upcoming(ctx.session, ctx.overleg_id, ctx.now)
    return [ctx.reply("meeting/list", pages_over="meetings", meetings=rows[:LIST_MAX],
                      more=max(len(rows) - LIST_MAX, 0))]


@command("meeting move", nl="overleg verplaatsen", aliases=("overleg move", "overleg verplaats"))
@arg("number", parse.meeting_number, metavar="meeting")
@arg("starts_at", parse.when, metavar="when")
def move(ctx: Ctx, *, number: int, starts_at: datetime) -> list[Outgoing]:
    """Move a planned meeting to another date and time (its length stays); refused
    (``meeting/ended``) when the meeting had ended when the chair said it (``ctx.spoken``):
    what happened there (its attendance, the rule on direct messages that follows from it)
    stays as it was."""
    meeting = agenda.find_meeting(ctx, number)
    if agenda.ended(meeting, ctx.spoken):
        return [ctx.refuse("meeting/ended", meeting=meeting, verb="move")]
    if starts_at <= ctx.now:
        return [ctx.refuse("meeting/in_past", starts_at=starts_at)]
    assert ctx.overleg is not None
    old = meeting.starts_at
    notices = agenda.withdrawal_notices(ctx.session, ctx.overleg, meeting, moved=True,
                                        old_start=old)
    meeting.starts_at = starts_at
    meeting.agenda_sent_at = None  # the agenda goes out again for the new date
    meetings.save(ctx.session, meeting)
    presence.moved(ctx, meeting, old)  # another day: presence is asked again
    agenda.schedule_meeting(ctx.session, ctx.overleg, meeting, ctx.now)
    audit_change(ctx, action="meeting.move", subject=f"M{meeting.number}")
    return [ctx.reply("meeting/moved", meeting=meeting, old=old), *notices]


@command("meeting cancel", nl="overleg annuleren", aliases=("overleg cancel", "overleg annuleer"))
@arg("number", parse.meeting_number, metavar="meeting")
def cancel(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Cancel a planned meeting; refused (``meeting/ended``) when the meeting had ended when
    the chair said it (``ctx.spoken``: a cancel typed before the end while the bot was down
    still counts)."""
    meeting = agenda.find_meeting(ctx, number)
    if agenda.ended(meeting, ctx.spoken):
        return [ctx.refuse("meeting/ended", meeting=meeting, verb="cancel")]
    notices = cancel_meeting(ctx, meeting)
    return [ctx.reply("meeting/cancelled", meeting=meeting), *notices]


def cancel_meeting(ctx: Ctx, meeting: Meeting) -> list[Outgoing]:
    """Cancel ``meeting`` (its timers too, audited): the notices that its sent agenda no
    longer stands (``agenda.withdrawal_notices``), to send beside the caller's reply."""
    assert ctx.overleg is not None
    notices = agenda.withdrawal_notices(ctx.session, ctx.overleg, meeting, moved=False)
    meeting.status = "cancelled"
    meetings.save(ctx.session, meeting)
    agenda.schedule_meeting(ctx.session, ctx.overleg, meeting, ctx.now)  # cancels its timers
    audit_change(ctx, action="meeting.cancel", subject=f"M{meeting.number}")
    return notices
