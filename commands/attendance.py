"""Attendance and information answers for a meeting, and the chair's status board.

A member answers for their organisation whether it attends (``confirm``, or a reaction or
poll vote through ``commands.answers``) and whether it holds information on a case on the
agenda (``info``); the last answer counts. ``status`` shows who answered what and the quorum.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from sqlmodel import Session

from commands import caseid, parse
from commands.access import find_case
from commands.agenda import find_meeting, status_view
from commands.auditing import audit_change
from commands.registry import Absent, Choice, Ctx, Outgoing, arg, choice, command
from commands.text import clean
from storage import agendas, outbox, overlegs
from storage.models import Meeting, Partner

ACCEPT_KEYS = {"✅": True, "✔": True, "☑": True, "✓": True, "👍": True, "❌": False}
"""Reaction keys that answer an agenda or the presence question (``commands.presence``), in
their base form (see ``reaction_answer``): the check marks ✅ ✔ ☑ ✓ and 👍 say yes, ❌ no."""


def meeting_of(ctx: Ctx, target_event_id: str | None, prefix: str) -> Meeting | None:
    """The meeting of the bot's message the platform knows as ``target_event_id`` (a
    reaction's or a card's target), if that message's ref starts with ``prefix``
    (``agenda:``, ``presence:``)."""
    if not target_event_id:
        return None
    ref = outbox.ref_of_remote(ctx.session, target_event_id)
    if not ref or not ref.startswith(prefix):
        return None
    return ctx.session.get(Meeting, int(ref[len(prefix):]))


def as_of_meeting(ctx: Ctx, meeting: Meeting) -> Ctx | None:
    """``ctx`` as seen from the meeting's overleg, with the sender's membership of it (an
    answer may come from a direct room, which is no overleg itself); None if the overleg
    is gone."""
    overleg = overlegs.by_id(ctx.session, meeting.overleg_id)
    if overleg is None:
        return None
    return replace(ctx, overleg=overleg,
                   member=overlegs.member(ctx.session, meeting.overleg_id, ctx.sender))


# Presentation selectors (text U+FE0E, emoji U+FE0F) and skin tones (U+1F3FB-1F3FF): one
# emoji in every form clients send (Unicode TS #51, "Emoji Presentation Sequences").
_EMOJI_FORM = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")


def reaction_answer(key: str) -> bool | None:
    """Yes (True), no (False) or no answer (None) for a reaction's key, whatever its form."""
    return ACCEPT_KEYS.get(_EMOJI_FORM.sub("", clean(key)).strip())


# ---- parsers -------------------------------------------------------------------------------
_yes_no_word = choice(Choice("yes", "ja", "yes"), Choice("no", "nee", "no"))


def _yes_no(text: str, ctx: Ctx) -> tuple[bool, str]:
    value, rest = _yes_no_word(text, ctx)
    return value == "yes", rest


_yes_no.__casus_choices__ = _yes_no_word.__casus_choices__  # type: ignore[attr-defined]


def _delegate(text: str, ctx: Ctx) -> tuple[str, str]:
    word, _, rest = text.strip().partition(" ")
    if word.casefold() not in ("delegate", "gedelegeerd", "delegeer", "vervanger"):
        raise Absent
    return parse.user_id(rest, ctx)


# ---- commands ------------------------------------------------------------------------------
def _partner_of_sender(ctx: Ctx) -> Partner | None:
    m = ctx.member
    return overlegs.partner_by_id(ctx.session, m.partner_id) if m else None


@command("confirm", nl="bevestig", aliases=("bevestigen",))
@arg("number", parse.meeting_number, metavar="meeting")
@arg("attends", _yes_no, metavar="yes_no")
@arg("delegate", _delegate, required=False, metavar="delegate")
def confirm(ctx: Ctx, *, number: int, attends: bool, delegate: str | None) -> list[Outgoing]:
    """Answer for your organisation whether it attends (the last answer counts)."""
    meeting = find_meeting(ctx, number)
    partner = _partner_of_sender(ctx)
    if partner is None or partner.id is None:
        return [ctx.refuse("agenda/no_partner")]
    if delegate is not None:
        d = overlegs.member(ctx.session, ctx.overleg_id, delegate)
        if d is None or d.partner_id != partner.id or d.left_room_at is not None:
            return [ctx.refuse("agenda/bad_delegate", delegate=delegate, partner=partner.name)]
    return record_attendance(ctx.session, ctx, meeting, partner, attends=attends,
                             delegate=delegate, source="command", source_event_id=None)


def record_attendance(session: Session, ctx: Ctx, meeting: Meeting, partner: Partner, *,
                      attends: bool, delegate: str | None, source: str,
                      source_event_id: str | None) -> list[Outgoing]:
    if meeting.starts_at <= ctx.spoken:
        return [ctx.refuse("agenda/started", meeting=meeting)]
    agendas.answer(session, meeting_id=meeting.id or 0, partner_id=partner.id or 0,
                   user_id=ctx.sender, attends=attends, delegate=delegate, source=source,
                   source_event_id=source_event_id, now=ctx.spoken)
    audit_change(ctx, action="attendance." + ("yes" if attends else "no"),
                 subject=f"M{meeting.number} {partner.name}", overleg_id=meeting.overleg_id)
    return [ctx.reply("agenda/confirmed", meeting=meeting, partner=partner.name,
                      attends=attends, delegate=delegate, source=source)]


@command("info", nl="informatie")
@arg("number", parse.meeting_number, metavar="meeting")
@arg("code", parse.case_code, metavar="case")
@arg("holds", _yes_no, metavar="yes_no")
def info(ctx: Ctx, *, number: int, code: str, holds: bool) -> list[Outgoing]:
    """Say whether your organisation holds relevant information on a case on the agenda."""
    meeting = find_meeting(ctx, number)
    case, case_id = find_case(ctx, code)
    if agendas.item(ctx.session, meeting.id or 0, case_id) is None:
        return [ctx.refuse("agenda/not_on", case=caseid.display(code), meeting=meeting)]
    partner = _partner_of_sender(ctx)
    if partner is None or partner.id is None:
        return [ctx.refuse("agenda/no_partner")]
    record_info(ctx, meeting, case, partner, holds)
    return [ctx.reply("agenda/info", meeting=meeting, case=caseid.display(code),
                      partner=partner.name, holds=holds)]


def record_info(ctx: Ctx, meeting: Meeting, case: Any, partner: Partner, holds: bool) -> None:
    """One partner's answer on one case of an agenda (the last answer counts)."""
    agendas.set_info(ctx.session, meeting_id=meeting.id or 0, case_id=case.id,
                     partner_id=partner.id or 0, user_id=ctx.sender, holds=holds, now=ctx.spoken)
    audit_change(ctx, action="info." + ("yes" if holds else "no"),
                 subject=f"M{meeting.number} {caseid.display(case.code)} {partner.name}",
                 overleg_id=meeting.overleg_id)


@command("status", nl="status")
@arg("number", parse.meeting_number, metavar="meeting")
def status(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Who confirmed, who declined, who did not answer; information per case; quorum."""
    meeting = find_meeting(ctx, number, planned=False)
    assert ctx.overleg is not None
    return [ctx.reply("agenda/status", pages_over=("status", "lines"), meeting=meeting,
                      status=status_view(ctx.session, ctx.overleg, meeting))]
