"""Cross-signing: another user's client sees the bot's device signed by the bot's own key."""

from __future__ import annotations

from pathlib import Path

import pytest
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import verify_signed_json
from unpaddedbase64 import decode_base64

from bot import devserver
from tests.e2e.conftest import World

pytestmark = pytest.mark.e2e


async def test_a_second_client_sees_the_bot_device_cross_signed(world: World) -> None:
    _, bot = await world.start_bot()
    bot_id, device = world.bot_user.user_id, bot.client.device_id
    other = world.user("partner")
    token = world.synapse.login(other.user_id.split(":")[0][1:], other.password)
    keys = devserver.request(world.synapse.url, "POST", "/_matrix/client/v3/keys/query",
                             {"device_keys": {bot_id: []}}, token=token["access_token"])
    master = keys["master_keys"][bot_id]
    ssk = keys["self_signing_keys"][bot_id]
    [(master_id, master_pub)] = master["keys"].items()
    [(ssk_id, ssk_pub)] = ssk["keys"].items()

    def verify_key(key_id: str, public: str):  # type: ignore[no-untyped-def]
        return decode_verify_key_bytes(key_id, decode_base64(public))

    # The self-signing key is signed by the master key...
    verify_signed_json(ssk, bot_id, verify_key(master_id, master_pub))
    # ...and the bot's device by the self-signing key.
    device_keys = keys["device_keys"][bot_id][device]
    assert ssk_id in device_keys["signatures"][bot_id]
    verify_signed_json(device_keys, bot_id, verify_key(ssk_id, ssk_pub))
    # A restart keeps the same keys and does not sign again.
    await world.stop_bot(bot)
    _, bot2 = await world.start_bot()
    again = devserver.request(world.synapse.url, "POST", "/_matrix/client/v3/keys/query",
                              {"device_keys": {bot_id: []}}, token=token["access_token"])
    assert again["master_keys"][bot_id]["keys"] == master["keys"]
    assert bot2.client.device_id == device


async def test_room_keys_go_only_to_overleg_members(world: World) -> None:
    import asyncio

    from nio import MegolmEvent

    from tests.e2e.conftest import bot_in_room
    from tests.e2e.test_skeleton import ask

    _, bot = await world.start_bot()
    stranger = world.user("stranger")
    room = world.room(world.chair, [world.bot_user, stranger], encrypted=True)
    world.join(stranger, room)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    outsider = await world.client(stranger)
    undecryptable: list[str] = []

    async def on_megolm(_room, event) -> None:  # type: ignore[no-untyped-def]
        if event.sender == world.bot_user.user_id:
            undecryptable.append(event.event_id)

    outsider.client.add_event_callback(on_megolm, MegolmEvent)
    bot_id = world.bot_user.user_id
    setup = await ask(chair, room, bot_id, "!setup Overleg", timeout=20)
    assert "Overleg" in setup
    planned = await ask(chair, room, bot_id, "!overleg plan 8-12-2026 14:00", timeout=20)
    assert "M1" in planned  # the chair (a member) reads the bot
    for _ in range(100):
        if undecryptable:
            break
        await asyncio.sleep(0.1)
    # The stranger sits in the room but is no member: it cannot read what the bot says.
    assert undecryptable
    assert not outsider.notices(bot_id, room)


async def _stranger_watch(world: World, stranger_client) -> tuple[list[str], list[dict]]:  # type: ignore[no-untyped-def]
    """What a non-member's client meets: the bot's messages it cannot decrypt, and the
    ``m.room_key.withheld`` notices it is sent."""
    from nio import MegolmEvent, UnknownToDeviceEvent

    undecryptable: list[str] = []
    withheld: list[dict] = []

    async def on_megolm(_room, event) -> None:  # type: ignore[no-untyped-def]
        if event.sender == world.bot_user.user_id:
            undecryptable.append(event.event_id)

    async def on_to_device(event) -> None:  # type: ignore[no-untyped-def]
        if event.type == "m.room_key.withheld":
            withheld.append(event.source.get("content", {}))

    stranger_client.client.add_event_callback(on_megolm, MegolmEvent)
    stranger_client.client.add_to_device_callback(on_to_device, UnknownToDeviceEvent)
    return undecryptable, withheld


async def test_after_a_restart_a_non_member_gets_no_room_key(world: World) -> None:
    """Issue 22: a non-member joins after the bot's last message, the bot restarts (it now
    knows only the members its catch-up sync brought, lazily), a member sends a command:
    the reply's room key reaches the members only; the non-member is told it was withheld."""
    import asyncio

    from tests.e2e.conftest import bot_in_room
    from tests.e2e.test_skeleton import ask

    _, bot = await world.start_bot()
    stranger = world.user("stranger")
    room = world.room(world.chair, [world.bot_user, stranger], encrypted=True)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    assert "Overleg" in await ask(chair, room, bot_id, "!setup Overleg", timeout=20)
    assert "M1" in await ask(chair, room, bot_id, "!overleg plan 8-12-2026 14:00", timeout=20)
    await world.stop_bot(bot)
    world.join(stranger, room)  # after the bot's last message, while it is down
    outsider = await world.client(stranger)
    undecryptable, withheld = await _stranger_watch(world, outsider)
    _, bot = await world.start_bot()
    listed = await ask(chair, room, bot_id, "!overleg list", timeout=20)
    assert "M1" in listed  # the chair (a member) reads the reply
    for _ in range(100):
        if undecryptable and withheld:
            break
        await asyncio.sleep(0.1)
    assert undecryptable and not outsider.notices(bot_id, room)
    assert withheld and {w.get("code") for w in withheld} == {"m.unauthorised"}
    assert all(w.get("room_id") == room for w in withheld)


async def test_a_member_removed_from_the_overleg_reads_no_further(world: World,
                                                                  tmp_path: Path) -> None:
    """Still in the room, removed from the overleg: neither their device nor a new device
    of theirs gets the next room key."""
    import asyncio

    from bot.chat import ChatClient
    from tests.e2e.conftest import bot_in_room
    from tests.e2e.test_skeleton import ask

    _, bot = await world.start_bot()
    agent = world.user("agent")
    room = world.room(world.chair, [world.bot_user, agent], encrypted=True)
    world.join(agent, room)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    member = await world.client(agent)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg", timeout=20)
    await ask(chair, room, bot_id, "!partner add Politie core", timeout=20)
    await ask(chair, room, bot_id, f"!lid add {agent.user_id} Politie", timeout=20)
    planned = await ask(chair, room, bot_id, "!overleg plan 8-12-2026 14:00", timeout=20)
    await member.wait_for(lambda s: s.body == planned, 20, what="the member reads the bot")
    await ask(chair, room, bot_id, f"!lid remove {agent.user_id}", timeout=20)
    second = ChatClient(world.synapse.url, agent.user_id, agent.password,
                        tmp_path / "second-device")
    await second.start()
    world.clients.append(second)
    watched = [await _stranger_watch(world, c) for c in (member, second)]
    await ask(chair, room, bot_id, "!overleg list", timeout=20)
    for _ in range(100):
        if all(undecryptable for undecryptable, _ in watched):
            break
        await asyncio.sleep(0.1)
    assert all(undecryptable for undecryptable, _ in watched)
    assert not [n for n in member.notices(bot_id, room) if "M1" in n.body and n.body != planned]
