"""Synapse stopped for 12 s of wall time: what fell due meanwhile is delivered afterwards,
once each, in order per room."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def test_everything_queued_during_a_homeserver_outage_arrives_in_order(
        world: World) -> None:
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    for line in ("!setup Overleg", "!partner add Politie core",
                 f"!lid add {world.chair.user_id} Politie chair"):
        await ask(chair, room, bot_id, line)
    code = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]  # type: ignore[index]
    for i in range(5):
        await ask(chair, room, bot_id, f"!actie add {code} Politie 2-12-2026 Stap {i}")

    world.synapse.stop()
    try:
        world.clock.advance(timedelta(days=2))  # Thursday 09:00: five reminders fall due
        bot.waker.poke()
        # Wall time, independent of the fake clock: the sync and the first sends fail (the
        # connections are refused) and their retries back off.
        await asyncio.sleep(12)
        assert bot.deliverer.failures >= 2
    finally:
        world.synapse.start()

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        steps = [int(m[1]) for s in chair.notices(bot_id, room)
                 if (m := re.search(r"Stap (\d)\. ", s.body)) and "te laat" in s.body]
        if len(steps) >= 5:
            break
        await asyncio.sleep(0.5)
    assert steps == [0, 1, 2, 3, 4]  # each once, in the order they were queued
