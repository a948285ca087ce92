"""Sending on Matrix: an outbox row to the homeserver with its own transaction ID (idempotent
there), opening a person's encrypted direct room first, redactions, and small attachments
uploaded (encrypted in an encrypted room); each outcome a ``SendResult`` for the deliverer."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
from nio import (
    ErrorResponse,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    LocalProtocolError,
    MatrixRoom,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomPreset,
    RoomRedactResponse,
    RoomSendResponse,
    UploadResponse,
)

from bot.deliver import SendResult
from bot.matrix.keys import KeySharing, MembershipUnknown, load_members
from bot.timing import OwnWork
from storage.outbox import Queued

log = logging.getLogger(__name__)
PERMANENT_SEND_ERRORS = frozenset({"M_FORBIDDEN", "M_TOO_LARGE", "M_BAD_JSON", "M_NOT_JSON"})


def relation(in_reply_to: str | None, thread_root: str | None) -> dict[str, Any] | None:
    """``m.relates_to`` of a reply to a command: a rich reply to its event, inside its
    thread when it was sent in one (Client-Server API, "Rich replies" and "Threading": a
    threaded reply has ``rel_type: m.thread`` with the root, and ``m.in_reply_to`` with
    ``is_falling_back`` for clients without threads)."""
    if in_reply_to is None:
        return None
    if thread_root is not None:
        return {"rel_type": "m.thread", "event_id": thread_root, "is_falling_back": False,
                "m.in_reply_to": {"event_id": in_reply_to}}
    return {"m.in_reply_to": {"event_id": in_reply_to}}


class Sending(KeySharing):
    """The transport's ``send`` (the deliverer's ``Sender``) and what it needs on the way."""

    ready: asyncio.Event
    own_work: OwnWork

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
            relates = relation(row.in_reply_to, row.thread_root)
            if relates:
                content["m.relates_to"] = relates
        try:
            await self._know_room(room_id)
            session_before = await self._limit_key_sharing(room_id)
        except (MembershipUnknown, aiohttp.ClientError, TimeoutError) as e:
            return SendResult(error=f"keys: {type(e).__name__}")  # retried: nothing shared
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
            # not know is one the bot left or never joined, and waiting will not change that
            # -- unless the bot has just joined it (an invite accepted, an upgraded room
            # moved into) and the next sync will tell the client.
            gone = self.ready.is_set() and room_id not in self.client.rooms \
                and not await self.db.run(self.app.in_room, room_id)
            return SendResult(error=f"local: {type(e).__name__}" + (": not in this room"
                                                                    if gone else ""),
                              permanent=gone)
        except (aiohttp.ClientError, TimeoutError) as e:
            return SendResult(error=f"network: {type(e).__name__}")
        if isinstance(resp, RoomSendResponse):
            await self._withhold(room_id, session_before)
            return SendResult(remote_id=resp.event_id)
        if isinstance(resp, ErrorResponse):
            if resp.status_code == "M_FORBIDDEN" and not row.room_id.startswith("@") \
                    and await self._not_in(room_id):
                # Removed from the room (before the sync said so): the row waits for the
                # bot's return instead of being given up (issue 19).
                await self.db.run(self.app.record_leave, room_id, None)
                return SendResult(error="not in the room; waits until invited again",
                                  deferred=True)
            retry = resp.retry_after_ms / 1000 if resp.retry_after_ms else None
            # Not in the room (left, kicked, never joined) or a message the server will never
            # take: retrying cannot help, and it would hold up the room's queue.
            return SendResult(error=f"{resp.status_code}: {resp.message}", retry_after=retry,
                              permanent=resp.status_code in PERMANENT_SEND_ERRORS)
        return SendResult(error=type(resp).__name__)

    async def _know_room(self, room_id: str) -> MatrixRoom | None:
        """The client's view of a room the bot is in. After a restart the sync goes on from
        its saved token and nio keeps no rooms across starts, so a room quiet since then
        (a direct room, an overleg before its next reminder) is unknown to the client: it
        is rebuilt from the homeserver, its members and whether it is encrypted (the
        stored set of encrypted rooms, else its ``m.room.encryption`` state), so nothing is
        sent unencrypted to an encrypted room. None when the homeserver does not list the
        bot as a member. Raises ``MembershipUnknown`` when it cannot tell."""
        room = self.client.rooms.get(room_id)
        if room is not None:
            return room
        members = await self.client.joined_members(room_id)
        if not isinstance(members, JoinedMembersResponse):
            if getattr(members, "status_code", "") == "M_FORBIDDEN":
                return None  # not in the room: the send says so
            raise MembershipUnknown(f"room members: {getattr(members, 'status_code', '')}")
        if self.client.user_id not in {m.user_id for m in members.members}:
            return None
        encrypted = room_id in self.client.encrypted_rooms
        if not encrypted:
            state = await self.client.room_get_state_event(room_id, "m.room.encryption")
            if isinstance(state, RoomGetStateEventResponse):
                encrypted = True
            elif getattr(state, "status_code", "") != "M_NOT_FOUND":
                raise MembershipUnknown(f"room encryption: {getattr(state, 'status_code', '')}")
        if room_id not in self.client.rooms:
            self.client.rooms[room_id] = MatrixRoom(room_id, self.client.user_id, encrypted)
            if encrypted:
                self.client.encrypted_rooms.add(room_id)
            log.info("room read again after a restart", extra={"room": room_id})
        await load_members(self.client, room_id)  # (nio fills the room it knows now)
        return self.client.rooms.get(room_id)

    async def _not_in(self, room_id: str) -> bool:
        """Whether the homeserver says the bot is not joined to ``room_id`` (False when it
        cannot tell)."""
        try:
            resp = await self.client.joined_rooms()
        except (aiohttp.ClientError, TimeoutError):
            return False
        return isinstance(resp, JoinedRoomsResponse) and room_id not in resp.rooms

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
        Whether they joined is read from the room's full membership, loaded from the
        homeserver when the sync has not brought it (lazy loading, as after a restart).
        """
        room_id = await self.db.run(self.app.direct_room, user_id)
        if room_id is None:
            resp = await self.client.room_create(
                is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat,
                initial_state=[{"type": "m.room.encryption", "state_key": "",
                                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
            if not isinstance(resp, RoomCreateResponse):
                return SendResult(error=f"dm: {getattr(resp, 'message', resp)}")
            room_id = resp.room_id
            await self.db.run(self.app.save_direct_room, user_id, room_id)
            await self.db.run(self.app.record_join, room_id, datetime.now(UTC))
            log.info("opened direct room", extra={"room": room_id})
        try:
            room = await self._know_room(room_id)
        except (MembershipUnknown, aiohttp.ClientError, TimeoutError) as e:
            return SendResult(error=f"dm: room {type(e).__name__}", retry_after=5.0)
        if room is not None and user_id not in room.users and not room.members_synced:
            # The sync loads members lazily: after a restart a direct room the person
            # joined long ago lists only those who spoke since. Ask the homeserver.
            try:
                await load_members(self.client, room_id)
            except (aiohttp.ClientError, TimeoutError) as e:
                return SendResult(error=f"dm: members {type(e).__name__}", retry_after=5.0)
            except MembershipUnknown:
                return SendResult(error="dm: members unknown", retry_after=5.0)
        if room is not None and user_id not in room.users \
                and await self._has_left(room_id, user_id):
            # They left the room (Element's "Leave"): it is theirs no more; the retry
            # opens a new direct room and invites them to it.
            if await self.db.run(self.app.forget_direct_room, user_id, room_id):
                log.info("direct room left by its person; a new one is opened",
                         extra={"room": room_id})
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    await self.client.room_leave(room_id)
            return SendResult(error="dm: the person left; opening a new direct room",
                              retry_after=0.5)
        if room is None or user_id not in room.users or user_id in room.invited_users:
            return SendResult(error="dm: waiting for the person to join", retry_after=5.0)
        return room_id

    async def _has_left(self, room_id: str, user_id: str) -> bool:
        """Whether the homeserver's state of ``room_id`` says ``user_id`` left it (or was
        removed from it): read, never inferred from a partly synced member list, so a
        person who has not accepted the invite yet is never taken for one who left."""
        try:
            resp = await self.client.room_get_state_event(room_id, "m.room.member", user_id)
        except (aiohttp.ClientError, TimeoutError):
            return False
        content = getattr(resp, "content", None)
        return isinstance(content, dict) and content.get("membership") in ("leave", "ban")
