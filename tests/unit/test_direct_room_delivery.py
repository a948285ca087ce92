"""A message to a person's direct room after a restart (bot/matrix/sending.py, issue 22):
the sync loads members lazily, so the client may not list a person who joined the direct
room long before; the membership is read from the homeserver instead of waiting forever."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from nio import (
    JoinedMembersResponse,
    MatrixRoom,
    RoomGetStateEventResponse,
    RoomMember,
    RoomSendResponse,
)
from nio.client.base_client import Client
from sqlmodel import select

from bot.clock import FakeClock
from bot.deliver import Deliverer
from bot.matrix.sending import Sending
from bot.timing import OwnWork
from storage import outbox
from storage.db import session_scope
from storage.models import OutboxMessage
from storage.outbox import Rendered
from tests.unit.apps import throwaway_app
from tests.unit.conftest import NOW

BOT, PERSON, DM = "@bot:localhost", "@admin:localhost", "!dm:localhost"


class _Homeserver:
    """The direct room as the homeserver knows it (the person joined before the restart,
    encrypted) and as the client knows it after the restart: from a lazy-loading sync
    (only the bot listed), or not at all (quiet since the saved sync token)."""

    def __init__(self, *, known: bool) -> None:
        self.rooms: dict[str, MatrixRoom] = {}
        if known:
            self.rooms[DM] = MatrixRoom(DM, BOT, encrypted=True)
            self.rooms[DM].add_member(BOT, None, None)
        self.encrypted_rooms = {DM}  # (nio's store keeps which rooms are encrypted)
        self.olm = None
        self.user_id = BOT
        self.sent: list[tuple[str, bool]] = []

    async def room_get_state_event(self, room_id: str, kind: str) -> object:
        return RoomGetStateEventResponse({"algorithm": "m.megolm.v1.aes-sha2"}, kind, "",
                                         room_id)

    async def joined_members(self, room_id: str) -> JoinedMembersResponse:
        resp = JoinedMembersResponse([RoomMember(BOT, None, None),
                                      RoomMember(PERSON, None, None)], room_id)
        Client._handle_joined_members(self, resp)  # type: ignore[arg-type]  # (nio's own)
        return resp

    async def room_send(self, room_id: str, *_: object, **__: object) -> RoomSendResponse:
        self.sent.append((room_id, self.rooms[room_id].encrypted))
        return RoomSendResponse("$sent", room_id)


@pytest.mark.parametrize("known", [True, False], ids=["members_lazy", "room_unknown"])
async def test_a_direct_message_after_a_restart_reaches_a_person_who_joined_before(
        tmp_path: Path, known: bool) -> None:
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.save_direct_room(PERSON, DM)
    app.record_join(DM, NOW - timedelta(days=1))
    client = _Homeserver(known=known)

    class Transport(Sending):
        def __init__(self) -> None:
            self.client = client  # type: ignore[assignment]
            self.app, self.db = app, deliverer.db
            self.ready, self.own_work = asyncio.Event(), OwnWork()
            self.ready.set()

        async def _limit_key_sharing(self, room_id: str) -> None:
            return None

        async def _withhold(self, room_id: str, before: str | None) -> None:
            return None

    deliverer = Deliverer(app.engine, None)  # type: ignore[arg-type]
    deliverer.sender = Transport()
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered(room_id=PERSON, body="emoji", html=None,
                                    template="verification/compare")], NOW)
    await deliverer.run_once()
    with session_scope(app.engine) as s:
        [row] = s.exec(select(OutboxMessage)).all()
        assert (row.remote_id, row.last_error) == ("$sent", None)
    assert client.sent == [(DM, True)]  # (encrypted, as the room is)


async def test_a_person_who_left_their_direct_room_gets_a_new_one(tmp_path: Path) -> None:
    """The person left the direct room (Element's "Leave"): it is forgotten and the next
    attempt opens a new one and invites them, instead of waiting for them for ever (found
    by a breaking try-out: an administrator could never verify the bot again)."""
    from nio import RoomCreateResponse

    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.save_direct_room(PERSON, DM)
    app.record_join(DM, NOW - timedelta(days=1))

    class Left(_Homeserver):
        def __init__(self) -> None:
            super().__init__(known=True)
            self.created: list[list[str]] = []
            self.left: list[str] = []

        async def joined_members(self, room_id: str) -> JoinedMembersResponse:
            resp = JoinedMembersResponse([RoomMember(BOT, None, None)], room_id)
            Client._handle_joined_members(self, resp)  # type: ignore[arg-type]
            return resp

        async def room_get_state_event(self, room_id: str, kind: str,  # type: ignore[override]
                                       state_key: str = "") -> object:
            content = {"membership": "leave"} if kind == "m.room.member" \
                else {"algorithm": "m.megolm.v1.aes-sha2"}
            return RoomGetStateEventResponse(content, kind, state_key, room_id)

        async def room_leave(self, room_id: str) -> None:
            self.left.append(room_id)

        async def room_create(self, **kwargs: object) -> RoomCreateResponse:
            self.created.append(list(kwargs["invite"]))  # type: ignore[call-overload]
            return RoomCreateResponse("!new:localhost")

    client = Left()

    class Transport(Sending):
        def __init__(self) -> None:
            self.client = client  # type: ignore[assignment]
            self.app, self.db = app, Deliverer(app.engine, None).db  # type: ignore[arg-type]
            self.ready, self.own_work = asyncio.Event(), OwnWork()

        async def _know_room(self, room_id: str) -> MatrixRoom | None:
            return client.rooms.get(room_id)

    transport = Transport()
    first = await transport._direct_room(PERSON)
    assert not isinstance(first, str) and "left" in (first.error or "")
    assert app.direct_room(PERSON) is None and client.left == [DM]
    await transport._direct_room(PERSON)  # the retry: a new room, the person invited
    assert client.created == [[PERSON]] and app.direct_room(PERSON) == "!new:localhost"
