"""A busy overleg room on a real Synapse: a chair who types quickly, lists longer than one
event may be, a confirmation handled after the moment it was sent."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import Attendance, OutboxMessage, Partner
from tests.e2e.conftest import World, bot_in_room, overleg_with_politie, until
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e



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
    await until(lambda: len(chair.notices(bot_id, room)) - before >= 40)
    assert len(chair.notices(bot_id, room)) - before == 40  # one answer each
    with session_scope(app.engine) as s:
        names = {p.name for p in s.exec(select(Partner))}
    assert {f"Snel{i:02d}" for i in range(40)} <= names


async def test_a_confirmation_sent_before_the_start_counts_when_handled_after_it(
        world: World) -> None:
    """Politie confirms while the bot is down, before M1 starts; the bot comes back after
    the start. The confirmation counts: the event's own time decides, not the handling."""
    real = datetime.now(UTC).replace(second=0, microsecond=0)
    world.clock.set(real)  # the bot's clock follows the homeserver's here
    o = await overleg_with_politie(world)
    room, bot_id, chair, pol, politie = o.room, o.bot_id, o.chair, o.pol, o.politie
    start = real + timedelta(minutes=3)
    local = start.astimezone(ZoneInfo("Europe/Amsterdam"))
    await ask(chair, room, bot_id, f"!overleg plan {local:%d-%m-%Y %H:%M}", timeout=20)
    await world.stop_bot(o.bot)
    await pol.send(room, "!bevestig M1 ja")  # before the start
    world.clock.set(start + timedelta(minutes=10))  # handled after it
    app, _ = await world.start_bot()
    reply = await pol.wait_for(lambda s: s.sender == bot_id and s.room_id == room
                               and "M1" in s.body and "Politie" in s.body, timeout=30)
    with session_scope(app.engine) as s:
        [answer] = s.exec(select(Attendance)).all()
    assert (answer.user_id, answer.attends) == (politie.user_id, True)
    assert reply.body


async def test_an_action_list_over_the_size_limit_arrives_split_and_complete(
        world: World) -> None:
    """110 open actions with long descriptions, in an encrypted room (Megolm makes an
    event a third larger): `!actie lijst` arrives as several messages, each accepted by
    Synapse, holding every action once."""
    app, bot = await world.start_bot(CASUSBOT_RATE_LIMIT="10000")
    room = world.room(world.chair, [world.bot_user], encrypted=True)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg", timeout=20)
    await ask(chair, room, bot_id, "!partner add Politie core")
    code = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]  # type: ignore[index]
    words = ("terugkoppeling", "overleg", "afstemmen", "zorgaanbieder", "huisbezoek",
             "evaluatie", "opvolging", "signaal")
    for i in range(110):
        text = " ".join(words[(i + k) % len(words)] for k in range(40))[:290]
        await chair.send(room, f"!actie add {code} Politie 15-1-2027 {text}")
    await until(lambda: sum("A110" in s.body for s in chair.notices(bot_id, room)) >= 1)
    mark = len(chair.seen)
    await chair.send(room, "!actie lijst")

    def parts() -> list[Any]:
        return [s for s in chair.notices(bot_id, room) if chair.seen.index(s) >= mark]

    def listed() -> list[int]:
        return [int(n) for s in parts() for n in re.findall(r"(?<![\w-])A(\d+)(?!\w)", s.body)]

    await until(lambda: len(listed()) >= 110)
    assert len(parts()) >= 2
    assert sorted(listed()) == list(range(1, 111)) and len(listed()) == 110
    with session_scope(app.engine) as s:  # nothing was given up
        assert not [r for r in s.exec(select(OutboxMessage))
                    if (r.last_error or "").startswith("gave up")]
