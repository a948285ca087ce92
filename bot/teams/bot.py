"""casusbot in Teams: activities in, the same core, the same outbox and sweep, sends out.

SDK-neutral: the SDK sits behind ``bot.teams.port.Port``. An overleg is bound to a Teams
conversation (channel or group chat) exactly as to a Matrix room: its ID is the room ID.
Members are Teams user IDs (``29:…``); an @mention in a command becomes that ID before the
core sees the text, so no name ever reaches the core or the database.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlmodel import select

from bot.app import App
from bot.deliver import SendResult
from bot.runtime import Runtime
from bot.teams.cards import EVENT_TYPE, MENTION_PREFIX
from bot.teams.port import Handler, Mention, Outbound, Port, SendFailed, TeamsActivity
from commands.inbound import Inbound
from commands.member import unreachable_notices
from commands.parse import TEAMS_USER, TEAMS_USER_FORM
from commands.registry import Outgoing, render_all
from storage import inbound as inbound_store
from storage import outbox, overlegs, teams
from storage.db import session_scope
from storage.models import Member, OutboxMessage
from storage.outbox import Queued

log = logging.getLogger(__name__)
# A DM waits for the person's first personal chat (which releases it at once); look again
# hourly all the same.
UNREACHABLE_RETRY = timedelta(hours=1)
DROPPED = frozenset({400, 403, 404, 413})
"""Connector answers that drop a message (retrying cannot help): 400 malformed, 403 the bot
may not post there (removed, blocked), 404 no such conversation, 413 too large. Each is
logged as an error, counted, and told to the room (``Deliverer._refused``); any other status
(429, 5xx) or no answer is retried with backoff."""
PERSON = re.compile(r"(?<![\w:-])(?:29:[A-Za-z0-9._\-]{0,199}[A-Za-z0-9_\-]|user-id-\d{1,6})"
                    r"(?![\w-])")
"""A Teams user ID in a rendered message (the core names people by ID, never by name):
``29:…``, or ``user-id-N`` of the Agents Playground's default tenant; a sentence's full stop
after it is not part of it."""
TYPED_ID = re.compile(rf"(?<![\w:?-])(?:{TEAMS_USER_FORM})(?![\w-])")
"""A Teams user ID in a command's raw text, outside an <at> mention: typed, not mentioned."""
_AT_ID = re.compile(rf"<at>({TEAMS_USER_FORM})</at>")
_CODE = re.compile(r"(<code>.*?</code>)", re.S)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
PortFactory = Callable[[Any, Handler], Port]


def command_text(text: str, mentions: tuple[Mention, ...], bot_id: str, prefix: str,
                 addressed: bool) -> str:
    """The command in a Teams message: the bot's @mention removed (a mention means "to the
    bot", so the prefix may be left out), other mentions replaced by the person's ID."""
    # An ID typed as text is no mention: it never passes as a person (people are added by
    # @mention only, and named by name).
    text = TYPED_ID.sub(lambda m: "?" + m[0], text)
    mentioned = False
    for m in mentions:
        if m.user_id == bot_id:
            text = text.replace(m.text, " ")
            addressed = mentioned = True
        else:
            text = text.replace(m.text, f" {m.user_id} ")
    text = html.unescape(_TAG.sub(" ", text)).replace("\xa0", " ")
    text = " ".join(text.split())
    for user in {m.user_id for m in mentions if m.user_id != bot_id}:
        # Teams mentions a two-word display name as two <at> tags of one person.
        text = re.sub(rf"(?<!\S){re.escape(user)}(?: {re.escape(user)})+(?!\S)", user, text)
    if text.casefold().startswith(MENTION_PREFIX.casefold()):
        # "@casusbot hulp" typed (or pasted from the help) rather than picked as a mention.
        text = text[len(MENTION_PREFIX):]
        addressed = True
    if mentioned and not text.strip():
        text = "help"  # "@casusbot" alone: the commands, not silence
    if addressed and text and not text.startswith(prefix):
        text = prefix + text
    return text


