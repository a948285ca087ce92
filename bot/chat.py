"""A small Matrix client: `casusbot chat` in a terminal, and the real client of the e2e tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class ChatClient:
    """A real nio client with E2EE that records every message it syncs."""

    def __init__(self, homeserver: str, user_id: str, password: str, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.password = password
        self.client = AsyncClient(homeserver, user_id, store_path=str(store),
                                  config=AsyncClientConfig(encryption_enabled=True,
                                                           store_sync_tokens=True))
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
                raise RuntimeError(f"login failed for {self.client.user_id}")
            session.write_text(json.dumps({"device_id": resp.device_id,
                                           "access_token": resp.access_token}))
        self.client.add_event_callback(self._on_message, (RoomMessageText, RoomMessageNotice))
        self.client.add_event_callback(self._on_other, (UnknownEvent, RoomMessageFile,
                                                        RoomEncryptedFile))
        self.client.add_event_callback(self._on_invite, InviteMemberEvent)
        first = await self.client.sync(timeout=0, full_state=True)
        if not isinstance(first, SyncResponse):
            raise RuntimeError("first sync failed")
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
        while True:
            resp = await self.client.sync(timeout=10_000)
            if not isinstance(resp, SyncResponse):
                await asyncio.sleep(0.5)
                continue
            with contextlib.suppress(Exception):
                await self._upkeep()

    async def _on_message(self, room: MatrixRoom, event: Any) -> None:
        html = getattr(event, "formatted_body", None)
        msgtype = "m.notice" if isinstance(event, RoomMessageNotice) else "m.text"
        relates = (event.source.get("content") or {}).get("m.relates_to")
        self.seen.append(Seen(room.room_id, event.sender, event.body, html, msgtype,
                              event.event_id, relates if isinstance(relates, dict) else None))
        self._new.set()

    async def _on_other(self, room: MatrixRoom, event: Any) -> None:
        kind = "m.file" if isinstance(event, (RoomMessageFile, RoomEncryptedFile)) \
            else str(event.type)
        self.seen.append(Seen(room.room_id, event.sender, getattr(event, "body", ""), None,
                              kind, event.event_id))
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


async def run_chat(creds: dict[str, Any], who: str, store: Path) -> None:
    """The interactive loop of `casusbot chat`."""
    logging.getLogger("nio").setLevel(logging.ERROR)  # key-sharing chatter is not for users
    user = creds["users"][who]
    bot_id = creds["users"]["casusbot"]["user_id"]
    room_id = creds["room_id"]
    chat = ChatClient(creds["homeserver"], user["user_id"], user["password"], store)
    await chat.start()
    print(f"Chatting in the demo room as {user['user_id']}. Type a command "
          f"(e.g. !hulp); Ctrl-D quits.")
    shown = 0

    async def printer() -> None:
        nonlocal shown
        while True:
            await chat.next_notice(bot_id, room_id=room_id, after=shown, timeout=3600)
            for s in chat.seen[shown:]:
                if s.sender == bot_id:
                    print("\n" + s.body.replace("\n", "\n  ") + "\n> ", end="", flush=True)
            shown = len(chat.seen)

    task = asyncio.create_task(printer())
    loop = asyncio.get_running_loop()
    print("> ", end="", flush=True)
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if line.strip():
                shown = max(shown, len(chat.seen))
                await chat.send(room_id, line.strip())
    finally:
        task.cancel()
        await chat.close()
