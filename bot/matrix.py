"""The Matrix transport on matrix-nio: events in as ``Inbound`` values, outbox rows out.

nio sends; it does not decide. Callbacks only turn events into plain values and hand them
to the sans-I/O core in a worker thread. The sync token is saved only after the batch's
events were handled, so a crash replays the batch and the inbound dedupe drops repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    ReactionEvent,
    RedactionEvent,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPreset,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
    UnknownEvent,
    UploadResponse,
    WhoamiResponse,
)
from nio.store import DefaultStore

from bot.app import App
from bot.deliver import SendResult
from bot.runtime import Runtime
from commands.inbound import Inbound
from storage.outbox import Queued

log = logging.getLogger(__name__)
SYNC_TIMEOUT_MS = 30_000
SESSION_FILE = "session.json"
TOKEN_SAVE_EVERY = 10.0  # seconds between saves of the sync token (and one at stop)
SETTLE_SECONDS = 0.5  # how long the next /sync waits for the replies just sent
# Keep the first sync small and the timeline bounded; history before a join is never handled.
SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 100},
                                        "state": {"lazy_load_members": True}}}


PERMANENT_SEND_ERRORS = frozenset({"M_FORBIDDEN", "M_TOO_LARGE", "M_BAD_JSON", "M_NOT_JSON"})


class LoginFailed(Exception):
    """The homeserver refused the bot's login; the message says how to fix it."""


