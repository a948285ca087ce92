"""Presence at a meeting on a real Synapse (issue 24): the question goes out at the start
(the fake clock moves), a ✅ reaction on it confirms, ``!presentie`` lists it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.conftest import World, overleg_with_politie
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def test_the_start_asks_and_a_reaction_confirms(world: World) -> None:
    o = await overleg_with_politie(world)
    await ask(o.chair, o.room, o.bot_id, "!overleg plan 1-12-2026 14:00")

    # 14:00 in Amsterdam (the clock starts at 09:00 there): every member is asked.
    mark = len(o.pol.seen)
    world.clock.advance(timedelta(hours=5))
    o.bot.waker.poke()
    question = await o.pol.wait_for(lambda s: s.sender == o.bot_id and s.room_id == o.room
                                    and "aanwezig M1" in s.body, 20, after=mark)
    assert o.politie.user_id in (question.html or "")
    assert "geheimhouding" in question.body

    mark = len(o.pol.seen)
    await o.pol.react(o.room, question.event_id, "✅")
    reply = await o.pol.wait_for(lambda s: s.sender == o.bot_id and s.room_id == o.room
                                 and "Genoteerd" in s.body, 15, after=mark)
    assert "(Politie)" in reply.body and "via reactie" in reply.body
    listed = await ask(o.chair, o.room, o.bot_id, "!presentie M1")
    assert f"{o.politie.user_id}: bevestigd" in listed and "1 van 2 bevestigd" in listed
