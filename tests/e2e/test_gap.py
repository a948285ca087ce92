"""More events than one sync returns arrive while the bot is down: none is lost."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from storage.db import session_scope
from storage.models import Meeting, OutboxMessage
from tests.e2e.conftest import World, bot_in_room, overleg_with_politie, until
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


async def test_commands_in_a_gap_are_handled_in_the_rooms_order(world: World) -> None:
    """The issue's outage: plan, 120 lines of chat, move, cancel while the bot is down. The
    sync returns the last 100 events; the plan in the gap must come first, so M1 ends
    cancelled, and the three answers are planned, moved, cancelled in that order."""
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    await world.stop_bot(bot)
    await chair.send(room, "!overleg plan 8-12-2026 14:00")
    for i in range(120):
        await chair.send(room, f"gewoon een bericht {i}")
    await chair.send(room, "!overleg move M1 9-12-2026 10:00")
    await chair.send(room, "!overleg cancel M1")
    app, _ = await world.start_bot()

    def templates() -> list[str]:
        with session_scope(app.engine) as s:
            return [r.template for r in s.exec(
                select(OutboxMessage).where(OutboxMessage.room_id == room,
                                            col(OutboxMessage.sent_at).is_not(None))
                .order_by(col(OutboxMessage.id)))]

    await until(lambda: len(templates()) >= 4, 60)  # the setup's answer and three more
    assert templates()[-3:] == ["meeting/planned", "meeting/moved", "meeting/cancelled"]
    with session_scope(app.engine) as s:
        meeting = s.exec(select(Meeting)).one()
        assert (meeting.number, meeting.status) == (1, "cancelled")


@pytest.mark.parametrize("what", ["cancel", "confirm"])
async def test_timers_wait_for_what_was_said_while_the_bot_was_down(
        world: World, what: str, caplog: pytest.LogCaptureFixture) -> None:
    """While the bot is down the chair cancels M1 (or Politie confirms), then 120 lines of
    chat; when the bot starts, the agenda (or the nudge) is due. The command must count
    first: no agenda for a cancelled meeting, no nudge for a partner who answered."""
    o = await overleg_with_politie(world, CASUSBOT_RATE_LIMIT="10000")
    bot = o.bot
    room, bot_id, chair, pol = o.room, o.bot_id, o.chair, o.pol
    code = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]  # type: ignore[index]
    await ask(chair, room, bot_id, "!overleg plan 10-12-2026 14:00")
    await ask(chair, room, bot_id, f"!agenda add M1 {code}")
    await world.stop_bot(bot)
    if what == "cancel":
        await chair.send(room, "!overleg cancel M1")
        world.clock.set(datetime(2026, 12, 7, 7, 0, tzinfo=UTC))  # the agenda is due
        expected = "meeting/cancelled"
    else:
        await pol.send(room, "!bevestig M1 ja")
        world.clock.set(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))  # the nudge is due
        expected = "agenda/confirmed"
    for i in range(120):
        await chair.send(room, f"gewoon een bericht {i}")
    app, bot = await world.start_bot(CASUSBOT_RATE_LIMIT="10000")

    def templates() -> list[str]:
        with session_scope(app.engine) as s:
            return [r.template for r in s.exec(select(OutboxMessage)
                                               .order_by(col(OutboxMessage.id)))]

    await until(lambda: expected in templates(), 90)
    assert expected in templates(), (templates(), [  # what the bot said, for a diagnosis
        r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")])
    await until(lambda: bot.waker.runs > 0, 4)  # the sweep after the catch-up
    await asyncio.sleep(1.0)
    assert bot.waker.runs >= 1
    sent = templates()
    if what == "cancel":
        assert "agenda/agenda" not in sent
    assert "agenda/nudge" not in sent  # (Politie's answer counted before the sweep)
