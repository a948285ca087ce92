"""Handle one inbound event exactly once: dedupe, apply, enqueue the replies; one transaction."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import Session

from commands import answers, caseid, parse, pii, rooms, setup
from commands.auditing import audit_change
from commands.ratelimit import RateLimiter
from commands.registry import (
    Ctx,
    Outcome,
    Outgoing,
    PersonalData,
    Registry,
    Render,
    Settings,
    render_all,
    run,
)
from commands.text import clean
from storage import agendas, cases, inbound, outbox, overlegs, presence, timers
from storage.db import tables_written
from storage.models import RoomAbsence
from storage.outbox import Rendered

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Inbound:
    """A text message from a chat platform, already reduced to plain values."""

    event_id: str
    room_id: str
    sender: str
    text: str
    sent_at: datetime  # the server's timestamp
    encrypted: bool = False
    kind: str = "text"  # text | reaction | poll_response | poll_end | redaction | card
    # | undecryptable
    # | membership (``key``: join, leave or ban; ``relates_to``: whose membership)
    # | tombstone (the room was upgraded; ``relates_to``: the replacement room)
    relates_to: str | None = None  # the event a reaction, poll vote or card button is about
    key: str = ""  # the reaction's emoji, the poll answer's ID, or the card button's verb
    redacts: str | None = None  # for a redaction: the event it removes
    data: tuple[tuple[str, str], ...] = ()  # a card's input values (Teams), as pairs
    replaces: str | None = None  # an edit (m.replace): the event it corrects; ``text`` is new
    thread_root: str | None = None  # sent in a thread (m.thread): its root event
    # The bot's power level in the room and the level needed to remove others' messages
    # (Matrix power levels, as the room's state said when the event arrived); None: not known
    # or not Matrix.
    redact_power: tuple[int, int] | None = None


BOOKKEEPING = frozenset({"inboundevent", "outboxmessage", "outboxlease"})
"""Tables every event writes to, whether or not its command changed anything."""
TIMING_TABLES = frozenset({"timer", "overleg", "roomabsence"})
"""Tables that decide when the earliest timer is due (``storage.timers.next_due``)."""
MAX_COMMAND_CHARS = 2000  # a command line is short; a 64 KiB "command" is refused unread
MAX_LAG = timedelta(hours=24)
"""How far before its handling an event's own time is believed: an outage of up to a day
(a weekend's restart, a homeserver upgrade) is covered; a clock days off is not."""


ANSWERS = frozenset({"reaction", "poll_response", "poll_end", "redaction", "card"})
"""Kinds that answer a message of the bot's (an agenda): they concern us only then."""


def may_concern(msg: Inbound, prefix: str) -> bool:
    """False for text that is no command (most of a room's messages): nothing to record,
    nothing to answer, so a caller need not even open a transaction for it. An edit may
    concern us whatever it says now (an edit of a command into chatter is answered)."""
    return msg.kind != "text" or msg.replaces is not None \
        or clean(msg.text).lstrip().startswith(prefix)


class CommandFailed(Exception):
    """A command raised (a bug): its transaction is rolled back (``handle`` does)."""


def handle(session: Session, registry: Registry, render: Render, settings: Settings,
           msg: Inbound, now: datetime, limiter: RateLimiter | None = None) -> Outcome:
    """The one entry for an inbound event: apply ``msg`` once, in the caller's transaction
    (the caller commits); what was enqueued, and when the earliest timer is due after it.

    Nothing is recorded for chatter and for reactions to what is no agenda; an event seen
    before is not applied again. When a command fails (a bug), the whole transaction is
    rolled back, then the event is recorded as handled and the sender gets an apology in a
    new one: one bad command can never wedge the bot in a retry loop, and nothing it wrote
    is kept.
    """
    try:
        with tables_written(session) as written:
            replies = _apply(session, registry, render, settings, msg, now, limiter, written)
            session.flush()
    except CommandFailed:
        log.exception("command failed", extra={"event_id": msg.event_id, "room": msg.room_id})
        session.rollback()
        return Outcome(_apologise(session, render, settings, msg, now))
    # The earliest timer can only have changed if a timer, or what decides whether one may
    # run (an overleg, its room's absence), did: the waker keeps its time otherwise.
    timing = not TIMING_TABLES.isdisjoint(written)
    return Outcome(replies, timers.next_due(session) if timing else None)


def _apologise(session: Session, render: Render, settings: Settings, msg: Inbound,
               now: datetime) -> list[Rendered]:
    if not inbound.first_time(session, msg.event_id, msg.room_id, now, sender=msg.sender,
                              thread_root=msg.thread_root,
                              refused=msg.kind == "text"):  # (rolled back: it changed nothing)
        return []
    ctx = Ctx(room=msg.room_id, sender=msg.sender, now=now, session=session, settings=settings,
              overleg=overlegs.by_room(session, msg.room_id), event_id=msg.event_id)
    # An answer to the command, in its thread, as every reply is (``_in_reply``).
    rendered = [_in_reply(r, msg) for r in render_all(render, [ctx.reply("error/internal")],
                                                      msg.room_id)]
    outbox.enqueue(session, rendered, now)
    return rendered


def _apply(session: Session, registry: Registry, render: Render, settings: Settings,
           msg: Inbound, now: datetime, limiter: RateLimiter | None,
           written: list[str]) -> list[Rendered]:
    """``written``: the tables changed so far in this transaction, appended to as it goes
    (``storage.db.tables_written``)."""
    if not may_concern(msg, settings.prefix):
        return []
    if msg.kind in ANSWERS and not _concerns_us(session, msg):
        return []  # a reaction or redaction of something that is no agenda: not recorded
    edited = inbound.state(session, msg.replaces) if msg.replaces else None
    if edited is not None and edited.sender not in (None, msg.sender):
        return []  # someone else's replacement of a message is ignored (spec), not recorded
    if msg.kind == "text":
        msg = replace(msg, text=clean(msg.text),
                      thread_root=msg.thread_root or (edited.thread_root if edited else None))
        if msg.replaces and edited is None and not msg.text.lstrip().startswith(
                settings.prefix):
            return []  # an edit of chatter into chatter: chatter
    room = inbound.room_at(session, msg.room_id, msg.sent_at)
    if msg.kind != "tombstone" and room.replaced:
        # The room was replaced by an upgrade: its overleg lives (or will) in the new room,
        # and nothing said here after that is read (no second overleg starts here).
        log.info("event in a replaced room not read", extra={"event_id": msg.event_id,
                                                              "room": msg.room_id})
        return []
    # A text event is recorded as having changed nothing until its command does (one
    # UPDATE then): an edit of it is carried out until then.
    if not inbound.first_time(session, msg.event_id, msg.room_id, now, sender=msg.sender,
                              thread_root=msg.thread_root, refused=msg.kind == "text"):
        return []
    # Lock the overleg's row: commands of one overleg run one at a time, across instances too,
    # so numbers like M3 and A12 are never handed out twice (no-op on SQLite, already serial).
    overleg, member = overlegs.by_room_with_member(session, msg.room_id, msg.sender, lock=True)
    # Deadlines are judged by when the person spoke: a confirmation sent before a meeting's
    # start counts, also when the bot handles it later (busy, restarting, a gap in the
    # sync). The event's server timestamp, never later than now and at most MAX_LAG
    # earlier (a sender's server with a wrong clock cannot move an answer back by days).
    spoken = max(min(msg.sent_at, now), now - MAX_LAG)
    ctx = Ctx(room=msg.room_id, sender=msg.sender, now=now, session=session,
              settings=settings, overleg=overleg, member=member, event_id=msg.event_id,
              said_at=spoken, redact_power=msg.redact_power)
    command = registry.resolve(msg.text, settings.prefix) if msg.kind == "text" else None
    verdict = "ok"
    effect = False  # the command changed something (beyond the bookkeeping)
    # Said while the bot was out of the room (kicked, then invited again): not carried out
    # late; a membership change is a fact and is applied.
    away = room.absence if msg.kind not in ("membership", "power_levels") else None
    if limiter is not None and msg.kind == "text" and away is None:
        # The overleg's own people (and administrators) with a known command are never cut
        # off quietly: a command beyond their limit is refused by name (commands/ratelimit.py).
        trusted = command is not None and (member is not None or msg.sender in settings.admins)
        verdict = limiter.check(msg.sender, spoken, trusted=trusted)
    try:
        if verdict == "drop":
            replies = []
        elif verdict == "notify":
            replies = [ctx.refuse("error/rate_limited", per_minute=limiter.per_minute
                                  if limiter else 0)]
        elif verdict == "refuse" and limiter is not None:
            replies = [ctx.refuse("error/rate_limited_command",
                                 command=registry.typed_verb(msg.text, settings.prefix),
                                 sent_at=msg.sent_at, per_minute=limiter.trusted_per_minute,
                                 retry_at=limiter.retry_at(msg.sender, spoken))]
        elif away is not None:
            replies = _said_while_away(ctx, msg, away)
        elif msg.kind == "text" and len(msg.text) > MAX_COMMAND_CHARS:
            replies = [ctx.refuse("error/message_too_long", limit=MAX_COMMAND_CHARS)]
        elif guarded := _guard(ctx, msg, command):
            replies = guarded
        elif edited is not None and not edited.refused:
            # An edit of a command that changed something: carrying it out again would do
            # it twice; say how to correct it instead (never silence).
            replies = [ctx.refuse("error/edit_after_effect",
                                  command=registry.typed_verb(msg.text, settings.prefix))]
        else:
            before = len(written)
            replies = _dispatch(registry, ctx, msg)
            session.flush()
            effect = not BOOKKEEPING.issuperset(written[before:])
            if effect and msg.kind == "text":  # it changed something: no edit redoes it
                if msg.replaces and edited is None:  # (the original was chatter: note it)
                    inbound.first_time(session, msg.replaces, msg.room_id, now,
                                       sender=msg.sender, thread_root=msg.thread_root)
                inbound.took_effect(session, (edited or msg).event_id)
        if msg.kind == "text" and verdict != "drop" and not effect \
                and not any(r.template == "error/pii" for r in replies):
            scanned = _whole_line(ctx, msg, command) \
                if registry.arguments(msg.text, settings.prefix) != "" else []
            # (a command of a time the bot was out: the chair still hears that it was not read)
            replies = [*scanned, *(replies if away is not None else [])] if scanned \
                else replies
    except Exception as e:
        raise CommandFailed(msg.event_id) from e
    if msg.kind == "text" and msg.encrypted and overleg is not None and member is None:
        replies = _readable_by_sender(replies, msg, effect)
    rendered = [_in_reply(r, msg) for o in replies for r in _render_safely(render, o, ctx)]
    # IDs, the command's name and the outcome's template: never the message itself.
    log.info("handled event", extra={
        "event_id": msg.event_id, "room": msg.room_id, "kind": msg.kind,
        "overleg": overleg.id if overleg else None,
        "command": command,
        "outcome": replies[0].template if replies else "none", "replies": len(rendered)})
    if msg.kind == "undecryptable" and rendered:
        log.warning("could not decrypt an event; asked the sender to re-send",
                    extra={"event_id": msg.event_id, "room": msg.room_id})
    outbox.enqueue(session, rendered, now)
    return rendered


TEAMS_MESSAGE = "teams.message"  # bot/teams/cards.py: a Teams message (text or card)


def _readable_by_sender(replies: list[Outgoing], msg: Inbound,
                        effect: bool) -> list[Outgoing]:
    """Replies to someone who is no member of the overleg, in its encrypted room: the room's
    keys go to members only (``bot/matrix/keys.py``), so a reply there is unreadable to
    them. Each reply goes to their direct messages; a command that changed something (an
    administrator's) is answered in the room too, for the members. A redaction stays."""
    out: list[Outgoing] = []
    for r in replies:
        here = r.room in (None, msg.room_id) and (r.extra or {}).get("kind") != "redact"
        if not here:
            out.append(r)
            continue
        if effect:
            out.append(r)
        out.append(replace(r, room=msg.sender, mentions=()))
    return out


def _in_reply(message: Rendered, msg: Inbound) -> Rendered:
    """A reply in the command's own room answers the command's event (in its thread); on
    Teams the answer to a card's button answers the card (in the card's thread)."""
    if message.room_id != msg.room_id:
        return message
    if message.event_type == TEAMS_MESSAGE and msg.kind in ("text", "card"):
        answered = msg.event_id if msg.kind == "text" else msg.relates_to
        return replace(message, in_reply_to=answered, thread_root=msg.thread_root)
    if msg.kind != "text" \
            or message.event_type != "m.room.message" or message.content_json is not None:
        return message
    return replace(message, in_reply_to=msg.event_id, thread_root=msg.thread_root)


def _dispatch(registry: Registry, ctx: Ctx, msg: Inbound) -> list[Outgoing]:
    if msg.kind == "text":
        return run(registry, ctx, msg.text)
    if msg.kind == "undecryptable":  # ask its sender, once, to send it again
        return [Outgoing("error/undecryptable", {"sender": msg.sender}, room=ctx.room,
                         locale=ctx.locale, timezone=ctx.tz.key, mentions=(msg.sender,))
                ] if ctx.overleg else []
    if msg.kind == "reaction":
        return answers.reaction(ctx, msg.relates_to, msg.key, msg.event_id)
    if msg.kind == "poll_response":
        return answers.poll_vote(ctx, msg.relates_to, msg.key, msg.event_id)
    if msg.kind == "poll_end":
        return answers.poll_end(ctx, msg.relates_to)
    if msg.kind == "redaction":
        return answers.withdrawal(ctx, msg.redacts)
    if msg.kind == "card":
        return answers.card(ctx, msg.relates_to, msg.key, dict(msg.data), msg.event_id)
    if msg.kind == "tombstone":  # (the transport passes only those sent with the power)
        return rooms.tombstone(ctx, msg.relates_to)
    if msg.kind == "power_levels":
        return setup.lost_redact_power(ctx)
    if msg.kind == "membership" and ctx.overleg is not None and msg.relates_to:
        return _membership(ctx, msg.relates_to, left=msg.key in ("leave", "ban"))
    return []


def _membership(ctx: Ctx, user_id: str, *, left: bool) -> list[Outgoing]:
    """A member left the overleg's room (left, kicked, banned): no more agendas, reminders
    or DMs of this overleg for them, and the chairs are told once; back in the room, they
    are addressed again."""
    changed = overlegs.left_room(ctx.session, ctx.overleg_id, user_id,
                                 ctx.now if left else None)
    if changed is None:
        return []
    audit_change(ctx, action="member." + ("left_room" if left else "back_in_room"),
                 subject=user_id)
    if not left:
        return []
    partner = overlegs.partner_by_id(ctx.session, changed.partner_id) \
        if changed.partner_id is not None else None
    chairs = [m.user_id for m in overlegs.members(ctx.session, ctx.overleg_id)
              if m.role == "chair"]
    # With no chair left in the room, the administrators are the ones who can act.
    told = chairs or sorted(a for a in ctx.settings.admins if a != user_id)
    return [replace(ctx.reply("member/left_room", user=user_id, chairs=told,
                              no_chair=not chairs, was_chair=changed.role == "chair",
                              partner=partner.name if partner else None),
                    mentions=tuple(told))]


def _said_while_away(ctx: Ctx, msg: Inbound, away: RoomAbsence) -> list[Outgoing]:
    """An event from a time the bot was out of the room (issue 19): like history before
    its first join, it is not carried out, and never without a word. The chairs (with none,
    the administrators) are told once per absence that commands and answers of that time
    were not read; who else sent a message that cannot be decrypted (its key was never
    shared with the bot, which was not in the room) is told once per absence, not per
    message. ``away.told`` holds who was told."""
    out: list[Outgoing] = []
    told = away.told.split()
    if away.told_at is None:
        away.told_at = ctx.now
        chairs = [m.user_id for m in overlegs.members(ctx.session, ctx.overleg_id)
                  if m.role == "chair"] if ctx.overleg is not None else []
        told_now = chairs or sorted(ctx.settings.admins)
        told += [u for u in told_now if u not in told]
        out.append(replace(ctx.reply("room/away_commands", chairs=told_now,
                                     left_at=away.left_at, back_at=away.back_at,
                                     overleg=ctx.overleg is not None),
                           mentions=tuple(told_now)))
    if msg.kind == "undecryptable" and ctx.overleg is not None and msg.sender not in told:
        told.append(msg.sender)
        out.append(replace(ctx.reply("room/away_undecryptable", sender=msg.sender,
                                     left_at=away.left_at, back_at=away.back_at),
                           mentions=(msg.sender,)))
    away.told = " ".join(told)
    ctx.session.add(away)
    return out


def _concerns_us(session: Session, msg: Inbound) -> bool:
    if msg.kind == "redaction":
        return msg.redacts is not None and (agendas.by_source_event(session, msg.redacts)
                                            or presence.by_source_event(session, msg.redacts))
    return msg.relates_to is not None and outbox.ref_of_remote(session, msg.relates_to) is not None


_REF = re.compile(r"(\b(?:ref|referentie)\s+)\S+", re.I)


PERSON_REFERENCE_COMMANDS = frozenset({"privacy forbid", "privacy allow"})
"""Whose words are person references on purpose (kept as keyed hashes only)."""
REF_COMMANDS = frozenset({"case open", "case find"})
"""Where a reference is expected after ``ref``: only there is that word left unscanned
(it is only ever stored as a keyed hash)."""


def _guard(ctx: Ctx, msg: Inbound, command: str | None) -> list[Outgoing]:
    """Refusals that come before any command: an unencrypted room."""
    if msg.kind != "text":
        return []
    if ctx.settings.require_e2ee and not msg.encrypted and command != "help":
        return [ctx.refuse("error/unencrypted")]
    return []


def _whole_line(ctx: Ctx, msg: Inbound, command: str | None) -> list[Outgoing]:
    """A text that was not carried out is still scanned whole: an identifier in it must not
    stay in the room (it is redacted) nor be half-quoted in an error. A command that was
    carried out had each free-text argument scanned (``Ctx.check``); its other arguments
    are IDs, dates and choices, read strictly. The words of ``!privacy forbid`` are person
    references on purpose; a reference after ``ref`` (case open, case find) is only ever
    stored as a keyed hash: neither is scanned."""
    if command in PERSON_REFERENCE_COMMANDS or len(msg.text) > MAX_COMMAND_CHARS:
        return []  # (a text over the limit is refused unread)
    text = _REF.sub(r"\1", msg.text) if command in REF_COMMANDS else msg.text
    found = pii.scan_all(_prefixed_case_ids(ctx, text), ctx.guard)
    return ctx.refuse_personal_data(PersonalData(None, found)) if found else []


_BARE_CASE_ID = re.compile(r"(?<![\w-])[0-9A-Za-z]{5,9}(?![\w-])")


def _prefixed_case_ids(ctx: Ctx, text: str) -> str:
    """``text`` with case IDs typed without "C-" written with it, so the PII guard reads
    them as our own IDs, as it reads a typed "C-…" ("5823AK" alone reads like a postcode).
    Only the codes of this overleg's own cases: a word is never guessed to be one."""
    if ctx.overleg is None:
        return text

    def prefixed(m: re.Match[str]) -> str:
        code = parse.typed_case_code(m[0])
        if code is not None and cases.by_code(ctx.session, ctx.overleg_id, code) is not None:
            return caseid.display(code)
        return m[0]

    return _BARE_CASE_ID.sub(prefixed, text)


def _render_safely(render: Render, out: Outgoing, ctx: Ctx) -> list[Rendered]:
    """A template bug must not lose the event: log it and apologise instead."""
    try:
        return render_all(render, [out], ctx.room)
    except Exception:
        log.exception("rendering failed", extra={"template": out.template})
        return render_all(render, [ctx.reply("error/internal")], ctx.room)
