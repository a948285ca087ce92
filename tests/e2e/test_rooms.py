"""The room changes under the bot, end to end on Synapse (issue 19): kicked from an
encrypted overleg room and invited again, with a reminder due in between; the overleg's
room upgraded."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlmodel import col, select

from bot import devserver
from storage import inbound as inbound_store
from storage.db import session_scope
from storage.models import Meeting, OutboxMessage, Overleg
from tests.e2e.conftest import World, overleg_with_politie, until
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


def _rows(engine, template: str) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        rows = list(s.exec(select(OutboxMessage).where(OutboxMessage.template == template)))
        s.expunge_all()
    return rows


def _away(engine) -> set[str]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return inbound_store.away_rooms(s)


async def test_kicked_and_invited_again_with_a_reminder_due_in_between(world: World) -> None:
    o = await overleg_with_politie(world, encrypted=True)
    app, bot, room, bot_id, chair, pol = o.app, o.bot, o.room, o.bot_id, o.chair, o.pol
    code = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open", 20))[0]  # type: ignore[index]
    assert "A1" in await ask(chair, room, bot_id,
                             f"!actie add {code} Politie 2-12-2026 Huisbezoek", 20)

    await chair.client.room_kick(room, bot_id)
    await until(lambda: room in _away(app.engine), 20)
    assert room in _away(app.engine)
    # Said while the bot is out (encrypted for the members then: the bot gets no key).
    await chair.send(room, "!overleg plan 15-12-2026 14:00")
    await chair.send(room, "!overleg plan 16-12-2026 14:00")
    await pol.send(room, "!bevestig M1 ja")
    await pol.send(room, "Tot dinsdag")
    # A1 falls overdue meanwhile: the reminder waits for the bot's return.
    world.clock.advance(timedelta(days=2, hours=3))
    bot.waker.poke()
    await asyncio.sleep(2)
    assert _rows(app.engine, "action/overdue") == []

    mark = len(chair.seen)
    await chair.client.room_invite(room, bot_id)
    await until(lambda: room not in _away(app.engine), 30)
    late = await chair.wait_for(lambda s: s.sender == bot_id and s.room_id == room
                                and "A1" in s.body and "te laat" in s.body, 30, after=mark)
    assert late.body
    await until(lambda: len([r for r in _rows(app.engine, "room/away_undecryptable")
                             if r.sent_at]) >= 1, 30)
    await asyncio.sleep(3)  # nothing more comes: one notice per person, one reminder
    # The chair is told once (nothing of that time was read); Politie once for its two.
    [chair_told] = _rows(app.engine, "room/away_commands")
    [told] = _rows(app.engine, "room/away_undecryptable")
    assert (chair_told.mentions, told.mentions) == (world.chair.user_id, o.politie.user_id)
    assert chair_told.sent_at is not None and told.sent_at is not None
    [reminder] = _rows(app.engine, "action/overdue")
    assert reminder.sent_at is not None and reminder.room_id == room
    assert _rows(app.engine, "error/undecryptable") == []
    with session_scope(app.engine) as s:
        assert s.exec(select(Meeting)).all() == []  # nothing said meanwhile carried out
    # Back in the room, a command is carried out again.
    assert "M1" in await ask(chair, room, bot_id, "!overleg plan 15-12-2026 14:00", 20)


async def test_an_upgraded_room_takes_the_overleg_along(world: World) -> None:
    o = await overleg_with_politie(world)
    app, bot, room, bot_id, chair = o.app, o.bot, o.room, o.bot_id, o.chair
    code = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open", 20))[0]  # type: ignore[index]
    assert "A1" in await ask(chair, room, bot_id,
                             f"!actie add {code} Politie 2-12-2026 Huisbezoek", 20)
    with session_scope(app.engine) as s:
        [overleg_id] = [o.id for o in s.exec(select(Overleg))]

    # The chair upgrades the room (as Element's "Upgrade this room" does); the new room is
    # invite-only like the old one, so the bot can join it only when invited.
    token = world.synapse.login(world.chair.user_id.split(":")[0][1:],
                                world.chair.password)["access_token"]
    new_room = devserver.request(world.synapse.url, "POST",
                                 f"/_matrix/client/v3/rooms/{quote(room)}/upgrade",
                                 {"new_version": "11"}, token=token)["replacement_room"]
    await until(lambda: app.awaits_room(new_room), 20)
    assert app.awaits_room(new_room)
    # Not invited yet: the bot cannot join, and asks the chair (by DM) to invite it.
    asked = await chair.wait_for(lambda s: s.sender == bot_id and s.room_id != room
                                 and new_room in s.body, 30)
    assert asked.room_id != new_room
    mark_old = len(chair.seen)
    devserver.request(world.synapse.url, "POST",
                      f"/_matrix/client/v3/rooms/{quote(new_room)}/invite",
                      {"user_id": bot_id}, token=token)
    moved = await chair.wait_for(lambda s: s.sender == bot_id and s.room_id == new_room,
                                 30)
    assert world.chair.user_id in (moved.html or moved.body)
    with session_scope(app.engine) as s:
        [overleg] = s.exec(select(Overleg)).all()  # the same overleg, no second one
    assert (overleg.id, overleg.room_id) == (overleg_id, new_room)
    assert [r.room_id for r in _rows(app.engine, "room/moved")] == [new_room]

    # Commands work in the new room; the old room is no longer answered.
    assert "A1" in await ask(chair, new_room, bot_id, "!actie lijst", 20)
    await chair.send(room, "!overleg lijst")
    # The reminder of A1 (overdue on 3 December) comes in the new room.
    world.clock.advance(timedelta(days=2, hours=3))
    bot.waker.poke()
    late = await chair.wait_for(lambda s: s.sender == bot_id and "te laat" in s.body, 30,
                                after=mark_old)
    assert late.room_id == new_room
    assert [s for s in chair.seen[mark_old:] if s.sender == bot_id and s.room_id == room] \
        == []
    with session_scope(app.engine) as s:  # nothing waits for the old room either
        assert s.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None),
                                                  OutboxMessage.room_id == room)).all() == []


async def test_a_room_upgraded_with_its_members_invited_takes_the_overleg_along(
        world: World) -> None:
    """Element's upgrade can invite the members at once: the bot may join the new room
    before it reads the tombstone, in the same sync or the next."""
    o = await overleg_with_politie(world)
    app, room, bot_id, chair = o.app, o.room, o.bot_id, o.chair
    token = world.synapse.login(world.chair.user_id.split(":")[0][1:],
                                world.chair.password)["access_token"]
    new_room = devserver.request(world.synapse.url, "POST",
                                 f"/_matrix/client/v3/rooms/{quote(room)}/upgrade",
                                 {"new_version": "11"}, token=token)["replacement_room"]
    for user in (bot_id, o.politie.user_id):
        devserver.request(world.synapse.url, "POST",
                          f"/_matrix/client/v3/rooms/{quote(new_room)}/invite",
                          {"user_id": user}, token=token)
    moved = await chair.wait_for(lambda s: s.sender == bot_id and s.room_id == new_room,
                                 30)
    assert world.chair.user_id in (moved.html or moved.body)
    assert "M1" in await ask(chair, new_room, bot_id, "!overleg plan 15-12-2026 14:00", 20)
    with session_scope(app.engine) as s:
        [overleg] = s.exec(select(Overleg)).all()
        assert overleg.room_id == new_room
        assert s.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
                      ).all() == []
        assert [r.last_error for r in s.exec(select(OutboxMessage))
                if r.last_error and r.last_error.startswith("gave up")] == []