def by_name(text: str, names: dict[str, str]) -> str:
    """Teams HTML with each person's ID replaced by their name (escaped), except inside
    ``<code>`` (an ID to copy, such as the one for CASUSBOT_ADMINS, stays an ID)."""
    if not names:
        return text
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):  # the odd parts are <code>…</code>
        parts[i] = PERSON.sub(lambda m: html.escape(names.get(m[0], m[0])), parts[i])
    return "".join(parts)


def card_by_name(value: Any, names: dict[str, str]) -> Any:
    """An Adaptive Card with each person's ID in its texts replaced by their name."""
    if not names:
        return value
    if isinstance(value, dict):
        return {k: card_by_name(v, names) if k not in ("id", "data", "verb") else v
                for k, v in value.items()}
    if isinstance(value, list):
        return [card_by_name(v, names) for v in value]
    if isinstance(value, str):
        return PERSON.sub(lambda m: names.get(m[0], m[0]), value)
    return value


def answers_where(row: Queued, card: bool) -> tuple[str | None, str | None]:
    """Where a row is posted: (the activity it replies to, the channel thread it is in).

    A reply to a command (``in_reply_to``: the command's event ``teams:{conversation}:{id}``,
    or for a card's button the card's own activity ID) goes into the command's thread in a
    channel and answers the activity in a chat. What starts something new is a new post:
    agendas and reminders (no ``in_reply_to``), and an agenda card even when a command sent
    it (``ref``: people answer it, in its own thread).
    """
    if not row.in_reply_to or (card and row.ref):
        return None, None
    own = f"teams:{row.room_id}:"
    reply_to = row.in_reply_to.removeprefix(own)
    if reply_to.startswith("~"):  # an activity without an ID: nothing to reply to
        reply_to = ""
    return reply_to or None, row.thread_root or None


def _agents_port(config: Any, handler: Handler) -> Port:
    from bot.teams.agents import AgentsPort

    return AgentsPort(config, handler)


