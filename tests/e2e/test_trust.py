"""Cross-signing: another user's client sees the bot's device signed by the bot's own key."""

from __future__ import annotations

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