class _Mentions(HTMLParser):
    """The text of an HTML body with matrix.to user pills replaced by the user ID they link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pill: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") or ""
        m = re.match(r"https://matrix\.to/#/(@[^/?]+)", href)
        if tag == "a" and m:
            self._pill = m[1]
            self.parts.append(m[1])
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._pill = None

    def handle_data(self, data: str) -> None:
        if self._pill is None:
            self.parts.append(data)


def command_text(event: RoomMessageText) -> str:
    """The command line of a message: pills (mentions) become the Matrix IDs they point to."""
    html = event.formatted_body if event.format == "org.matrix.custom.html" else None
    if html and "matrix.to/#/@" in html:
        parser = _Mentions()
        parser.feed(html)
        return "".join(parser.parts)
    return str(event.body)


POLL_RESPONSE = ("m.poll.response", "org.matrix.msc3381.poll.response")


def poll_answer(content: dict[str, Any]) -> tuple[str | None, str]:
    """(poll start event ID, the chosen answer ID) of a stable or unstable poll response."""
    relates = content.get("m.relates_to") or {}
    target = relates.get("event_id") if isinstance(relates, dict) else None
    chosen: Any = content.get("m.selections")
    for key in ("m.poll.response", "org.matrix.msc3381.poll.response"):
        block = content.get(key)
        if chosen is None and isinstance(block, dict):
            chosen = block.get("answers")
    first = chosen[0] if isinstance(chosen, list) and chosen else ""
    return (target if isinstance(target, str) else None), (first if isinstance(first, str)
                                                            else "")


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class _Store(DefaultStore):  # type: ignore[misc]
    """nio's store, without its database round trip after every sync: nio saves the rooms
    that became encrypted in each sync response, nearly always none, and even an empty
    save looks the account up (measured: ~12% of the bot's CPU in `make bench`)."""

    def save_encrypted_rooms(self, rooms: set[str]) -> None:
        if rooms:
            super().save_encrypted_rooms(rooms)


class MatrixTransport(Runtime):
    """Logs in, syncs, feeds the core, and sends the outbox through ``room_send``."""

    def __init__(self, app: App) -> None:
        super().__init__(app, holder=f"{app.config.user_id}|{app.config.store_path.resolve()}")
        cfg = app.config
        self.store = Path(cfg.store_path)
        self.client = AsyncClient(
            cfg.homeserver, cfg.user_id, device_id=cfg.device_id or "",
            store_path=str(self.store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False,
                                     store=_Store,
                                     max_limit_exceeded=0, max_timeouts=0,
                                     request_timeout=SYNC_TIMEOUT_MS / 1000 + 30),
        )
        self.ready = asyncio.Event()
        self._initial = False
        self._token_saved_at: float | None = None
        self._unsaved_token: str | None = None

    # ---- login -----------------------------------------------------------------------
    async def login(self) -> None:
        """Reuse the stored session (same device, so E2EE keys and txn IDs stay valid)."""
        self.store.mkdir(parents=True, exist_ok=True)
        cfg = self.app.config
        session_path = self.store / SESSION_FILE
        if session_path.exists():
            saved = json.loads(session_path.read_text())
            if saved.get("user_id") == cfg.user_id and saved.get("homeserver") == cfg.homeserver:
                self.client.restore_login(cfg.user_id, saved["device_id"], saved["access_token"])
                log.info("restored session", extra={"device_id": saved["device_id"]})
                return
        if cfg.access_token:
            self.client.access_token = cfg.access_token
            who = await self.client.whoami()
            if not isinstance(who, WhoamiResponse) or not who.device_id:
                raise LoginFailed("CASUSBOT_ACCESS_TOKEN was refused by the homeserver "
                                  "(or has no device); create a new token")
            self.client.restore_login(cfg.user_id, who.device_id, cfg.access_token)
            device_id, token = who.device_id, cfg.access_token
        else:
            resp = await self.client.login(password=cfg.password or "",
                                           device_name=cfg.device_name)
            if not isinstance(resp, LoginResponse):
                raise LoginFailed(f"login as {cfg.user_id} failed: "
                                  f"{getattr(resp, 'message', resp)}; check CASUSBOT_PASSWORD")
            device_id, token = resp.device_id, resp.access_token
        session_path.write_text(json.dumps({"user_id": cfg.user_id, "homeserver": cfg.homeserver,
                                            "device_id": device_id, "access_token": token}))
        os.chmod(session_path, 0o600)
        log.info("logged in", extra={"device_id": device_id})

    # ---- inbound ---------------------------------------------------------------------
    def _device_key(self) -> str:
        return f"{self.client.user_id}|{self.client.device_id}"

    async def on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key != self.client.user_id or event.membership != "invite":
            return
        now = datetime.now(UTC)
        resp = await self.client.join(room.room_id)
        if isinstance(resp, JoinError):
            log.warning("could not join", extra={"room": room.room_id})
            return
        await asyncio.to_thread(self.app.record_join, room.room_id, now)
        log.info("joined room", extra={"room": room.room_id})

    async def on_member(self, room: MatrixRoom, event: RoomMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "join":
            await asyncio.to_thread(self.app.record_join, room.room_id,
                                    _ts(event.server_timestamp))

    async def on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if self._initial or event.sender == self.client.user_id:
            return
        self.own_work.started(room.room_id)
        msg = Inbound(event_id=event.event_id, room_id=room.room_id, sender=event.sender,
                      text=command_text(event), sent_at=_ts(event.server_timestamp),
                      encrypted=bool(room.encrypted))
        await self._answer(msg)

    async def _answer(self, msg: Inbound) -> None:
        await self.receive(msg)
        # Let the reply's send start before nio goes on with the rest of the sync response
        # (measured: that came first and held the reply back by ~2 ms).
        await asyncio.sleep(0)

    async def on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        if self._initial or event.sender == self.client.user_id:
            return
        await self._answer(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="reaction",
                                   sent_at=_ts(event.server_timestamp),
                                   relates_to=event.reacts_to, key=str(event.key)))

    async def on_redaction(self, room: MatrixRoom, event: RedactionEvent) -> None:
        if self._initial or event.sender == self.client.user_id:
            return
        await self._answer(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="redaction",
                                   sent_at=_ts(event.server_timestamp), redacts=event.redacts))

    async def on_unknown(self, room: MatrixRoom, event: UnknownEvent) -> None:
        if self._initial or event.sender == self.client.user_id or event.type not in POLL_RESPONSE:
            return
        relates, answer = poll_answer(event.source.get("content") or {})
        await self._answer(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="poll_response",
                                   sent_at=_ts(event.server_timestamp), relates_to=relates,
                                   key=answer))

    async def on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        log.warning("cannot decrypt event", extra={"room": room.room_id,
                                                   "event_id": event.event_id,
                                                   "session_id": event.session_id})
        with contextlib.suppress(Exception):
            await self.client.request_room_key(event)
        if not self._initial and event.sender != self.client.user_id:
            await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                       sender=event.sender, text="", kind="undecryptable",
                                       sent_at=_ts(event.server_timestamp)))

    # ---- outbound --------------------------------------------------------------------
    async def send(self, row: Queued) -> SendResult:
        """Send one outbox row with its own transaction ID (idempotent on the homeserver)."""
        room_id = row.room_id
        if room_id.startswith("@"):
            dm = await self._direct_room(room_id)
            if isinstance(dm, SendResult):
                return dm
            room_id = dm
        if row.event_type == "m.room.redaction":
            return await self._redact(room_id, row)
        content: dict[str, Any]
        if row.content_json:
            content = json.loads(row.content_json)
        else:
            content = {"msgtype": row.msgtype, "body": row.body,
                       "m.mentions": {"user_ids": row.mentions.split()} if row.mentions else {}}
            if row.formatted_body:
                content["format"] = "org.matrix.custom.html"
                content["formatted_body"] = row.formatted_body
        await self._limit_key_sharing(room_id)
        if row.attachment is not None:
            uploaded = await self._upload(room_id, row)
            if isinstance(uploaded, SendResult):
                return uploaded
            content.update(uploaded)
        self.own_work.sending(row.room_id)
        try:
            resp = await self.client.room_send(room_id, row.event_type, content,
                                               tx_id=row.txn_id, ignore_unverified_devices=True)
        except (LocalProtocolError, KeyError) as e:
            # After the first sync the client knows every room the bot is in: a room it does
            # not know is one the bot left or never joined, and waiting will not change that.
            gone = self.ready.is_set() and room_id not in self.client.rooms
            return SendResult(error=f"local: {type(e).__name__}" + (": not in this room"
                                                                    if gone else ""),
                              permanent=gone)
        except (aiohttp.ClientError, TimeoutError) as e:
            return SendResult(error=f"network: {type(e).__name__}")
        if isinstance(resp, RoomSendResponse):
            return SendResult(remote_id=resp.event_id)
        if isinstance(resp, ErrorResponse):
            retry = resp.retry_after_ms / 1000 if resp.retry_after_ms else None
            # Not in the room (left, kicked, never joined) or a message the server will never
            # take: retrying cannot help, and it would hold up the room's queue.
            return SendResult(error=f"{resp.status_code}: {resp.message}", retry_after=retry,
                              permanent=resp.status_code in PERMANENT_SEND_ERRORS)
        return SendResult(error=type(resp).__name__)

    async def _limit_key_sharing(self, room_id: str) -> None:
        """Share this room's keys only with devices of the overleg's members.

        Anyone else in the room (someone invited by mistake, a former member) cannot read
        what the bot sends. When a device that already had the current session is excluded,
        the session is dropped so the next message starts a new one without it.
        """
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted or self.client.olm is None:
            return
        allowed = await asyncio.to_thread(self.app.key_recipients, room_id)
        if allowed is None:
            return
        if self.client.should_query_keys:
            # Know every device before deciding, or a device learnt of later during the
            # key share would get the keys unchecked.
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self.client.keys_query()
        session = self.client.olm.outbound_group_sessions.get(room_id)
        shared = set(getattr(session, "users_shared_with", set())) if session else set()
        rotate = False
        for user in list(room.users):
            if user == self.client.user_id:
                continue
            for device in self.client.device_store.active_user_devices(user):
                if user in allowed and device.blacklisted:
                    self.client.unblacklist_device(device)
                elif user not in allowed and not device.blacklisted:
                    self.client.blacklist_device(device)
                    rotate = rotate or (user, device.id) in shared
        if rotate:
            self.client.olm.outbound_group_sessions.pop(room_id, None)
            log.info("room key rotated to leave out a non-member", extra={"room": room_id})

    async def _redact(self, room_id: str, row: Queued) -> SendResult:
        spec = json.loads(row.content_json or "{}")
        try:
            resp = await self.client.room_redact(room_id, spec["redacts"], spec.get("reason"),
                                                 tx_id=row.txn_id)
        except (aiohttp.ClientError, TimeoutError) as e:
            return SendResult(error=f"network: {type(e).__name__}")
        if isinstance(resp, RoomRedactResponse):
            return SendResult(remote_id=resp.event_id)
        status = str(getattr(resp, "status_code", ""))
        # The event is gone already, or the bot may not remove it: neither will change.
        return SendResult(error=f"redact: {status}",
                          permanent=status in PERMANENT_SEND_ERRORS | {"M_NOT_FOUND"})

    async def _upload(self, room_id: str, row: Queued) -> dict[str, Any] | SendResult:
        """Upload a small text attachment (encrypted in an encrypted room); the file fields."""
        data = (row.attachment or "").encode()
        room = self.client.rooms.get(room_id)
        encrypt = bool(room and room.encrypted)
        mimetype = "text/calendar" if (row.attachment_name or "").endswith(".ics") \
            else "text/plain"
        try:
            resp, keys = await self.client.upload(lambda *_: io.BytesIO(data),
                                                  content_type=mimetype,
                                                  filename=row.attachment_name,
                                                  encrypt=encrypt, filesize=len(data))
        except (aiohttp.ClientError, TimeoutError) as e:
            return SendResult(error=f"upload: {type(e).__name__}")
        if not isinstance(resp, UploadResponse):
            return SendResult(error=f"upload: {getattr(resp, 'message', resp)}")
        fields: dict[str, Any] = {"filename": row.attachment_name,
                                  "info": {"mimetype": mimetype, "size": len(data)}}
        if encrypt and keys:
            fields["file"] = {**keys, "url": resp.content_uri}
        else:
            fields["url"] = resp.content_uri
        return fields

    async def _direct_room(self, user_id: str) -> str | SendResult:
        """The encrypted DM room with ``user_id``, opened once; ready when they have joined.

        Room keys are shared only with joined members, so a message sent before the person
        accepts the invite could never be read: until then the row waits (and retries).
        """
        room_id = await asyncio.to_thread(self.app.direct_room, user_id)
        if room_id is None:
            resp = await self.client.room_create(
                is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat,
                initial_state=[{"type": "m.room.encryption", "state_key": "",
                                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
            if not isinstance(resp, RoomCreateResponse):
                return SendResult(error=f"dm: {getattr(resp, 'message', resp)}")
            room_id = resp.room_id
            await asyncio.to_thread(self.app.save_direct_room, user_id, room_id)
            await asyncio.to_thread(self.app.record_join, room_id, datetime.now(UTC))
            log.info("opened direct room", extra={"room": room_id})
        room = self.client.rooms.get(room_id)
        if room is None or user_id not in room.users or user_id in room.invited_users:
            return SendResult(error="dm: waiting for the person to join", retry_after=5.0)
        return room_id

    # ---- loop ------------------------------------------------------------------------
    async def _key_upkeep(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()

    async def sync_loop(self) -> None:
        token = await asyncio.to_thread(self.app.sync_token, self._device_key())
        self._initial = token is None
        failures = 0
        first = True  # catch up at once after a start; long-poll from then on
        while True:
            resp: Any
            try:
                resp = await self.client.sync(timeout=0 if first else SYNC_TIMEOUT_MS,
                                              since=token, sync_filter=SYNC_FILTER,
                                              full_state=self._initial or None)
            except (aiohttp.ClientError, TimeoutError) as e:
                resp = e  # the homeserver is unreachable: back off and try again
            if not isinstance(resp, SyncResponse):
                failures += 1
                wait = min(15.0, 2.0 ** failures)
                log.warning("sync failed", extra={"retry_in_s": wait,
                                                  "error": str(getattr(resp, "message", resp))})
                await asyncio.sleep(wait)
                continue
            failures = 0
            first = False
            if self._initial:
                # First start ever: everything so far is history. Remember the rooms we
                # are in as joined now, so only what comes after is handled.
                now = datetime.now(UTC)
                for room_id in self.client.rooms:
                    await asyncio.to_thread(self.app.record_join, room_id, now)
                self._initial = False
            if token is not None:
                await self._backfill(resp, token)
            token = resp.next_batch
            await self._save_token(token)
            with contextlib.suppress(Exception):
                await self._key_upkeep()
            # The replies' PUTs before the next long-poll (a queue behind a reply, or a slow
            # homeserver, holds the sync up for at most SETTLE_SECONDS).
            await self.deliverer.settle(SETTLE_SECONDS)
            if not self.ready.is_set():
                await self._cross_sign()
                log.info("first sync done", extra={"rooms": len(self.client.rooms)})
            self.ready.set()

    async def _save_token(self, token: str, *, now: bool = False) -> None:
        """Save the sync token: the first at once, then at most every ``TOKEN_SAVE_EVERY``
        seconds, and the last one at stop. A write per sync response was a large share of
        the bot's CPU under load; a restart from a token a few seconds old gets those
        events again, and each was recorded as handled (it is not answered twice)."""
        loop = asyncio.get_running_loop()
        if now or self._token_saved_at is None or \
                loop.time() - self._token_saved_at >= TOKEN_SAVE_EVERY:
            await asyncio.to_thread(self.app.save_sync_token, self._device_key(), token)
            self._token_saved_at, self._unsaved_token = loop.time(), None
        else:
            self._unsaved_token = token

    async def _cross_sign(self) -> None:
        """Sign this device with the account's cross-signing key (once per device)."""
        from bot.crosssign import CrossSigningError, ensure

        try:
            await ensure(self.app.config.homeserver, self.client.user_id,
                         self.client.device_id, self.client.access_token, self.store,
                         self.app.config.password)
        except (CrossSigningError, aiohttp.ClientError, ValueError) as e:
            log.warning("cross-signing not set up", extra={"error": str(e)[:200]})

    async def _backfill(self, resp: SyncResponse, since: str) -> None:
        """Handle what a limited timeline left out (many events while the bot was away).

        Sync returns at most the filter's limit per room; older events in the gap are fetched
        with /messages back to the previous sync token and handled oldest first. The token is
        saved only afterwards, and the inbound dedupe makes any overlap harmless.
        """
        for room_id, info in resp.rooms.join.items():
            timeline = info.timeline
            if not timeline.limited or not timeline.prev_batch:
                continue
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            missed: list[Any] = []
            start = timeline.prev_batch
            for _ in range(100):  # at most 10,000 events per gap
                page = await self.client.room_messages(room_id, start=start, end=since,
                                                       direction=MessageDirection.back,
                                                       limit=100)
                if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                    break
                missed.extend(page.chunk)
                if not page.end or page.end == start:
                    break
                start = page.end
            log.info("handling events from a gap in the timeline",
                     extra={"room": room_id, "events": len(missed)})
            for event in reversed(missed):
                await self._dispatch(room, event)

    async def _dispatch(self, room: MatrixRoom, event: Any) -> None:
        if isinstance(event, RoomMessageText):
            await self.on_text(room, event)
        elif isinstance(event, ReactionEvent):
            await self.on_reaction(room, event)
        elif isinstance(event, RedactionEvent):
            await self.on_redaction(room, event)
        elif isinstance(event, UnknownEvent):
            await self.on_unknown(room, event)
        elif isinstance(event, MegolmEvent):
            await self.on_undecryptable(room, event)

    async def start(self) -> None:
        await self.login()
        self.client.add_event_callback(self.on_invite, InviteMemberEvent)
        self.client.add_event_callback(self.on_member, RoomMemberEvent)
        self.client.add_event_callback(self.on_text, RoomMessageText)
        self.client.add_event_callback(self.on_undecryptable, MegolmEvent)
        self.client.add_event_callback(self.on_reaction, ReactionEvent)
        self.client.add_event_callback(self.on_redaction, RedactionEvent)
        self.client.add_event_callback(self.on_unknown, UnknownEvent)
        await self._start_background(("sync", self.sync_loop()))

    async def stop(self) -> None:
        await self._stop_background()
        if self._unsaved_token is not None:
            with contextlib.suppress(Exception):  # (a stop must not fail on it)
                await self._save_token(self._unsaved_token, now=True)
        await self.client.close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()