class TeamsBot(Runtime):
    """Serves ``POST /api/messages``, runs the deliverer and the sweep for Teams."""

    def __init__(self, app: App, port_factory: PortFactory | None = None) -> None:
        assert app.config.teams is not None, "load the configuration with platform='teams'"
        self.config = app.config.teams
        super().__init__(app, holder=f"teams|{socket.gethostname()}|{self.config.port}")
        self.port = (port_factory or _agents_port)(self.config, self.on_activity)
        self.names: dict[str, str] = {}  # display names seen, in memory only: mention labels
        self.known: dict[tuple[str, str], str] = {}  # senders' names kept: no rewrite per message
        self.url = ""
        self._runner: web.AppRunner | None = None

    # ---- inbound ---------------------------------------------------------------------
    async def on_activity(self, a: TeamsActivity) -> str | None:
        if a.sender_name:
            self.names[a.sender] = a.sender_name
        for m in a.mentions:
            if m.name:
                self.names[m.user_id] = m.name
        released = await self.db.run(self._seen, a)
        if released:
            self.deliverer.poke()  # direct messages waiting for this personal chat
        if a.kind == "added":
            if await self.db.run(self._welcome, a):
                self.deliverer.poke()
            return None
        if a.kind == "removed":
            for user, _ in a.data:
                self.names.pop(user, None)
                await self.receive(Inbound(
                    event_id=f"teams:{a.conversation_id}:removed:{user}:{a.activity_id}",
                    room_id=a.conversation_id, sender=a.sender, text="", kind="membership",
                    sent_at=a.at or self.app.clock.now(), key="leave", relates_to=user))
            return None
        msg = self._inbound(a)
        if msg is None:
            return None
        self.own_work.started(a.conversation_id)
        done = await self.receive(msg)
        # Names of the people a command mentions are kept every time (the command may just
        # have made them members); a sender's own name once per process and conversation.
        heard = {u: n for u, n in self._heard(a).items()
                 if u != a.sender or self.known.get((a.conversation_id, u)) != n}
        if heard:
            await self.db.run(self._remember, a.conversation_id, heard)
            if a.sender in heard:
                self.known[(a.conversation_id, a.sender)] = heard[a.sender]
        if a.kind == "execute":
            return done.replies[0].body if done.replies else ""
        return None

    def _inbound(self, a: TeamsActivity) -> Inbound | None:
        event_id = f"teams:{a.conversation_id}:{a.activity_id or '~' + uuid.uuid4().hex}"
        at = a.at or self.app.clock.now()
        if a.kind in ("submit", "execute"):
            return Inbound(event_id=event_id, room_id=a.conversation_id, sender=a.sender,
                           text="", sent_at=at, kind="card", relates_to=a.reply_to,
                           key=a.verb, data=a.data, thread_root=a.thread)
        text = command_text(a.text, a.mentions, a.bot_id, self.app.settings.prefix,
                            addressed=a.personal)
        if not text:
            return None
        if a.kind == "edit":
            # Teams keeps the activity ID of an edited message: the edit is told apart from
            # the original (and from another edit) by its text.
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            return Inbound(event_id=f"{event_id}:edit:{digest}", room_id=a.conversation_id,
                           sender=a.sender, text=text, sent_at=at, thread_root=a.thread,
                           replaces=event_id)
        return Inbound(event_id=event_id, room_id=a.conversation_id, sender=a.sender,
                       text=text, sent_at=at, thread_root=a.thread)

    @staticmethod
    def _heard(a: TeamsActivity) -> dict[str, str]:
        """The names this activity shows: its sender's, and each person's it mentions."""
        heard = {m.user_id: m.name for m in a.mentions if m.name and m.user_id != a.bot_id}
        if a.sender_name:
            heard[a.sender] = a.sender_name
        return heard

    def _remember(self, conversation_id: str, names: dict[str, str]) -> int:
        """Keep the names of the overleg's members (after the command: a member just added
        by @mention is named from that mention); only members, as long as they are."""
        with session_scope(self.app.engine) as session:
            return teams.remember_names(session, conversation_id, names)

    def _named(self, users: set[str]) -> dict[str, str]:
        """Names for ``users``: seen by this process, else kept with their membership."""
        names = {u: self.names[u] for u in users if u in self.names}
        missing = sorted(users - set(names))
        if missing:
            with session_scope(self.app.engine) as session:
                names.update(teams.names_of(session, missing))
        return names

    def _seen(self, a: TeamsActivity) -> bool:
        """Keep the conversation's reference; the bot is "in" it from the first activity."""
        now = self.app.clock.now()
        with session_scope(self.app.engine) as session:
            released = teams.save_conversation(
                session, a.conversation_id, json.dumps(a.reference, sort_keys=True),
                a.sender if a.personal else None, now)
            inbound_store.record_join(session, a.conversation_id, min(a.at or now, now))
            return released

    def _welcome(self, a: TeamsActivity) -> bool:
        now = self.app.clock.now()
        with session_scope(self.app.engine) as session:
            # Once per conversation: the Agents Playground sends "added" each time its page
            # is opened, Teams again when the app is updated.
            if not inbound_store.first_time(session, f"teams:{a.conversation_id}:added",
                                            a.conversation_id, now):
                return False
            # A conversation that is an overleg already (set up before this "added") is not
            # told to set one up: it is greeted in the overleg's language, by its name.
            s = self.app.settings
            existing = overlegs.by_room(session, a.conversation_id)
            rendered = render_all(self.app.render, [Outgoing(
                "teams/welcome", {"overleg": existing.name if existing else None},
                locale=existing.locale if existing else s.locale,
                timezone=existing.timezone if existing else s.timezone)], a.conversation_id)
            return outbox.enqueue(session, rendered, now) > 0

    # ---- outbound --------------------------------------------------------------------
    async def send(self, row: Queued) -> SendResult:
        if row.event_type != EVENT_TYPE or not row.content_json:
            # Written by a Matrix deployment before it moved to Teams: no Teams form.
            return SendResult(error="not a Teams message", permanent=True)
        payload = json.loads(row.content_json)
        if await self.db.run(self._is_person, row.room_id):
            reference, told = await self.db.run(self._personal_or_wait, row.id or 0,
                                                      row.room_id)
            if reference is None:
                if told:
                    self.deliverer.poke()
                return SendResult(error="waiting for a personal chat", deferred=True)
        else:
            reference = await self.db.run(self._reference, row.room_id)
        if reference is None:
            return SendResult(error="no conversation reference for this conversation",
                              permanent=True)
        people = set(row.mentions.split()) | set(PERSON.findall(row.content_json))
        names = await self.db.run(self._named, people) if people else {}
        text, mentions = self._mentions(payload.get("text"), row.mentions.split(), names)
        text = by_name(text, names) if text is not None else None
        if payload.get("card") is not None:
            payload["card"] = card_by_name(payload["card"], names)
        reply_to, thread = answers_where(row, bool(payload.get("card")))
        self.own_work.sending(row.room_id)
        try:
            remote = await self.port.send(json.loads(reference), Outbound(
                text=text, card=payload.get("card"), summary=row.body, mentions=mentions,
                reply_to=reply_to, thread=thread))
        except SendFailed as e:
            return SendResult(error=str(e), retry_after=e.retry_after, shape=e.shape,
                              permanent=e.status in DROPPED)
        return SendResult(remote_id=remote or None)

    def _mentions(self, text: str | None, users: list[str],
                  names: dict[str, str]) -> tuple[str | None, tuple[Mention, ...]]:
        """``<at>29:…</at>`` from the renderer becomes a Teams mention labelled with the
        person's name; any other ``<at>…</at>`` of a person is their name in bold."""
        if text is None:
            return None, ()
        mentions = []
        for user in users:
            tag = f"<at>{user}</at>"
            if tag not in text:
                continue
            label = f"<at>{html.escape(names.get(user, 'collega'))}</at>"
            text = text.replace(tag, label)
            mentions.append(Mention(user_id=user, name=names.get(user, ""), text=label))
        text = _AT_ID.sub(lambda m: f"<b>{m.group(1)}</b>", text)
        return text, tuple(mentions)

    def _is_person(self, room: str) -> bool:
        """A direct message's room is the person's user ID: a Teams ``29:…`` ID, or (the
        Agents Playground's ``user-id-0``) a member's ID that names no conversation."""
        if TEAMS_USER.match(room):
            return True
        if room.startswith(("19:", "a:")):  # a channel, a group or a personal chat
            return False
        with session_scope(self.app.engine) as session:
            if teams.reference(session, room) is not None:
                return False
            return session.exec(select(Member.id).where(Member.user_id == room)
                                .limit(1)).first() is not None

    def _reference(self, room: str) -> str | None:
        with session_scope(self.app.engine) as session:
            return teams.reference(session, room)

    def _personal_or_wait(self, row_id: int, user_id: str) -> tuple[str | None, bool]:
        """The person's personal chat; else park the row until they open one (one
        transaction with the row locked, so a chat opened meanwhile cannot be missed) and
        tell their overleggen once. Returns (reference, whether a note was enqueued)."""
        now = self.app.clock.now()
        with session_scope(self.app.engine) as session:
            row = session.exec(select(OutboxMessage).where(OutboxMessage.id == row_id)
                               .with_for_update()).first()
            chat = teams.personal_chat(session, user_id)
            if chat is not None or row is None:
                return (chat.reference_json if chat else None), False
            row.next_attempt_at = datetime.now(UTC) + UNREACHABLE_RETRY
            row.last_error = "waiting for a personal chat with this person"
            session.add(row)
            notes = unreachable_notices(session, user_id, now)
            rendered = render_all(self.app.render, notes, "")  # each names its room
            outbox.enqueue(session, rendered, now)
            if rendered:
                log.info("a person has no personal chat with the bot yet; told the overleg",
                         extra={"overlegs": len(rendered)})
            return None, bool(rendered)

    # ---- run -------------------------------------------------------------------------
    async def start(self) -> None:
        self._runner = web.AppRunner(self.port.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = getattr(site, "_server", None)
        port = server.sockets[0].getsockname()[1] if server and server.sockets else \
            self.config.port
        self.url = f"http://{self.config.host}:{port}"
        await self._start_background()
        log.info("teams endpoint listening", extra={"url": f"{self.url}/api/messages"})

    async def stop(self) -> None:
        await self._stop_background()
        if self._runner is not None:
            await self._runner.cleanup()
