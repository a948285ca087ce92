"""A small Matrix client: `casusbot chat` in a terminal, and the real client of the e2e tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    MatrixRoom,
    RoomEncryptedFile,
    RoomMessageFile,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
    UnknownEvent,
)

from bot.aio import cancel_and_wait, wait_event


@dataclass(frozen=True)
class Seen:
    room_id: str
    sender: str
    body: str
    html: str | None
    msgtype: str
    event_id: str
    relates: dict[str, Any] | None = None  # its m.relates_to (replies, threads, edits)
    content: dict[str, Any] | None = None  # the whole content of an event that is no text


POLL_TYPES = ("m.poll.start", "org.matrix.msc3381.poll.start")


def _text_of(value: Any) -> str:
    """The text of an extensible-events text (MSC1767): a plain string, ``{"m.text": …}``
    or ``{"org.matrix.msc1767.text": …}``; "" when there is none."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("m.text", "org.matrix.msc1767.text", "body"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return ""


def poll_text(content: dict[str, Any]) -> str:
    """A poll start's content (MSC3381, stable or unstable shape) as plain text: the
    question, then its answers numbered from 1 on their own lines. Falls back to the
    content's ``body`` when the content holds no poll."""
    poll = next((content[t] for t in POLL_TYPES if isinstance(content.get(t), dict)), None)
    if poll is None:
        return str(content.get("body") or "")
    answers = [_text_of(a) for a in poll.get("answers") or [] if isinstance(a, dict)]
    return "\n".join([_text_of(poll.get("question")),
                      *(f"{i}. {label}" for i, label in enumerate(answers, 1))])


def answered(seen: Seen, history: list[Seen]) -> Seen | None:
    """The message ``seen`` replies to (its ``m.in_reply_to``, also inside a thread),
    when it is in ``history``; None for a message that is no reply or answers an unknown
    event."""
    event_id = reply_to(seen)
    if not event_id:
        return None
    return next((s for s in history if s.event_id == event_id), None)


def command_words(text: str) -> str:
    """The command a message gives, without its arguments: ``!actie toevoegen …`` for
    ``!actie toevoegen C-7K2FJ7 Politie morgen Bel …``. The arguments are not shown again:
    a refused command may hold personal data the bot removed from the room (the client
    may print the answer before it sees the removal)."""
    words = text.split()
    if not words:
        return ""
    shown = words[:1] + [w for w in words[1:2] if w.isalpha()]
    return " ".join(shown) + (" …" if len(words) > len(shown) else "")


def reply_to(seen: Seen) -> str | None:
    """The event ID ``seen`` replies to (``m.in_reply_to``, also inside a thread), or None."""
    event_id = ((seen.relates or {}).get("m.in_reply_to") or {}).get("event_id")
    return event_id if isinstance(event_id, str) else None


def show(seen: Seen, history: list[Seen], room_id: str) -> str:
    """One message from the bot as the terminal shows it: a line naming the command it
    answers (``↳ sender: command``, without its arguments: ``command_words``), a mark for
    a message in a room other than the demo room (``[direct]``: the bot's direct
    messages), a poll as its question and numbered answers, a file by its name
    (``📎 name``); every line after the first indented by two spaces. Ends with a newline."""
    lines: list[str] = []
    if seen.room_id != room_id:
        lines.append("[direct]")
    command = answered(seen, history)
    if command is not None:
        lines.append(f"↳ {command.sender}: {command_words(command.body)}")
    if seen.msgtype in POLL_TYPES:
        lines.append(poll_text(seen.content or {}) or seen.body)
    elif seen.msgtype == "m.file":
        lines.append(f"📎 {seen.body}")
    else:
        lines.append(seen.body)
    return "\n  ".join("\n".join(lines).split("\n")) + "\n"


class ChatError(RuntimeError):
    """The client cannot start: what is wrong, in one line (no traceback for users)."""


