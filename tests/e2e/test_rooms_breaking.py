"""Room changes under the bot, tried to break (issue 19): an upgraded room upgraded again,
a second upgrade of a room already replaced, a ban instead of a kick, a kick while a reply
is on its way."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest
from sqlmodel import col, select

from bot import devserver
from storage.db import session_scope
from storage.models import Meeting, OutboxMessage, Overleg
from tests.e2e.conftest import World, overleg_with_politie, until
from tests.e2e.test_rooms import _away, _rows
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


def _token(world: World) -> str:
    return str(world.synapse.login(world.chair.user_id.split(":")[0][1:],
                                   world.chair.password)["access_token"])


def _upgrade(world: World, room: str, token: str, version: str = "11") -> dict:  # type: ignore[type-arg]
    return devserver.request(world.synapse.url, "POST",
                             f"/_matrix/client/v3/rooms/{quote(room)}/upgrade",
                             {"new_version": version}, token=token)


def _invite(world: World, room: str, user: str, token: str) -> None:
    devserver.request(world.synapse.url, "POST",
                      f"/_matrix/client/v3/rooms/{quote(room)}/invite", {"user_id": user},
                      token=token)


def _room_of_overleg(app) -> str:  # type: ignore[no-untyped-def]
    with session_scope(app.engine) as s:
        return str(s.exec(select(Overleg)).one().room_id)


async def test_an_upgraded_room_upgraded_again_takes_the_overleg_along(world: World) -> None:
    o = await overleg_with_politie(world)
    app, room, bot_id, chair = o.app, o.room, o.bot_id, o.chair
    token = _token(world)
    second = _upgrade(world, room, token, "12")["replacement_room"]
    _invite(world, second, bot_id, token)
    await until(lambda: _room_of_overleg(app) == second, 30)
    assert _room_of_overleg(app) == second
    third = _upgrade(world, second, token, "12")["replacement_room"]
    _invite(world, third, bot_id, token)
    await until(lambda: _room_of_overleg(app) == third, 30)
    assert _room_of_overleg(app) == third
    await chair.wait_for(lambda m: m.sender == bot_id and m.room_id == third, 30)
    assert "M1" in await ask(chair, third, bot_id, "!overleg plan 15-12-2026 14:00", 20)
    # One notice per room at most; the last in the newest room (a notice for the second
    # room that had not gone out yet is replaced by the newer one, not sent twice there).
    moved = [r.room_id for r in _rows(app.engine, "room/moved")]
    assert moved in ([second, third], [third])
    with session_scope(app.engine) as s:
        assert s.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
                      ).all() == []


async def test_a_replaced_room_upgraded_a_second_time_changes_nothing(world: World) -> None:
    """Synapse answers a second upgrade of a replaced room with the room that replaced it
    (no second tombstone): the overleg stays where it moved, and works there."""
    o = await overleg_with_politie(world)
    app, room, bot_id, chair = o.app, o.room, o.bot_id, o.chair
    token = _token(world)
    second = _upgrade(world, room, token)["replacement_room"]
    _invite(world, second, bot_id, token)
    await until(lambda: _room_of_overleg(app) == second, 30)
    await chair.wait_for(lambda m: m.sender == bot_id and m.room_id == second, 30)
    assert _upgrade(world, room, token, "10")["replacement_room"] == second
    await asyncio.sleep(2)
    assert _room_of_overleg(app) == second
    assert "M1" in await ask(chair, second, bot_id, "!overleg plan 15-12-2026 14:00", 20)
    assert len(_rows(app.engine, "room/moved")) == 1


async def test_a_ban_then_unban_and_invite(world: World) -> None:
    o = await overleg_with_politie(world)
    app, room, bot_id, chair = o.app, o.room, o.bot_id, o.chair
    await chair.client.room_ban(room, bot_id, "test")
    await until(lambda: room in _away(app.engine), 20)
    assert room in _away(app.engine)
    await chair.send(room, "!overleg plan 15-12-2026 14:00")
    await asyncio.sleep(2)
    await chair.client.room_unban(room, bot_id)
    await asyncio.sleep(2)
    assert room in _away(app.engine)  # unbanned is not back: nothing is read or sent yet
    await chair.client.room_invite(room, bot_id)
    await until(lambda: room not in _away(app.engine), 30)
    assert room not in _away(app.engine)
    assert "M1" in await ask(chair, room, bot_id, "!overleg plan 15-12-2026 14:00", 20)
    # The command sent while banned was not carried out late; the chair was told once.
    assert len(_rows(app.engine, "room/away_commands")) == 1
    with session_scope(app.engine) as s:
        assert [m.number for m in s.exec(select(Meeting))] == [1]


async def test_a_kick_while_a_reply_is_on_its_way(world: World) -> None:
    """The command was read before the kick: its reply is kept while the bot is out and
    sent when it is back, once; it is not given up."""
    o = await overleg_with_politie(world)
    app, room, bot_id, chair = o.app, o.room, o.bot_id, o.chair
    await chair.send(room, "!overleg plan 15-12-2026 14:00")
    await chair.client.room_kick(room, bot_id)
    await until(lambda: room in _away(app.engine), 20)
    await asyncio.sleep(3)
    with session_scope(app.engine) as s:
        assert s.exec(select(OutboxMessage).where(
            OutboxMessage.template == "meeting/planned")).one() is not None
    await chair.client.room_invite(room, bot_id)
    await until(lambda: room not in _away(app.engine), 30)
    await asyncio.sleep(3)
    with session_scope(app.engine) as s:
        rows = list(s.exec(select(OutboxMessage)))
        unsent = s.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))).all()
        s.expunge_all()
    assert unsent == []
    [reply] = [r for r in rows if r.template == "meeting/planned"]
    assert reply.sent_at is not None and reply.room_id == room
    assert [r for r in rows if r.last_error and r.last_error.startswith("gave up")] == []


async def test_a_tombstone_from_someone_without_power_is_refused_by_the_homeserver(
        world: World) -> None:
    """Politie (power 0) cannot upgrade or tombstone the overleg's room: Synapse refuses
    it, and the overleg stays (the bot's own check of the room's state is the second
    guard, for a server that would let it through: tests/unit/test_room_changes.py)."""
    o = await overleg_with_politie(world)
    app = o.app
    token = str(world.synapse.login(o.politie.user_id.split(":")[0][1:],
                                    o.politie.password)["access_token"])
    with pytest.raises(devserver.HTTPError, match="403"):
        devserver.request(world.synapse.url, "PUT",
                          f"/_matrix/client/v3/rooms/{quote(o.room)}/state/m.room.tombstone/",
                          {"body": "moved", "replacement_room": "!elsewhere:localhost"},
                          token=token)
    with pytest.raises(devserver.HTTPError, match="403"):
        _upgrade(world, o.room, token)
    await asyncio.sleep(1)
    assert _room_of_overleg(app) == o.room and not app.awaits_room("!elsewhere:localhost")


async def test_invited_late_into_a_replacement_room_that_was_itself_replaced(
        world: World) -> None:
    """A upgraded to B (the bot not invited), B upgraded to C, then the bot invited to B:
    it must not stay in B, a dead room."""
    o = await overleg_with_politie(world)
    app, room, bot_id = o.app, o.room, o.bot_id
    token = _token(world)
    second = _upgrade(world, room, token, "12")["replacement_room"]
    await until(lambda: app.awaits_room(second), 20)
    third = _upgrade(world, second, token, "12")["replacement_room"]
    _invite(world, second, bot_id, token)
    # B's tombstone (sent before the bot joined B) passes the overleg on: the chair is
    # asked to invite the bot into C.
    await until(lambda: app.awaits_room(third), 30)
    assert app.awaits_room(third)
    await until(lambda: len(_rows(app.engine, "room/invite_needed")) >= 2, 30)
    assert [third in r.body for r in _rows(app.engine, "room/invite_needed")] == [
        False, True]
    _invite(world, third, bot_id, token)
    await until(lambda: _room_of_overleg(app) == third, 30)
    assert _room_of_overleg(app) == third
    await o.chair.wait_for(lambda m: m.sender == bot_id and m.room_id == third, 30)
    assert "M1" in await ask(o.chair, third, bot_id, "!overleg plan 15-12-2026 14:00", 20)
    # (The bot's join of B is seen before B's tombstone is read, so B may have had the
    # notice of the first move; the last one is in C.)
    assert [r.room_id for r in _rows(app.engine, "room/moved")][-1] == third


async def test_invited_into_the_replacement_room_while_down_with_much_said_there(
        world: World) -> None:
    """The bot's own join is read from a newly joined room's state section (its own events
    are not in its sync's timeline). With more than a timeline's events between its invite
    and its join, Synapse may hand it the invite there instead: the join is then read from
    the room's state (found by a breaking try-out; without that, about one run in two left
    the overleg in the replaced room)."""
    import uuid

    o = await overleg_with_politie(world)
    app, bot, room, bot_id = o.app, o.bot, o.room, o.bot_id
    token = _token(world)
    new_room = _upgrade(world, room, token)["replacement_room"]
    await until(lambda: app.awaits_room(new_room), 20)
    assert app.awaits_room(new_room)
    await asyncio.sleep(2)  # the join attempt failed (not invited); the chair was asked
    await world.stop_bot(bot)
    # While the bot is down: the chair invites it into the new room, and the room is busy.
    _invite(world, new_room, bot_id, token)
    for i in range(110):
        devserver.request(world.synapse.url, "PUT",
                          f"/_matrix/client/v3/rooms/{quote(new_room)}/send/m.room.message/"
                          f"{uuid.uuid4().hex}", {"msgtype": "m.text", "body": f"bericht {i}"},
                          token=token)
    app2, _bot2 = await world.start_bot()
    await until(lambda: _room_of_overleg(app2) == new_room, 40)
    assert _room_of_overleg(app2) == new_room
