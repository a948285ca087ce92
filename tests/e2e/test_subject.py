"""A data subject's erasure (issue 24) reaches the chair on a real Synapse: the administrator's
``casusbot case erase`` writes the notice beside the running bot, which sends it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot.cli import main
from commands import casefile
from storage.db import session_scope
from storage.models import OutboxMessage
from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def test_the_chair_is_told_of_an_erasure_in_the_room(world: World, tmp_path: Path) -> None:
    app, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    shown = re.findall(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]
    env = tmp_path / "admin.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in world.env().items()))
    mark = len(chair.seen)
    done = await asyncio.to_thread(CliRunner().invoke, main, [
        "case", "erase", shown, "--reason", "request", "--yes", "--env-file", str(env)])
    assert done.exit_code == 0, done.output
    bot.deliverer.poke()  # (else its heartbeat finds the row within 30 seconds)
    told = await chair.wait_for(lambda s: s.sender == bot_id and s.room_id == room
                                and shown in s.body, 20, after=mark)
    assert told.html and world.chair.user_id in told.html  # the chair is mentioned
    with session_scope(app.engine) as session:
        assert casefile.find(session, shown) is None
        [row] = session.exec(select(OutboxMessage).where(
            OutboxMessage.template == "case/erased")).all()
        assert row.remote_id == told.event_id and row.mentions == world.chair.user_id