class ChatClient:
    """A real nio client with E2EE that records every message it syncs."""

    retry_after = 2.0  # seconds between sync attempts after a failed one

    def __init__(self, homeserver: str, user_id: str, password: str, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.password = password
        self.client = AsyncClient(homeserver, user_id, store_path=str(store),
                                  # nio tries a request the network failed again, by
                                  # default up to a minute apart: a homeserver back from
                                  # a restart was seen that much later. At most
                                  # ``retry_after`` apart instead.
                                  config=AsyncClientConfig(
                                      encryption_enabled=True, store_sync_tokens=True,
                                      max_timeout_retry_wait_time=self.retry_after))
        self.seen: list[Seen] = []
        self._new = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        session = self.store / "session.json"
        if session.exists():
            saved = json.loads(session.read_text())
            self.client.restore_login(self.client.user, saved["device_id"],
                                      saved["access_token"])
        else:
            resp = await self.client.login(self.password, device_name="casusbot-chat")
            if not isinstance(resp, LoginResponse):
                raise ChatError(f"login failed for {self.client.user_id} at "
                                f"{self.client.homeserver}: {getattr(resp, 'message', resp)}")
            session.write_text(json.dumps({"device_id": resp.device_id,
                                           "access_token": resp.access_token}))
        self.client.add_event_callback(self._on_message, (RoomMessageText, RoomMessageNotice))
        self.client.add_event_callback(self._on_other, (UnknownEvent, RoomMessageFile,
                                                        RoomEncryptedFile))
        self.client.add_event_callback(self._on_invite, InviteMemberEvent)
        first = await self.client.sync(timeout=0, full_state=True)
        if not isinstance(first, SyncResponse):
            raise ChatError(f"the homeserver at {self.client.homeserver} did not answer as the "
                            "demo's Synapse does (is `make run` running, and is it this demo's "
                            f"server?): {getattr(first, 'message', first)}")
        await self._upkeep()
        self.seen.clear()  # history is not news
        self._task = asyncio.create_task(self._loop())

    async def _upkeep(self) -> None:
        c = self.client
        if c.should_upload_keys:
            await c.keys_upload()
        if c.should_query_keys:
            await c.keys_query()
        if c.should_claim_keys:
            await c.keys_claim(c.get_users_for_key_claiming())
        await c.send_to_device_messages()

    async def _loop(self) -> None:
        """Sync for as long as the client runs: a failed sync (an error response, the
        network gone, the homeserver restarting) is tried again after ``retry_after``
        seconds, never the end of the loop."""
        while True:
            try:
                resp = await self.client.sync(timeout=10_000)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
                resp = None
            if not isinstance(resp, SyncResponse):
                await asyncio.sleep(self.retry_after)
                continue
            with contextlib.suppress(Exception):
                await self._upkeep()

    async def _on_message(self, room: MatrixRoom, event: Any) -> None:
        html = getattr(event, "formatted_body", None)
        msgtype = "m.notice" if isinstance(event, RoomMessageNotice) else "m.text"
        relates = (event.source.get("content") or {}).get("m.relates_to")
        self.add(Seen(room.room_id, event.sender, event.body, html, msgtype,
                      event.event_id, relates if isinstance(relates, dict) else None))

    async def _on_other(self, room: MatrixRoom, event: Any) -> None:
        kind = "m.file" if isinstance(event, (RoomMessageFile, RoomEncryptedFile)) \
            else str(event.type)
        content = event.source.get("content")
        content = content if isinstance(content, dict) else {}
        body = poll_text(content) if kind in POLL_TYPES else getattr(event, "body", "")
        relates = content.get("m.relates_to")
        self.add(Seen(room.room_id, event.sender, body, None, kind, event.event_id,
                      relates if isinstance(relates, dict) else None, content))

    def add(self, seen: Seen) -> None:
        """Record one synced event and wake whoever waits for news."""
        self.seen.append(seen)
        self._new.set()

    async def send_content(self, room_id: str, content: dict[str, Any]) -> str:
        """Send an m.room.message with exactly ``content`` (a reply, an edit, a thread
        message as a client puts it on the wire); returns the event ID."""
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        event_id = getattr(resp, "event_id", None)
        if not isinstance(event_id, str):
            raise RuntimeError(f"send failed: {resp}")
        return event_id

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        resp = await self.client.room_send(room_id, "m.reaction", {"m.relates_to": {
            "rel_type": "m.annotation", "event_id": event_id, "key": key}},
            ignore_unverified_devices=True)
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"reaction failed: {resp}")
        return str(resp.event_id)

    async def vote(self, room_id: str, poll_id: str, *answers: str,
                   stable: bool = False) -> str:
        """Answer a poll with ``answers`` (none: a spoiled vote) the way Element does
        (unstable type and content), or in the spec's stable form (``m.selections``)."""
        relates = {"rel_type": "m.reference", "event_id": poll_id}
        if stable:
            resp = await self.client.room_send(room_id, "m.poll.response", {
                "m.relates_to": relates, "m.selections": list(answers)},
                ignore_unverified_devices=True)
        else:
            resp = await self.client.room_send(room_id, "org.matrix.msc3381.poll.response", {
                "m.relates_to": relates,
                "org.matrix.msc3381.poll.response": {"answers": list(answers)}},
                ignore_unverified_devices=True)
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"vote failed: {resp}")
        return str(resp.event_id)

    async def redact(self, room_id: str, event_id: str) -> None:
        await self.client.room_redact(room_id, event_id)

    async def news(self, after: int) -> None:
        """Wait, without a time limit, until more than ``after`` events have been seen."""
        while len(self.seen) <= after:
            self._new.clear()
            await self._new.wait()

    async def wait_for(self, pred: Any, timeout: float = 15.0, after: int = 0,
                       what: str = "expected event") -> Seen:
        """The first seen event at index >= ``after`` for which ``pred`` holds; waits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for s in self.seen[after:]:
                if pred(s):
                    return s
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{what} did not arrive within {timeout} s")
            self._new.clear()
            await wait_event(self._new, remaining)

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        # Accept the bot's direct-message rooms (and any other invite): this is a demo client.
        if event.state_key == self.client.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def join(self, room_id: str) -> None:
        await self.client.join(room_id)

    async def send(self, room_id: str, text: str) -> str:
        """Send ``text`` as m.text; returns the event ID."""
        for _ in range(50):
            if room_id in self.client.rooms:
                break
            await asyncio.sleep(0.1)
        resp = await self.client.room_send(room_id, "m.room.message",
                                           {"msgtype": "m.text", "body": text},
                                           ignore_unverified_devices=True)
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"send failed: {resp}")
        return str(resp.event_id)

    async def next_notice(self, sender: str, *, room_id: str | None = None,
                          after: int = 0, timeout: float = 10.0) -> Seen:
        """The first notice from ``sender`` at index >= ``after`` in ``seen``; waits for it."""
        return await self.wait_for(
            lambda s: s.sender == sender and s.msgtype == "m.notice"
            and (room_id is None or s.room_id == room_id),
            timeout, after, what=f"a notice from {sender}")

    def notices(self, sender: str, room_id: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.sender == sender and s.msgtype == "m.notice"
                and (room_id is None or s.room_id == room_id)]

    async def close(self) -> None:
        if self._task:
            await cancel_and_wait([self._task])
        await self.client.close()


async def show_news(chat: ChatClient, bot_id: str, room_id: str, out: TextIO,
                    after: int = 0) -> None:
    """Print each message from ``bot_id`` that ``chat`` sees at index >= ``after`` (see
    ``show``), followed by a fresh prompt; runs until cancelled. It has no time limit: a
    quiet hour (or day) is waited out, and a message that cannot be shown is skipped with
    a note instead of ending the printing."""
    shown = after
    while True:
        await chat.news(shown)
        new, shown = chat.seen[shown:], len(chat.seen)
        for s in new:
            if s.sender != bot_id:
                continue
            try:
                text = show(s, chat.seen, room_id)
            except Exception as e:  # one odd event must not end the printing
                text = f"(a message of type {s.msgtype} could not be shown: {type(e).__name__})\n"
            out.write("\n" + text + "> ")
            out.flush()


START_NOTE_S = 5.0
"""Seconds of logging in and first sync after which the client says what it waits for."""
QUIET_S = 10.0
"""Seconds without a new message from the bot after which ``answers_to`` stops waiting for
answers to commands that get none (chatter, or a bot that is down)."""


async def answers_to(chat: ChatClient, bot_id: str, event_ids: list[str],
                     quiet: float = QUIET_S) -> None:
    """Return once the bot has answered each of ``event_ids`` (a reply to it, see
    ``answered``), or after ``quiet`` seconds without any new message from the bot."""
    wanted = set(event_ids)
    while True:
        if wanted <= {reply_to(s) for s in chat.seen if s.sender == bot_id}:
            return
        try:
            await chat.wait_for(lambda s: s.sender == bot_id, timeout=quiet,
                                after=len(chat.seen), what="the bot's answer")
        except TimeoutError:
            return


class Lines:
    """Lines typed on a file descriptor (the terminal), read without a thread: the event
    loop reads when the descriptor is readable, so nothing blocks a quit. ``get`` returns
    the next line without its newline, or None at the end of input (Ctrl-D)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.buffer = b""
        self.reading = True
        try:
            asyncio.get_running_loop().add_reader(fd, self._readable)
        except PermissionError:  # a regular file or /dev/null: read at once, never blocks
            self.reading = False
            while self._read():
                pass

    def _readable(self) -> None:
        self._read()

    def _read(self) -> bool:
        """Read what is there; False at the end of input."""
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return True
        if not data:
            if self.buffer:
                self.queue.put_nowait(self.buffer.decode(errors="replace"))
            self.queue.put_nowait(None)
            self.close()
            return False
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self.queue.put_nowait(line.decode(errors="replace"))
        return True

    async def get(self) -> str | None:
        return await self.queue.get()

    def close(self) -> None:
        if self.reading:
            self.reading = False
            asyncio.get_running_loop().remove_reader(self.fd)


