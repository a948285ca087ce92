"""Answers that are not commands: a ✅/❌ reaction on an agenda, a poll vote, a withdrawal,
and on Teams the buttons and toggles of an agenda card.

They reach the same rule as ``!confirm``: one answer per partner, the last one counts, every
answer kept. A removed reaction (a redaction) withdraws exactly the answer it gave.
"""

from __future__ import annotations

from commands import access, caseid, presence
from commands.attendance import (
    as_of_meeting,
    meeting_of,
    reaction_answer,
    record_attendance,
    record_info,
)
from commands.auditing import audit_change
from commands.registry import Ctx, Outgoing
from storage import agendas, cases, overlegs
from storage.models import Meeting, Partner


def _agenda_meeting(ctx: Ctx, target_event_id: str | None) -> Meeting | None:
    """The meeting whose agenda (or poll) the homeserver knows as ``target_event_id``."""
    meeting = meeting_of(ctx, target_event_id, "agenda:")
    return meeting if meeting is not None and meeting.status == "planned" else None


def _answering(ctx: Ctx, target_event_id: str | None, *, before_start: bool = False
               ) -> tuple[Meeting, Ctx, Partner] | list[Outgoing]:
    """The agenda ``target_event_id`` belongs to, seen from its overleg, and the sender's
    partner; or the replies when there is none to answer for (nothing if it is no agenda;
    ``agenda/started`` with ``before_start`` once the meeting began)."""
    meeting = _agenda_meeting(ctx, target_event_id)
    mctx = as_of_meeting(ctx, meeting) if meeting else None
    if meeting is None or mctx is None:
        return []  # a reaction on something else: not ours to answer
    if mctx.member is None:
        return [mctx.reply("error/not_a_member")]
    partner = overlegs.partner_by_id(ctx.session, mctx.member.partner_id)
    if partner is None:
        return [mctx.reply("agenda/no_partner")]
    if before_start and meeting.starts_at <= ctx.spoken:
        return [mctx.refuse("agenda/started", meeting=meeting)]
    return meeting, mctx, partner


def by_choice(ctx: Ctx, target_event_id: str | None, attends: bool | None, *, source: str,
              event_id: str) -> list[Outgoing]:
    """A reaction or poll vote on an agenda: record it as the sender's partner's answer."""
    if attends is None:
        return []  # another emoji: not ours to answer
    found = _answering(ctx, target_event_id)
    if isinstance(found, list):
        return found
    meeting, mctx, partner = found
    return record_attendance(ctx.session, mctx, meeting, partner, attends=attends,
                             delegate=None, source=source, source_event_id=event_id)


def reaction(ctx: Ctx, target_event_id: str | None, key: str, event_id: str) -> list[Outgoing]:
    """A reaction on an agenda (✅/❌: an answer) or on a presence question (✅: confirmed)."""
    question = presence.question_meeting(ctx, target_event_id)
    if question is not None:
        return presence.by_reaction(ctx, question, key, event_id)
    return by_choice(ctx, target_event_id, reaction_answer(key), source="reaction",
                     event_id=event_id)


def poll_vote(ctx: Ctx, target_event_id: str | None, answer_id: str,
              event_id: str) -> list[Outgoing]:
    """A response to an agenda's poll, counted as MSC3381 (Chat Polls) says.

    ``answer_id`` is the first selected answer ID ("" for none). "yes" or "no" is a vote; any
    other (an empty selection, an unknown ID) is a spoiled vote: the sender's poll answer is
    removed, their earlier vote does not come back. Only the sender's latest response by its
    own timestamp counts: an older one that arrives late is kept in the history and changes
    nothing (its sender already had the answer to the newer one). Returns the confirmation,
    the withdrawal notice, the refusal, or nothing for that late older response.
    """
    attends = {"yes": True, "no": False}.get(answer_id)
    found = _answering(ctx, target_event_id, before_start=True)
    if isinstance(found, list):
        return found
    meeting, mctx, partner = found
    ended = agendas.poll_ended_at(ctx.session, target_event_id or "")
    if ended is not None and ctx.spoken > ended:
        return [mctx.refuse("agenda/poll_closed", meeting=meeting)]
    row = agendas.answer(ctx.session, meeting_id=meeting.id or 0, partner_id=partner.id or 0,
                         user_id=ctx.sender, attends=bool(attends), delegate=None,
                         source=agendas.POLL if attends is not None else agendas.SPOILED,
                         source_event_id=event_id, now=ctx.spoken)
    if agendas.latest_vote(ctx.session, meeting.id or 0, ctx.sender) is not row:
        return []
    if attends is None:
        audit_change(mctx, action="attendance.withdraw", subject=f"M{meeting.number} "
                     f"{partner.name}", overleg_id=meeting.overleg_id)
        current = agendas.current_answers(ctx.session, meeting.id or 0).get(partner.id or 0)
        return [mctx.reply("agenda/withdrawn", meeting=meeting, partner=partner.name,
                           now_state=None if current is None else current.attends)]
    audit_change(mctx, action="attendance." + ("yes" if attends else "no"),
                 subject=f"M{meeting.number} {partner.name}", overleg_id=meeting.overleg_id)
    return [mctx.reply("agenda/confirmed", meeting=meeting, partner=partner.name,
                       attends=attends, delegate=None, source="poll")]


