"""A busy overleg room on a real Synapse: a chair who types quickly, lists longer than one
event may be, a confirmation handled after the moment it was sent."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import Partner
from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def _until(check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check() and loop.time() < deadline:
        await asyncio.sleep(0.3)


async def test_forty_commands_in_twenty_seconds_are_each_carried_out(world: World) -> None:
    app, bot = await world.start_bot()  # the default rate limit, as deployed
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    before = len(chair.notices(bot_id, room))
    for i in range(40):
        await chair.send(room, f"!partner add Snel{i:02d} core")
        await asyncio.sleep(0.5)
    await _until(lambda: len(chair.notices(bot_id, room)) - before >= 40)
    assert len(chair.notices(bot_id, room)) - before == 40  # one answer each
    with session_scope(app.engine) as s:
        names = {p.name for p in s.exec(select(Partner))}
    assert {f"Snel{i:02d}" for i in range(40)} <= names
