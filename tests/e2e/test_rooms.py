"""The room changes under the bot, end to end on Synapse (issue 19): kicked from an
encrypted overleg room and invited again, with a reminder due in between."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from storage import inbound as inbound_store
from storage.db import session_scope
from storage.models import Meeting, OutboxMessage
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
                             if r.sent_at]) >= 2, 30)
    await asyncio.sleep(3)  # nothing more comes: one notice per person, one reminder
    told = _rows(app.engine, "room/away_undecryptable")
    assert sorted(r.mentions for r in told) == sorted([world.chair.user_id,
                                                       o.politie.user_id])
    assert all(r.sent_at is not None for r in told)
    [reminder] = _rows(app.engine, "action/overdue")
    assert reminder.sent_at is not None and reminder.room_id == room
    assert _rows(app.engine, "error/undecryptable") == []
    with session_scope(app.engine) as s:
        assert s.exec(select(Meeting)).all() == []  # nothing said meanwhile carried out
    # Back in the room, a command is carried out again.
    assert "M1" in await ask(chair, room, bot_id, "!overleg plan 15-12-2026 14:00", 20)