async def _until(stop: asyncio.Event, coro: Any) -> tuple[bool, Any]:
    """Run ``coro`` until it ends or ``stop`` is set: (True, its result) or (False, None)
    with ``coro`` cancelled."""
    task = asyncio.ensure_future(coro)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        return True, task.result()
    await cancel_and_wait([task], grace=0.5)
    return False, None


@contextlib.contextmanager
def own_terminal(fd: int) -> Iterator[bool]:
    """While inside: Ctrl-C on the terminal ``fd`` reaches this process alone, not the
    program that started it. ``make chat`` runs the client in make's process group, and the
    terminal sends SIGINT to the whole group: GNU make then ends itself by the signal (an
    error status, whatever its recipe did). So, when this process shares the terminal's
    foreground group with its parent, it moves to a group of its own and makes that the
    foreground one (as a shell does for a job), and gives the terminal back to the group
    it came from on leaving. Ctrl-Z is ignored meanwhile (a stopped client would leave make
    waiting with no way back). Yields whether it moved; nothing changes when ``fd`` is no
    terminal, the process leads its group already (started by a shell), or a call is
    refused."""
    try:
        moved = (os.isatty(fd) and os.getpid() != os.getpgrp()
                 and os.tcgetpgrp(fd) == os.getpgrp())
    except OSError:
        moved = False
    if not moved:
        yield False
        return
    before = os.getpgrp()
    ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # set the foreground from behind
    tstp = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
    try:
        os.setpgid(0, 0)
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        with contextlib.suppress(OSError):
            os.setpgid(0, before)
        signal.signal(signal.SIGTTOU, ttou)
        signal.signal(signal.SIGTSTP, tstp)
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, before)
        with contextlib.suppress(OSError):
            os.setpgid(0, before)
        signal.signal(signal.SIGTTOU, ttou)
        signal.signal(signal.SIGTSTP, tstp)


