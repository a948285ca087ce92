"""The agenda commands: put a case on a meeting's agenda or take it off, show it, send it.

After an agenda was sent, every change sends it again, marked as changed; composing and
sending is ``commands.agenda``'s job.
"""

from __future__ import annotations

from commands import access, caseid, covenant, parse
from commands.agenda import AGENDA, agenda_lines, ended, find_meeting, send_agenda
from commands.auditing import audit_change
from commands.registry import Choice, Ctx, Outgoing, arg, choice, command
from storage import agendas, timers
from storage.models import Meeting

# ---- parsers -------------------------------------------------------------------------------
_kind = choice(Choice("new", "nieuw", "new"),
               Choice("review", "vervolg", "review", ("bespreking",)),
               Choice("close", "afsluiten", "close", ("sluiten",)))


# ---- commands ------------------------------------------------------------------------------
def _changed(ctx: Ctx, meeting: Meeting) -> list[Outgoing]:
    """After the agenda was sent, every change sends it again, marked as changed."""
    if meeting.agenda_sent_at is None:
        return []
    assert ctx.overleg is not None
    return send_agenda(ctx.session, ctx.overleg, meeting, ctx.now, changed=True)


@command("agenda add", nl="agenda toevoegen")
@arg("number", parse.meeting_number, metavar="meeting")
@arg("code", parse.case_code, metavar="case")
@arg("kind", _kind, required=False, metavar="agenda_kind")
def add(ctx: Ctx, *, number: int, code: str, kind: str | None) -> list[Outgoing]:
    """Put a case on a meeting's agenda (new, review or close); refused (``meeting/ended``)
    for a meeting that has ended: its agenda is the record of what was discussed (the
    attendance, the export and the rule on direct messages follow from it)."""
    meeting = find_meeting(ctx, number)
    if ended(meeting, ctx.spoken):  # what was discussed there stays as it was
        return [ctx.refuse("meeting/ended", meeting=meeting, verb="agenda")]
    case, case_id = access.find_case(ctx, code)
    if case.status != "open":
        return [ctx.refuse("agenda/case_closed", case=caseid.display(code))]
    if agendas.item(ctx.session, meeting.id or 0, case_id) is not None:
        return [ctx.refuse("agenda/already_on", case=caseid.display(code), meeting=meeting)]
    kind = kind or ("review" if agendas.was_on_an_agenda(ctx.session, case_id) else "new")
    agendas.add_item(ctx.session, meeting_id=meeting.id or 0, case_id=case_id, kind=kind,
                     now=ctx.now)
    # On a casusoverleg's agenda a signal or weighed case is now in the casusoverleg phase;
    # on a weegoverleg's agenda a signal is being weighed.
    assert ctx.overleg is not None
    new_phase = {("casusoverleg", "melding"): "casusoverleg",
                 ("casusoverleg", "weging"): "casusoverleg",
                 ("weging", "melding"): "weging"}.get((meeting.kind, case.phase))
    if new_phase is not None:
        covenant.set_phase(ctx.session, ctx.overleg, case, new_phase, ctx.now)
    audit_change(ctx, action="agenda.add",
                 subject=f"M{meeting.number} {caseid.display(code)} {kind}")
    return [ctx.reply("agenda/added", case=caseid.display(code), meeting=meeting, kind=kind,
                      sent=meeting.agenda_sent_at is not None), *_changed(ctx, meeting)]


@command("agenda remove", nl="agenda verwijderen", aliases=("agenda verwijder",))
@arg("number", parse.meeting_number, metavar="meeting")
@arg("code", parse.case_code, metavar="case")
def remove(ctx: Ctx, *, number: int, code: str) -> list[Outgoing]:
    """Take a case off a meeting's agenda; refused for a meeting that has ended (as ``add``)."""
    meeting = find_meeting(ctx, number)
    if ended(meeting, ctx.spoken):  # what was discussed there stays as it was
        return [ctx.refuse("meeting/ended", meeting=meeting, verb="agenda")]
    _, case_id = access.find_case(ctx, code)
    row = agendas.item(ctx.session, meeting.id or 0, case_id)
    if row is None:
        return [ctx.refuse("agenda/not_on", case=caseid.display(code), meeting=meeting)]
    agendas.remove_item(ctx.session, row)
    audit_change(ctx, action="agenda.remove",
                 subject=f"M{meeting.number} {caseid.display(code)}")
    return [ctx.reply("agenda/removed", case=caseid.display(code), meeting=meeting,
                      sent=meeting.agenda_sent_at is not None), *_changed(ctx, meeting)]


@command("agenda show", nl="agenda toon")
@arg("number", parse.meeting_number, metavar="meeting")
def show(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Show a meeting's agenda (members of an external partner see only their cases)."""
    meeting = find_meeting(ctx, number, planned=False)
    lines = agenda_lines(ctx.session, meeting)
    visible = access.visible_case_ids(ctx)
    if visible is not None:
        lines = [ln for ln in lines if ln["case_id"] in visible]
    return [ctx.reply("agenda/show", pages_over="lines", meeting=meeting, lines=lines)]


@command("agenda send", nl="agenda versturen", aliases=("agenda verstuur", "agenda stuur"))
@arg("number", parse.meeting_number, metavar="meeting")
def send(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Send the agenda now (to the room, and to external partners their own lines)."""
    meeting = find_meeting(ctx, number)
    if meeting.starts_at <= ctx.now:
        return [ctx.refuse("agenda/started", meeting=meeting)]
    if not agendas.items(ctx.session, meeting.id or 0):
        return [ctx.refuse("agenda/empty", meeting=meeting)]
    assert ctx.overleg is not None
    again = meeting.agenda_sent_at is not None
    timers.cancel(ctx.session, kinds=(AGENDA,), subject_id=meeting.id or 0, now=ctx.now)
    audit_change(ctx, action="agenda.send",
                 subject=f"M{meeting.number}")
    return send_agenda(ctx.session, ctx.overleg, meeting, ctx.now, changed=again)
