"""More events than one sync returns arrive while the bot is down: none is lost."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def test_a_gap_longer_than_the_sync_limit_is_backfilled(world: World) -> None:
    _, bot = await world.start_bot(CASUSBOT_RATE_LIMIT="10000")
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    await world.stop_bot(bot)
    for i in range(250):  # far beyond the 100 events a sync returns per room
        await chair.send(room, f"!partner add Gap{i:03d} core")
    await world.start_bot(CASUSBOT_RATE_LIMIT="10000")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while loop.time() < deadline:
        got = {m[1] for s in chair.notices(bot_id, room) if (m := re.search(r"Gap(\d{3})", s.body))}
        if len(got) == 250:
            break
        await asyncio.sleep(0.5)
    assert len(got) == 250, sorted(set(f"{i:03d}" for i in range(250)) - got)[:10]