async def run_chat(creds: dict[str, Any], who: str, store: Path,
                   stdin: int | None = None, out: TextIO | None = None) -> None:
    """The interactive loop of `casusbot chat`: lines typed on ``stdin`` (a file
    descriptor, the terminal's by default) are sent to the demo room, the bot's messages
    are printed on ``out``. Ends at the end of input (Ctrl-D; when the input is no terminal,
    once the bot has answered what was sent, see ``answers_to``) or at once on SIGINT
    (Ctrl-C) or SIGTERM, after closing the client (at most about a second)."""
    logging.getLogger("nio").setLevel(logging.ERROR)  # key-sharing chatter is not for users
    out = out or sys.stdout
    user = creds["users"][who]
    bot_id = creds["users"]["casusbot"]["user_id"]
    room_id = creds["room_id"]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    chat = ChatClient(creds["homeserver"], user["user_id"], user["password"], store)
    lines: Lines | None = None
    printer: asyncio.Task[None] | None = None
    try:
        starting = asyncio.ensure_future(chat.start())
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({starting, stopper}, timeout=START_NOTE_S,
                                     return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not done:  # a homeserver that is not there: say so, and keep trying
            out.write(f"Waiting for the homeserver at {creds['homeserver']} (is `make run` "
                      "running?); Ctrl-C quits.\n")
            out.flush()
        started, _ = await _until(stop, starting)
        if not started:
            return
        out.write(f"Chatting in the demo room as {user['user_id']}. Type a command "
                  f"(e.g. !hulp); Ctrl-C or Ctrl-D quits.\n> ")
        out.flush()
        printer = asyncio.create_task(show_news(chat, bot_id, room_id, out, len(chat.seen)))
        fd = sys.stdin.fileno() if stdin is None else stdin
        lines = Lines(fd)
        sent: list[str] = []
        while True:
            got, line = await _until(stop, lines.get())
            if not got:
                break
            if line is None:  # input piped from a file or program: its answers come first
                if not os.isatty(fd) and sent:
                    await _until(stop, answers_to(chat, bot_id, sent))
                break
            if line.strip():
                posted, event_id = await _until(stop, chat.send(room_id, line.strip()))
                if posted:
                    sent.append(event_id)
            else:
                out.write("> ")
                out.flush()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if lines is not None:
            lines.close()
        if printer is not None:
            await cancel_and_wait([printer], grace=0.5)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await chat.close()
        out.write("\n")
        out.flush()
