"""Agendas on a real Synapse: answers by reaction and by poll; externals see only their case."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def test_answers_by_reaction_and_poll_and_an_external_dm(world: World) -> None:
    _, bot = await world.start_bot()
    politie = world.user("politie")
    jeugd = world.user("jeugdzorg")
    room = world.room(world.chair, [world.bot_user, politie, jeugd], encrypted=True)
    world.join(politie, room)
    world.join(jeugd, room)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    pol = await world.client(politie)
    jz = await world.client(jeugd)
    bot_id = world.bot_user.user_id

    for line in ("!setup Overleg", "!annex add Jeugdzorg door burgemeester Teststad",
                 "!partner add Politie core", "!partner add Jeugdzorg",
                 f"!lid add {politie.user_id} Politie", f"!lid add {jeugd.user_id} Jeugdzorg",
                 "!overleg plan 15-12-2026 14:00 op Stadhuis"):
        await ask(chair, room, bot_id, line, timeout=20)
    a = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]  # type: ignore[index]
    b = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]  # type: ignore[index]
    await ask(chair, room, bot_id, f"!casus partner {b} add Jeugdzorg")
    await ask(chair, room, bot_id, f"!agenda add M1 {a}")
    await ask(chair, room, bot_id, f"!agenda add M1 {b}")
    await chair.send(room, "!agenda send M1")

    # Politie (core) sees the whole agenda in the room, with a poll and an .ics file.
    agenda = await pol.wait_for(lambda s: s.sender == bot_id and s.room_id == room
                                and s.body.startswith("Agenda"), timeout=20)
    assert a in agenda.body and b in agenda.body
    poll = await pol.wait_for(lambda s: s.room_id == room and s.msgtype == "m.poll.start")
    await pol.wait_for(lambda s: s.room_id == room and s.msgtype == "m.file")

    # Jeugdzorg (external) gets a DM with only case B (the test client accepts the invite).
    dm = await jz.wait_for(lambda s: s.sender == bot_id and s.room_id != room
                           and s.body.startswith("Agenda"), timeout=30)
    assert b in dm.body and a not in dm.body
    assert jz.client.rooms[dm.room_id].encrypted

    # Politie answers with a ✅ reaction on the room agenda.
    mark = len(pol.seen)
    await pol.react(room, agenda.event_id, "✅")
    # (Wait for the answer by its content: a notice sent before the reaction may still
    # be on its way to this client.)
    reply = await pol.wait_for(lambda s: s.sender == bot_id and s.room_id == room
                               and "via reactie" in s.body, 15, after=mark)
    assert "Politie komt naar overleg M1 (via reactie)" in reply.body

    # Jeugdzorg votes "no" in the poll of its DM.
    dm_poll = await jz.wait_for(lambda s: s.room_id == dm.room_id
                                and s.msgtype == "m.poll.start", timeout=20)
    mark = len(jz.seen)
    await jz.vote(dm.room_id, dm_poll.event_id, "no")
    reply = await jz.wait_for(lambda s: s.sender == bot_id and s.room_id == dm.room_id
                              and "komt niet" in s.body, 15, after=mark)
    assert "Jeugdzorg komt niet" in reply.body

    status = await ask(chair, room, bot_id, "!status M1")
    assert f"Politie: bevestigd ({politie.user_id}" in status
    assert f"Jeugdzorg: afgemeld ({jeugd.user_id}" in status
    assert "kernpartners compleet" in status
    assert poll.event_id

    # Removing the reaction withdraws Politie's answer.
    reaction = await _my_reaction(pol, room)
    mark = len(pol.seen)
    await pol.redact(room, reaction)
    reply = await pol.wait_for(lambda s: s.sender == bot_id and s.room_id == room
                               and "ingetrokken" in s.body, 15, after=mark)
    assert "Politie" in reply.body
    assert "Politie: geen antwoord" in await ask(chair, room, bot_id, "!status M1")


async def _my_reaction(client, room: str) -> str:  # type: ignore[no-untyped-def]
    from nio import RoomMessagesResponse

    resp = await client.client.room_messages(room, client.client.next_batch, limit=50)
    assert isinstance(resp, RoomMessagesResponse)
    for ev in resp.chunk:
        if getattr(ev, "key", None) == "✅" and ev.sender == client.client.user_id:
            return str(ev.event_id)
    raise AssertionError("reaction not found")


async def test_an_external_partner_not_on_annex_1_cannot_be_linked(world: World) -> None:
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    refused = await ask(chair, room, bot_id, "!partner add Stichting Buiten")
    assert "niet op bijlage 1" in refused
    code = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]  # type: ignore[index]
    unknown = await ask(chair, room, bot_id, f"!casus partner {code} add Stichting Buiten")
    assert "ken ik niet" in unknown
    await ask(chair, room, bot_id, "!annex add Stichting Buiten door burgemeester Teststad")
    await ask(chair, room, bot_id, "!partner add Stichting Buiten")
    linked = await ask(chair, room, bot_id, f"!casus partner {code} add Stichting Buiten")
    assert "gekoppeld" in linked


async def test_a_spoiled_poll_vote_removes_the_answer(world: World) -> None:
    """MSC3381 on Synapse: a vote in the stable form counts; the voter's later spoiled vote
    (an empty selection, as Element sends to remove a vote) leaves no answer, not the
    earlier one, and the voter is told."""
    _, bot = await world.start_bot()
    jeugd = world.user("jeugdzorg")
    room = world.room(world.chair, [world.bot_user, jeugd], encrypted=True)
    world.join(jeugd, room)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    jz = await world.client(jeugd)
    bot_id = world.bot_user.user_id
    for line in ("!setup Overleg", "!annex add Jeugdzorg door burgemeester Teststad",
                 "!partner add Jeugdzorg", f"!lid add {jeugd.user_id} Jeugdzorg",
                 "!overleg plan 15-12-2026 14:00 op Stadhuis"):
        await ask(chair, room, bot_id, line, timeout=20)
    b = re.search(r"C-\w+", await ask(chair, room, bot_id, "!casus open"))[0]  # type: ignore[index]
    await ask(chair, room, bot_id, f"!casus partner {b} add Jeugdzorg")
    await ask(chair, room, bot_id, f"!agenda add M1 {b}")
    await chair.send(room, "!agenda send M1")
    dm_poll = await jz.wait_for(lambda s: s.sender == bot_id and s.room_id != room
                                and s.msgtype == "m.poll.start", timeout=30)

    mark = len(jz.seen)
    await jz.vote(dm_poll.room_id, dm_poll.event_id, "yes", stable=True)
    reply = await jz.wait_for(lambda s: s.sender == bot_id and s.room_id == dm_poll.room_id
                              and "Jeugdzorg komt" in s.body, 15, after=mark)
    assert "komt niet" not in reply.body
    assert f"Jeugdzorg: bevestigd ({jeugd.user_id}" in await ask(chair, room, bot_id,
                                                                  "!status M1")

    mark = len(jz.seen)
    await jz.vote(dm_poll.room_id, dm_poll.event_id)  # Element's unstable form, no answer
    await jz.wait_for(lambda s: s.sender == bot_id and s.room_id == dm_poll.room_id
                      and "ingetrokken" in s.body, 15, after=mark)
    assert "Jeugdzorg: geen antwoord" in await ask(chair, room, bot_id, "!status M1")
