"""The walking skeleton on a real Synapse: real bot, real clients, real (encrypted) rooms."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import InboundEvent, OutboxMessage
from tests.e2e.conftest import World, bot_in_room

pytestmark = pytest.mark.e2e


async def ask(client, room: str, bot_id: str, text: str, timeout: float = 15.0) -> str:  # type: ignore[no-untyped-def]
    """Send ``text``; the bot's first notice after it in the room's timeline. (A notice the
    client had not synced yet when it sent, an answer to someone else, comes before it.)"""
    sent = await client.send(room, text)
    mine = await client.wait_for(lambda s: s.event_id == sent, timeout, what="our own message")
    reply = await client.next_notice(bot_id, room_id=room, after=client.seen.index(mine) + 1,
                                     timeout=timeout)
    return str(reply.body)


async def test_chair_sets_up_plans_and_opens_a_case(world: World) -> None:
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id

    assert "Casusoverleg Venlo" in await ask(chair, room, bot_id, "!inrichten Casusoverleg Venlo")
    planned = await ask(chair, room, bot_id, "!overleg plan 8-12-2026 14:00 90m op Veiligheidshuis")
    assert "M1" in planned and "dinsdag 8 december 2026" in planned and "14:00–15:30" in planned
    opened = await ask(chair, room, bot_id, "!casus open")
    assert "C-" in opened
    # The reply is an m.notice with HTML and a plain fallback.
    last = chair.notices(bot_id, room)[-1]
    assert last.html and "<b>" in last.html and "<b>" not in last.body


async def test_non_member_is_refused_and_nothing_changes(world: World) -> None:
    _app, bot = await world.start_bot()
    stranger = world.user("stranger")
    room = world.room(world.chair, [world.bot_user, stranger])
    world.join(stranger, room)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    other = await world.client(stranger)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    # The stranger's client must have seen that reply before its own command, or the reply
    # could be mistaken for the answer to it.
    await other.wait_for(lambda s: s.sender == bot_id and "het overleg" in s.body, timeout=15)
    refusal = await ask(other, room, bot_id, "!casus open")
    assert "geen lid" in refusal
    assert "geen overleggen" not in refusal
    # Likewise the chair must have seen the refusal before asking, or take it for the answer.
    await chair.wait_for(lambda s: s.sender == bot_id and "geen lid" in s.body, timeout=15)
    listed = await ask(chair, room, bot_id, "!case list")
    assert "Geen open casussen" in listed


async def test_restart_does_not_answer_an_old_command_twice(world: World) -> None:
    _app, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    await ask(chair, room, bot_id, "!overleg plan 8-12-2026 14:00")
    device = bot.client.device_id
    await world.stop_bot(bot)

    # A command sent while the bot is down is answered once after the restart.
    mark = len(chair.seen)
    await chair.send(room, "!overleg list")
    app2, bot2 = await world.start_bot()
    assert bot2.client.device_id == device  # the session was reused, not a new login
    reply = await chair.next_notice(bot_id, room_id=room, after=mark, timeout=20)
    assert "M1" in reply.body
    # A sentinel: the outbox sends in order per room, so a repeated answer to an older
    # event would arrive before the sentinel's reply.
    await ask(chair, room, bot_id, "!hulp")
    replies = chair.notices(bot_id, room)
    assert len(replies) == 4, [r.body[:30] for r in replies]
    with session_scope(app2.engine) as s:
        assert len(s.exec(select(InboundEvent)).all()) == 4
        assert all(r.sent_at is not None for r in s.exec(select(OutboxMessage)))


async def test_encrypted_room(world: World) -> None:
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user], encrypted=True)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    reply = await ask(chair, room, bot_id, "!setup Versleuteld overleg", timeout=20)
    assert "Versleuteld overleg" in reply
    assert "M1" in await ask(chair, room, bot_id, "!overleg plan 8-12-2026 14:00")


async def test_unencrypted_room_is_refused_by_default(world: World) -> None:
    _, bot = await world.start_bot(CASUSBOT_REQUIRE_E2EE="true")
    room = world.room(world.chair, [world.bot_user], encrypted=False)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    reply = await ask(chair, room, world.bot_user.user_id, "!setup Overleg")
    assert "niet end-to-end versleuteld" in reply


async def test_pii_is_refused_and_the_message_redacted(world: World) -> None:
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    # The bot is moderator in the room (World.room), so it may remove messages
    # (tests/e2e/test_redaction_power.py: what happens when it is not).
    token = world.synapse.login(world.chair.user_id.split(":")[0][1:], world.chair.password)
    from bot import devserver

    await ask(chair, room, bot_id, "!setup Overleg")
    mark = len(chair.seen)
    event_id = await chair.send(room, "!casus open ref 06-12345678 Bel 06-12345678")
    reply = await chair.next_notice(bot_id, room_id=room, after=mark, timeout=15)
    assert "telefoonnummer" in reply.body and "12345" not in reply.body
    # The original message is redacted by the bot.
    for _ in range(100):
        ev = devserver.request(world.synapse.url, "GET",
                               f"/_matrix/client/v3/rooms/{room}/event/{event_id}",
                               token=token["access_token"])
        if not ev.get("content"):
            break
        import asyncio

        await asyncio.sleep(0.1)
    assert ev.get("content") == {}, ev


async def test_malformed_unknown_and_huge_events_do_not_stop_the_bot(world: World) -> None:
    from bot import devserver

    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    token = world.synapse.login(world.chair.user_id.split(":")[0][1:], world.chair.password)
    junk = [
        ("m.room.message", {"body": 123}),
        ("m.room.message", {"msgtype": "m.text"}),
        ("m.room.message", {"msgtype": "m.text", "body": "!overleg", "format": 5,
                            "formatted_body": ["x"]}),
        ("m.reaction", {"m.relates_to": {"rel_type": "m.annotation"}}),
        ("m.reaction", {"m.relates_to": "nonsense"}),
        ("org.example.weird", {"anything": [1, {"deep": None}]}),
        ("m.poll.response", {"m.relates_to": {"event_id": 5}, "m.selections": "yes"}),
        ("org.matrix.msc3381.poll.response", {"org.matrix.msc3381.poll.response": None}),
    ]
    accepted = 0
    for i, (kind, content) in enumerate(junk):
        try:
            devserver.request(world.synapse.url, "PUT",
                              f"/_matrix/client/v3/rooms/{room}/send/{kind}/junk{i}", content,
                              token=token["access_token"])
            accepted += 1
        except devserver.HTTPError:
            pass  # the homeserver itself refuses some; those never reach the bot
    assert accepted >= 5
    huge = await ask(chair, room, bot_id, "!overleg list " + "x" * 60_000)
    assert "te lang" in huge
    # Still answering, and nothing was lost on the way.
    assert "M1" in await ask(chair, room, bot_id, "!overleg plan 8-12-2026 14:00")


async def test_the_sync_filter_is_uploaded_once_and_named_by_its_id(world: World) -> None:
    import aiohttp

    from bot.matrix.transport import sync_filter

    _, bot = await world.start_bot()
    filter_id = await bot._sync_filter()
    assert isinstance(filter_id, str)
    user = world.bot_user.user_id
    async with aiohttp.ClientSession() as http, http.get(
            f"{world.synapse.url}/_matrix/client/v3/user/{user}/filter/{filter_id}",
            headers={"Authorization": f"Bearer {bot.client.access_token}"}) as resp:
        assert resp.status == 200
        stored = await resp.json()
    assert stored["room"]["timeline"] == {"limit": 100, "not_senders": [user]}
    assert stored["room"]["state"]["lazy_load_members"] is True
    assert stored["room"]["ephemeral"]["not_types"] == ["*"]
    assert stored["presence"]["not_types"] == ["*"]
    # A homeserver that refuses the upload (here: a token it does not know): the filter goes
    # with each sync instead, and the sync still works.
    token, bot.client.access_token = bot.client.access_token, "not-a-token"
    try:
        assert await bot._sync_filter() == sync_filter(user)
    finally:
        bot.client.access_token = token
