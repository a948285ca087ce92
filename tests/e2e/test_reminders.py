"""Timed work on a real Synapse: the fake clock moves, the real bot reminds real users."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def test_an_overdue_action_reaches_the_coordinator(world: World) -> None:
    _, bot = await world.start_bot()
    coordinator = world.user("coordinator")
    room = world.room(world.chair, [world.bot_user, coordinator])
    world.join(coordinator, room)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    coord = await world.client(coordinator)
    bot_id = world.bot_user.user_id

    await ask(chair, room, bot_id, "!setup Overleg")
    await ask(chair, room, bot_id, "!partner add Gemeente core")
    await ask(chair, room, bot_id, "!partner add Politie core")
    await ask(chair, room, bot_id, f"!lid add {coordinator.user_id} Gemeente coordinator")
    code = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]  # type: ignore[index]
    added = await ask(chair, room, bot_id, f"!actie add {code} Politie 2-12-2026 Huisbezoek")
    assert "A1" in added

    # Two days later, 09:00 local on Thursday 3 December: the first overdue reminder is due.
    mark = len(coord.seen)
    world.clock.advance(timedelta(days=2))
    bot.waker.poke()
    reminder = await coord.wait_for(lambda s: s.sender == bot_id and s.room_id == room
                                    and "te laat" in s.body, 20, after=mark)
    assert "A1" in reminder.body and "1 werkdag te laat" in reminder.body
    assert coordinator.user_id in (reminder.html or "")

    # The coordinator's daily digest comes by direct message, in an encrypted DM room.
    world.clock.advance(timedelta(days=1))  # Friday 08:00 UTC, past the 08:30 local digest
    bot.waker.poke()
    digest = await coord.wait_for(lambda s: s.sender == bot_id and "Dagoverzicht" in s.body,
                                  30, after=mark)
    assert digest.room_id != room and "A1" in digest.body
    assert coord.client.rooms[digest.room_id].encrypted
