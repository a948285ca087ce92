"""Verifying the bot from Element (issue 22): the rules of an administrator's interactive
verification (Matrix spec, "Key verification framework", "SAS"); the protocol itself is the
Matrix transport's (``bot.matrix.verify``).

Only a bot administrator (``CASUSBOT_ADMINS``) may verify the bot: a request from anyone
else is declined (``requested`` returns False; no row, nothing shown). For an
administrator's request a ``KeyVerification`` row follows the flow: the emoji are shown in
the administrator's direct room (``compare``), the administrator answers with ``!verifieer
ja`` or ``!verifieer nee`` (``verify``, in any room the bot reads; any instance records
it), the device that holds the flow acts on the answer (``decided``) and ends it (``end``).
A flow not ended within ``TIMEOUT`` (10 minutes, the spec's limit), or cut off by a
restart of its device, is cancelled (``expired``, ``abandoned``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from commands.registry import (
    Choice,
    Ctx,
    Outgoing,
    Render,
    Settings,
    arg,
    choice,
    command,
    render_all,
)
from commands.sasemoji import EMOJI
from storage import outbox, verifications
from storage.models import KeyVerification
from storage.outbox import Rendered

TIMEOUT = timedelta(minutes=10)
"""A verification not done within this time is cancelled (spec: "Clients should time out a
verification that does not complete within 10 minutes")."""

ELEMENT_TIMEOUT = "their_timeout"
"""Recorded when the other side cancels with ``m.timeout``: Element's crypto
(matrix-rust-sdk, ``MAX_EVENT_TIMEOUT``) gives up a SAS after one minute without a new event,
long before the bot's own ``TIMEOUT``."""

SHOWN = ("compare", "confirmed", "rejected")
"""States in which the administrator has seen the emoji: the end is told to them."""

REF = "verification:"
"""``OutboxMessage.ref`` of a flow's emoji message: ``verification:<flow ID>``."""

_answer = choice(Choice("yes", "ja", "yes"), Choice("no", "nee", "no"))


def requested(session: Session, settings: Settings, render: Render, flow_id: str,
              device_id: str, user_id: str, other_device: str, now: datetime,
              room_id: str | None = None) -> str:
    """A verification request (``m.key.verification.request``, transaction ``flow_id``)
    from ``user_id``'s device ``other_device`` reached the bot's device ``device_id``
    (to-device, or in the direct room ``room_id``). ``answer``: answer it (a row in state
    ``ready``); ``decline``: the sender is no bot administrator; ``known``: seen before
    (a sync read again after a restart), nothing to do.

    One open flow per administrator: a new request ends their older open flows (reason
    ``superseded``, on any of the bot's devices; the device holding one cancels it towards
    Element at its next upkeep, ``ended``), so ``!verifieer ja`` can only answer the
    emoji of the device that asked last. An administrator who saw an older flow's emoji is
    told in the direct room (``verification/superseded``, naming that request's device)."""
    if verifications.get(session, flow_id) is not None:
        return "known"
    if user_id not in settings.admins:
        return "decline"
    older = verifications.open_of_user(session, user_id)
    shown = [r for r in older if r.state in SHOWN]
    for row in older:
        row.state, row.reason, row.ended_at = "cancelled", "superseded", now
        session.add(row)
    if shown:  # (one whose emoji they never saw needs no word: no flood of notices)
        room = room_id or user_id
        rendered = render_all(render, [Outgoing(
            "verification/superseded", {"old": [r.other_device for r in shown],
                                        "device": other_device}, room=room)], room)
        outbox.enqueue(session, rendered, now)
    session.add(KeyVerification(flow_id=flow_id, device_id=device_id, user_id=user_id,
                                other_device=other_device, room_id=room_id, state="ready",
                                started_at=now))
    return "answer"


def not_direct(session: Session, settings: Settings, render: Render, user_id: str,
               now: datetime) -> list[Rendered]:
    """``user_id`` asked for a verification in a room that is not their direct room with
    the bot (an overleg: the emoji would be shown to every member). It is declined; an
    administrator is told in their direct room to start it there or from the bot's
    profile (``verification/not_direct``); anyone else is told nothing."""
    if user_id not in settings.admins:
        return []
    rendered = render_all(render, [Outgoing("verification/not_direct", {}, room=user_id)],
                          user_id)
    outbox.enqueue(session, rendered, now)
    return rendered


def compare(session: Session, render: Render, flow_id: str, indices: list[int],
            decimals: list[int], now: datetime,
            device_name: str | None = None) -> list[Rendered]:
    """The short authentication string is known: show it to the administrator in their
    direct room, or in the room of an in-room flow (template ``verification/compare``:
    seven emoji, ``indices`` 0-63 into the spec's table, and three ``decimals``
    1000-9191), naming the administrator's device that asked (its ID, and
    ``device_name``, its display name, when known). Nothing when the flow has ended."""
    row = verifications.get(session, flow_id)
    if row is None or row.state != "ready":
        return []
    row.state = "compare"
    session.add(row)
    emoji = [{"symbol": EMOJI[i][0], "en": EMOJI[i][1], "nl": EMOJI[i][2]} for i in indices]
    room = row.room_id or row.user_id
    rendered = render_all(render, [Outgoing("verification/compare",
                                            {"emoji": emoji, "decimals": decimals,
                                             "device": row.other_device,
                                             "device_name": device_name}, room=room,
                                            ref=REF + flow_id)], room)
    outbox.enqueue(session, rendered, now)
    return rendered


def _session_id(text: str, ctx: Ctx) -> tuple[str, str]:
    """The administrator's session (device ID) the answer is for, as the emoji message
    names it: one word."""
    word, _, rest = text.strip().partition(" ")
    return word.strip("`"), rest


@command("verify", nl="verifieer", aliases=("verifiëren", "verifieren"))
@arg("answer", _answer, metavar="yes_no")
@arg("device", _session_id, required=False, metavar="session")
def verify(ctx: Ctx, *, answer: str, device: str | None = None) -> list[Outgoing]:
    """The administrator's answer to the emoji shown last (``verification/compare``):
    ``yes`` (they match what Element shows) or ``no``. Recorded for the bot's device that
    holds the flow, which then finishes or cancels it. Refused (``verification/not_shown``)
    while that message has not been delivered: the answer must be to emoji the
    administrator saw. ``device``: the session the answer is for (as the emoji message names
    it); another session's is refused (``verification/other_session``), and it must be
    named when this request replaced one whose emoji were shown
    (``verification/name_session``): a "ja" typed for those must not confirm these."""
    row = verifications.waiting_for(ctx.session, ctx.sender)
    if row is None or row.started_at < ctx.now - TIMEOUT:
        # (past the time limit: its device cancels it; a flow of an instance that is gone
        # is never taken for a new one)
        answered = [r for r in verifications.open_of_user(ctx.session, ctx.sender)
                    if r.state == "confirmed" and r.started_at >= ctx.now - TIMEOUT]
        if answered:  # answered already: Element's confirmation is what is missing
            return [ctx.refuse("verification/waiting_for_element")]
        return [ctx.refuse("verification/none_waiting")]
    if not outbox.sent_with_ref(ctx.session, REF + row.flow_id):
        # The emoji have not reached the administrator (still queued): whatever they
        # compared, it was not this flow's.
        return [ctx.refuse("verification/not_shown")]
    if device is not None and device.casefold() != row.other_device.casefold():
        return [ctx.refuse("verification/other_session", device=row.other_device)]
    if device is None and any(outbox.sent_with_ref(ctx.session, REF + old.flow_id)
                              for old in verifications.replaced_by(ctx.session, row)):
        # This request replaced one whose emoji the administrator saw: a "ja" typed for
        # those must not confirm these. The session shown last is to be named.
        return [ctx.refuse("verification/name_session", device=row.other_device)]
    row.state = "confirmed" if answer == "yes" else "rejected"
    ctx.session.add(row)
    return [ctx.reply("verification/" + row.state)]


def decided(session: Session, device_id: str) -> list[tuple[str, str]]:
    """The flows of ``device_id`` the administrator answered: (flow ID, ``confirmed`` or
    ``rejected``)."""
    return [(r.flow_id, r.state) for r in verifications.open_flows(session, device_id)
            if r.state in ("confirmed", "rejected")]


def end(session: Session, render: Render, flow_id: str, reason: str | None,
        now: datetime, *, device_only: bool = False) -> list[Rendered]:
    """End the flow: ``reason`` None is done (the bot is verified), else the cancel code
    (``m.user``, ``m.timeout`` -- the bot's own ``TIMEOUT`` --, ``m.mismatched_sas``,
    ``m.key_mismatch``, ... , ``restart``, or ``ELEMENT_TIMEOUT``: the other side's
    ``m.timeout``, told as ``verification/element_timeout``). An administrator who saw
    the emoji is told (``verification/done``; ``verification/done_device_only`` when
    ``device_only``: the administrator has no cross-signing identity, so only their session
    that verified trusts only this device of the bot; or ``verification/cancelled``); an
    ended flow stays as it ended."""
    row = verifications.get(session, flow_id)
    if row is None or row.state not in verifications.OPEN:
        return []
    shown = row.state in SHOWN
    row.state, row.reason, row.ended_at = ("done" if reason is None else "cancelled",
                                           reason, now)
    session.add(row)
    if not shown and reason is not None:
        return []
    template = ("verification/done_device_only" if device_only
                else "verification/done") if reason is None \
        else "verification/element_timeout" if reason == ELEMENT_TIMEOUT \
        else "verification/cancelled"
    room = row.room_id or row.user_id
    rendered = render_all(render, [Outgoing(template, {"reason": reason}, room=room)], room)
    outbox.enqueue(session, rendered, now)
    return rendered


def too_old(sent_at: datetime, now: datetime) -> bool:
    """A request sent more than ``TIMEOUT`` ago or more than 5 minutes ahead is ignored
    (spec: "m.key.verification.request", ``timestamp``)."""
    return sent_at < now - TIMEOUT or from_the_future(sent_at, now)


def from_the_future(sent_at: datetime, now: datetime) -> bool:
    """A request dated more than 5 minutes ahead of ``now``: the sender's clock is off
    (clock skew), told apart from a request that is merely old."""
    return sent_at > now + timedelta(minutes=5)


def expired(session: Session, device_id: str, now: datetime) -> list[KeyVerification]:
    """The open flows of ``device_id`` older than ``TIMEOUT``: to be cancelled (``m.timeout``)."""
    return verifications.open_flows(session, device_id, started_before=now - TIMEOUT)


def abandoned(session: Session, device_id: str) -> list[KeyVerification]:
    """The open flows of ``device_id`` at its start: their keys were in the memory of a
    process that ended, so each is cancelled (reason ``restart``)."""
    return verifications.open_flows(session, device_id)


def ended(session: Session, flow_ids: list[str]) -> list[str]:
    """Of ``flow_ids`` (the flows a device holds in memory), those whose row has ended
    meanwhile (superseded by a newer request, possibly read by another instance): the
    device cancels them towards the other side."""
    ended_ids = []
    for flow_id in flow_ids:
        row = verifications.get(session, flow_id)
        if row is None or row.state not in verifications.OPEN:
            ended_ids.append(flow_id)
    return ended_ids