def poll_end(ctx: Ctx, target_event_id: str | None) -> list[Outgoing]:
    """An ``m.poll.end`` of an agenda's poll (the transport passes only those of its creator,
    the bot, or of someone with the power to remove others' messages: MSC3381): responses
    sent after it are not counted. Nothing to answer: the clients show the poll closed."""
    meeting = _agenda_meeting(ctx, target_event_id)
    if meeting is None or target_event_id is None:
        return []
    agendas.end_poll(ctx.session, target_event_id, ctx.sender, ctx.spoken)
    return []


def withdrawal(ctx: Ctx, redacted_event_id: str | None) -> list[Outgoing]:
    """A reaction was removed: its answer (or presence confirmation) no longer counts."""
    if not redacted_event_id:
        return []
    row = agendas.withdraw(ctx.session, redacted_event_id)
    if row is None:
        return presence.withdrawal(ctx, redacted_event_id)
    meeting = ctx.session.get(Meeting, row.meeting_id)
    mctx = as_of_meeting(ctx, meeting) if meeting else None
    if meeting is None or mctx is None:
        return []
    partner = overlegs.partner_by_id(ctx.session, row.partner_id)
    audit_change(mctx, action="attendance.withdraw",
                 subject=f"M{meeting.number} {partner.name if partner else '?'}")
    current = agendas.current_answers(ctx.session, meeting.id or 0).get(row.partner_id)
    return [mctx.reply("agenda/withdrawn", meeting=meeting,
                       partner=partner.name if partner else "?",
                       now_state=None if current is None else current.attends)]


CARD_VERBS = {"accept": True, "decline": False}
CARD_CASE = "case:"  # an agenda card's toggle per case: {"case:C-7K2FJ7": "true"}


def card(ctx: Ctx, target_event_id: str | None, verb: str, data: dict[str, str],
         event_id: str) -> list[Outgoing]:
    """A button on an agenda card: accept, decline, or "info" with one toggle per case; or
    the button of a presence question's card ("present", ``commands.presence``).

    The same rules as ``!confirm`` and ``!info``: the sender answers for their partner, and
    only for cases their partner may see (a forged toggle for another case is not recorded).
    """
    if verb == presence.CARD_VERB:
        question = presence.question_meeting(ctx, target_event_id)
        return presence.by_card(ctx, question, event_id) if question is not None else []
    if verb in CARD_VERBS:
        return by_choice(ctx, target_event_id, CARD_VERBS[verb], source="card",
                         event_id=event_id)
    if verb != "info":
        return []
    found = _answering(ctx, target_event_id, before_start=True)
    if isinstance(found, list):
        return found
    meeting, mctx, partner = found
    noted = []
    for key, value in sorted(data.items()):
        code = caseid.normalise(key[len(CARD_CASE):]) if key.startswith(CARD_CASE) else None
        case = cases.by_code(ctx.session, meeting.overleg_id, code) if code else None
        if case is None or case.id is None or not access.may_see(mctx, case) \
                or agendas.item(ctx.session, meeting.id or 0, case.id) is None:
            continue
        holds = str(value).strip().casefold() == "true"
        record_info(mctx, meeting, case, partner, holds)
        noted.append({"case": caseid.display(case.code), "holds": holds})
    return [mctx.reply("agenda/info_card", meeting=meeting, partner=partner.name, noted=noted)]
