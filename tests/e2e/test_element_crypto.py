"""Encryption as Element users meet it: a client with Element's crypto (matrix-js-sdk with
its Rust crypto, tests/e2e/jsclient.py) in an encrypted room with the bot (issue 22)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot import devserver
from tests.e2e.conftest import User, World, bot_in_room
from tests.e2e.jsclient import JsClient, require_installed

pytestmark = pytest.mark.e2e

Start = Callable[[User], Awaitable[JsClient]]


@pytest.fixture
async def element(world: World) -> AsyncIterator[Start]:
    """Start a js client (a new device) for a user; all are closed at the end."""
    require_installed()  # fails, never skips, when `make install` was not run
    started: list[JsClient] = []

    async def start(user: User) -> JsClient:
        client = await JsClient.start(world.synapse.url, user.user_id, user.password)
        started.append(client)
        return client

    yield start
    for client in started:
        await client.close()


async def test_a_fresh_element_chair_sets_up_and_reads_the_bot(world: World,
                                                               element: Start) -> None:
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user], encrypted=True)
    await bot_in_room(bot, room)
    chair = await element(world.chair)
    bot_id = world.bot_user.user_id
    assert "Overleg" in await chair.ask(room, bot_id, "!setup Overleg")
    assert "M1" in await chair.ask(room, bot_id, "!overleg plan 8-12-2026 14:00")
    assert not chair.undecryptable(bot_id, room)


async def test_a_chair_with_elements_strict_settings_and_the_bot_read_each_other(
        world: World, element: Start) -> None:
    """Element's "exclude insecure devices": the chair's client shares its keys only with
    devices cross-signed by their owner and decrypts only messages from such devices. The
    bot's device is cross-signed, so the commands reach it and its replies are read."""
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user], encrypted=True)
    await bot_in_room(bot, room)
    chair = await element(world.chair)
    # An Element account has cross-signing set up (strict mode refuses to send without).
    assert (await chair.command("bootstrap_cross_signing"))["ready"] is True
    await chair.command("strict")
    bot_id = world.bot_user.user_id
    assert "Overleg" in await chair.ask(room, bot_id, "!setup Overleg")
    assert "M1" in await chair.ask(room, bot_id, "!overleg plan 8-12-2026 14:00")
    assert not chair.undecryptable(bot_id, room)


async def test_a_second_element_device_of_the_chair_reads_the_replies(world: World,
                                                                      element: Start) -> None:
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user], encrypted=True)
    await bot_in_room(bot, room)
    first = await element(world.chair)
    bot_id = world.bot_user.user_id
    assert "Overleg" in await first.ask(room, bot_id, "!setup Overleg")
    second = await element(world.chair)  # a new device after the room key was made
    assert second.device_id != first.device_id
    planned = await first.ask(room, bot_id, "!overleg plan 8-12-2026 14:00")
    assert "M1" in planned
    read = await second.wait_for(
        lambda: [n for n in second.notices(bot_id, room) if n.body == planned], 20,
        "the reply to the first device's command")
    assert read[0].encrypted
    # ...and the second device is answered itself.
    assert "M1" in await second.ask(room, bot_id, "!overleg list")
    assert not first.undecryptable(bot_id, room)
    # The second device misses only what was sent before it logged in (no key backup).
    assert {e.reason for e in second.undecryptable(bot_id, room)} <= {
        "HISTORICAL_MESSAGE_NO_KEY_BACKUP"}


async def test_a_partner_added_later_reads_the_next_reply(world: World, element: Start) -> None:
    _, bot = await world.start_bot()
    politie = world.user("politie")
    room = world.room(world.chair, [world.bot_user, politie], encrypted=True)
    world.join(politie, room)
    await bot_in_room(bot, room)
    chair = await element(world.chair)
    agent = await element(politie)
    bot_id = world.bot_user.user_id
    await chair.ask(room, bot_id, "!setup Overleg")
    await chair.ask(room, bot_id, "!partner add Politie core")
    added = await chair.ask(room, bot_id, f"!lid add {politie.user_id} Politie")
    planned = await chair.ask(room, bot_id, "!overleg plan 8-12-2026 14:00")
    assert "M1" in planned
    await agent.wait_for(lambda: [n for n in agent.notices(bot_id, room) if n.body == planned],
                         20, "the first reply after being added")
    # Before being added, the partner was no member: those replies were withheld from it.
    said = [e for e in agent.seen(room) if e.sender == bot_id
            and (e.reason is not None or e.msgtype == "m.notice")]
    assert [e.body for e in said if e.reason is None] == [added, planned]
    assert [e.reason for e in said if e.reason is not None] == ["MEGOLM_KEY_WITHHELD"] * 2


@pytest.mark.parametrize("device_known", [True, False], ids=["device-known", "device-new"])
async def test_a_non_member_after_a_restart_sees_the_reply_withheld(
        world: World, element: Start, device_known: bool) -> None:
    """Issue 22, part 1, with Element's crypto: a non-member joins while the bot is down;
    after the restart a member's command is answered; the non-member's client cannot
    decrypt the reply and shows it as withheld (m.unauthorised), not 'unable to decrypt'.
    ``device_known``: the non-member's device existed (invited) before the bot stopped, or
    logged in only after the join."""
    _, bot = await world.start_bot()
    stranger = world.user("stranger")
    room = world.room(world.chair, [world.bot_user, stranger], encrypted=True)
    await bot_in_room(bot, room)
    chair = await element(world.chair)
    bot_id = world.bot_user.user_id
    await chair.ask(room, bot_id, "!setup Overleg")
    assert "M1" in await chair.ask(room, bot_id, "!overleg plan 8-12-2026 14:00")
    if device_known:
        outsider = await element(stranger)  # invited: its device keys are on the server
    await world.stop_bot(bot)
    world.join(stranger, room)  # after the bot's last message, while it is down
    if not device_known:
        outsider = await element(stranger)
    await world.start_bot()
    listed = await chair.ask(room, bot_id, "!overleg list")
    assert "M1" in listed  # a member reads the reply
    [reply] = [n for n in chair.notices(bot_id, room) if n.body == listed]

    def withheld_reply() -> object:
        seen = outsider.events.get(reply.event_id)
        return seen and seen.reason == "MEGOLM_KEY_WITHHELD" and seen

    # The reply reaches the non-member's timeline, undecrypted, marked as withheld...
    await outsider.wait_for(withheld_reply, 20, "the reply, withheld")
    assert not outsider.notices(bot_id, room)
    # ...because the bot told its device so, with the code for "not authorised".
    notices = [t["content"] for t in outsider.to_device if t["type"] == "m.room_key.withheld"]
    assert notices and {n.get("code") for n in notices} == {"m.unauthorised"}
    assert {n.get("room_id") for n in notices} == {room}
    assert {t["sender"] for t in outsider.to_device
            if t["type"] == "m.room_key.withheld"} == {bot_id}


async def test_a_member_removed_from_the_overleg_is_withheld_the_next_replies(
        world: World, element: Start) -> None:
    """Still in the room, removed from the overleg: their Element device cannot read the
    next reply, nor can a device of theirs that logs in later read the one after; both are
    told the key was withheld (m.unauthorised), not left with 'unable to decrypt'."""
    _, bot = await world.start_bot()
    politie = world.user("politie")
    room = world.room(world.chair, [world.bot_user, politie], encrypted=True)
    world.join(politie, room)
    await bot_in_room(bot, room)
    chair = await element(world.chair)
    agent = await element(politie)
    bot_id = world.bot_user.user_id
    await chair.ask(room, bot_id, "!setup Overleg")
    await chair.ask(room, bot_id, "!partner add Politie core")
    await chair.ask(room, bot_id, f"!lid add {politie.user_id} Politie")
    planned = await chair.ask(room, bot_id, "!overleg plan 8-12-2026 14:00")
    await agent.wait_for(lambda: [n for n in agent.notices(bot_id, room) if n.body == planned],
                         20, "the reply while a member")
    await chair.ask(room, bot_id, f"!lid remove {politie.user_id}")
    first = await chair.ask(room, bot_id, "!overleg list")
    await _withheld_from(agent, chair, bot_id, room, first)
    new_device = await element(politie)  # logs in after the room key was renewed

    second = await chair.ask(room, bot_id, "!casus open")
    assert "C-" in second
    await _withheld_from(agent, chair, bot_id, room, second)
    await _withheld_from(new_device, chair, bot_id, room, second)


async def _withheld_from(device: JsClient, chair: JsClient, bot_id: str, room: str,
                         body: str) -> None:
    """``device`` meets the bot's reply ``body`` (as the chair read it) undecrypted and
    marked withheld, and was sent m.room_key.withheld with code m.unauthorised."""
    [reply] = [n for n in chair.notices(bot_id, room) if n.body == body]

    def withheld() -> bool:
        seen = device.events.get(reply.event_id)
        return bool(seen and seen.reason == "MEGOLM_KEY_WITHHELD")

    await device.wait_for(withheld, 20, f"the reply {reply.event_id} marked withheld")
    assert body not in [n.body for n in device.notices(bot_id, room)]
    codes = {t["content"].get("code") for t in device.to_device
             if t["type"] == "m.room_key.withheld"}
    assert codes == {"m.unauthorised"}


async def test_element_sees_the_bot_device_cross_signed_by_its_owner(world: World,
                                                                    element: Start) -> None:
    """What Element shows of the bot: its device signed by the bot's own self-signing key
    (so, once the chair trusts the bot's identity, the device is verified without a
    device-by-device check)."""
    _, bot = await world.start_bot()
    bot_id, bot_device = world.bot_user.user_id, bot.client.device_id
    room = world.room(world.chair, [world.bot_user], encrypted=True)
    await bot_in_room(bot, room)
    chair = await element(world.chair)  # shares an encrypted room: tracks the bot's keys
    own = (await chair.command("device_status", user=world.chair.user_id,
                               device=chair.device_id))["status"]
    assert own["signedByOwner"] is False  # the check tells a device that is not cross-signed
    assert bot_device in (await chair.command("devices", user=bot_id))["devices"]
    status = (await chair.command("device_status", user=bot_id, device=bot_device))["status"]
    assert status["signedByOwner"] is True
    assert status["crossSigningVerified"] is False  # the chair has not verified the bot yet
    user = (await chair.command("user_status", user=bot_id))["status"]
    assert user["isCrossSigningVerified"] is False
    # The chair sets up its own cross-signing and signs the bot's master key: the end of an
    # interactive verification. The bot's device is then verified through the bot's keys.
    assert (await chair.command("bootstrap_cross_signing"))["ready"] is True
    own = (await chair.command("device_status", user=world.chair.user_id,
                               device=chair.device_id))["status"]
    assert own["signedByOwner"] is True
    await chair.command("sign_user", user=bot_id)
    user = (await chair.command("user_status", user=bot_id))["status"]
    assert user["isCrossSigningVerified"] is True
    status = (await chair.command("device_status", user=bot_id, device=bot_device))["status"]
    assert status["crossSigningVerified"] is True and status["isVerified"] is True
    # A new instance with a new store (a new device) signs with the same identity: Element
    # shows it verified at once, and no "identity changed" warning to approve.
    await world.stop_bot(bot)
    _, bot = await world.start_bot(CASUSBOT_STORE_PATH=str(world.tmp / "bot-store-new"))
    new_device = bot.client.device_id
    assert new_device != bot_device
    status = await _device_status(chair, bot_id, new_device)
    assert status["signedByOwner"] is True and status["crossSigningVerified"] is True
    user = (await chair.command("user_status", user=bot_id))["status"]
    assert user["isCrossSigningVerified"] is True and user["needsUserApproval"] is False


async def _device_status(client: JsClient, user_id: str, device: str,
                         timeout: float = 20.0) -> dict[str, bool]:
    """The device's verification status once the client knows the device (its key list
    is updated through the sync; signatures uploaded just after are waited for too)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status = (await client.command("device_status", user=user_id, device=device))["status"]
        if (status and status["signedByOwner"]) or loop.time() > deadline:
            assert status, f"{device} of {user_id} never became known to the client"
            return dict(status)
        await asyncio.sleep(0.3)


async def test_an_admin_verifies_the_bot_from_element_and_a_stranger_is_declined(
        world: World, element: Start) -> None:
    """Issue 22, part 2: Element's "Verify" with the bot (to-device request -> ready ->
    SAS). A non-administrator's request is declined (cancel m.user, nothing shown); the
    administrator sees the same emoji in the bot's direct message as in Element, answers
    ``!verifieer ja``, and Element then trusts the bot: its master key (the MAC covers it)
    and so its device."""
    from sqlmodel import select

    from storage.db import session_scope
    from storage.models import KeyVerification, OutboxMessage

    app, bot = await world.start_bot()
    bot_id, bot_device = world.bot_user.user_id, bot.client.device_id
    stranger = await element(world.user("stranger"))
    assert bot_device in (await stranger.command("devices", user=bot_id))["devices"]
    declined = (await stranger.command("verify", user=bot_id, device=bot_device))["flow"]

    def phase(client: JsClient, flow: str, name: str) -> dict[str, object] | None:
        return next((v for v in client.verification if v["flow"] == flow
                     and v.get("phase") == name), None)

    cancel = await stranger.wait_for(lambda: phase(stranger, declined, "cancelled"), 20,
                                     "the bot's decline")
    assert cancel["cancellation"] == "m.user"
    assert not [v for v in stranger.verification if v["event"] == "sas"]

    chair = await element(world.chair)  # an administrator (CASUSBOT_ADMINS)
    assert (await chair.command("bootstrap_cross_signing"))["ready"] is True
    assert bot_device in (await chair.command("devices", user=bot_id))["devices"]
    flow = (await chair.command("verify", user=bot_id, device=bot_device))["flow"]
    # The bot opens its direct room with the administrator at once; they join it.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (dm := app.direct_room(world.chair.user_id)) is None and loop.time() < deadline:
        await asyncio.sleep(0.2)
    assert dm is not None
    await chair.command("join", room=dm)
    sas = await chair.wait_for(
        lambda: next((v for v in chair.verification if v["event"] == "sas"
                      and v["flow"] == flow), None), 20, "the emoji in Element")
    shown = await chair.wait_for(lambda: chair.notices(bot_id, dm), 20,
                                 "the emoji in the direct room")

    def plain(symbol: object) -> str:
        return str(symbol).replace("\ufe0f", "")

    body, at = plain(shown[0].body), 0
    assert len(sas["symbols"]) == 7
    for symbol in sas["symbols"]:  # each of Element's emoji, in Element's order
        at = body.find(plain(symbol), at) + 1
        assert at > 0, (symbol, body)
    await _confirm_and_trust(chair, flow, dm, bot_id, bot_device)
    with session_scope(app.engine) as session:
        rows = {r.user_id: (r.state, r.reason) for r in session.exec(select(KeyVerification))}
        told = [m.template for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.room_id == world.chair.user_id).order_by(OutboxMessage.id))]
    assert rows == {world.chair.user_id: ("done", None)}  # none for the stranger
    assert told == ["verification/compare", "verification/done"]


async def _confirm_and_trust(chair: JsClient, flow: str, room: str, bot_id: str,
                             bot_device: str, answer: str = "!verifieer ja") -> None:
    """Both sides confirm the emoji (Element, and the administrator to the bot in
    ``room`` with ``answer``); Element then trusts the bot's identity and so its device."""
    await chair.command("sas_confirm", flow=flow, match=True)
    await chair.ask(room, bot_id, answer)
    await chair.wait_for(lambda: next((v for v in chair.verification if v["flow"] == flow
                                       and v.get("phase") == "verified"), None), 20,
                         "the verification done")
    # Element signs the bot's master key with its user-signing key (the MAC covered it) and
    # counts the signature once it has read it back from the homeserver.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not (user := (await chair.command("user_status", user=bot_id))["status"])[
            "isCrossSigningVerified"] and loop.time() < deadline:
        await chair.command("refresh_keys", user=bot_id)
        await asyncio.sleep(0.3)
    assert user["isCrossSigningVerified"] is True
    status = await _device_status(chair, bot_id, bot_device)
    assert status["crossSigningVerified"] is True and status["isVerified"] is True


async def test_an_admin_verifies_the_bot_in_their_direct_room(world: World,
                                                              element: Start) -> None:
    """Element's "Verify" from the bot's profile in a direct room: the request, the SAS
    steps and the emoji are events in that room (encrypted), referring to the request.
    With CASUSBOT_SIGN_VERIFIED_ADMINS the bot also signs the administrator's master key
    (which their MAC proved) with its user-signing key."""
    from sqlmodel import select

    from storage.db import session_scope
    from storage.models import KeyVerification

    app, bot = await world.start_bot(CASUSBOT_SIGN_VERIFIED_ADMINS="true")
    bot_id, bot_device = world.bot_user.user_id, bot.client.device_id
    dm = world.room(world.chair, [world.bot_user], encrypted=True)
    await bot_in_room(bot, dm)
    chair = await element(world.chair)
    assert (await chair.command("bootstrap_cross_signing"))["ready"] is True
    flow = (await chair.command("verify", user=bot_id, room=dm))["flow"]
    sas = await chair.wait_for(
        lambda: next((v for v in chair.verification if v["event"] == "sas"
                      and v["flow"] == flow), None), 20, "the emoji in Element")
    [shown] = await chair.wait_for(lambda: chair.notices(bot_id, dm), 20,
                                   "the emoji in the room")
    assert sas["decimal"] and " ".join(map(str, sas["decimal"])) in str(shown.body)
    await _confirm_and_trust(chair, flow, dm, bot_id, bot_device)
    with session_scope(app.engine) as session:
        [row] = session.exec(select(KeyVerification)).all()
        assert (row.room_id, row.state) == (dm, "done")
    # Synapse takes a signature of another user's master key only from the signer's
    # user-signing key, and shows it only to the signer: the bot's view is the proof.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        keys = devserver.request(world.synapse.url, "POST", "/_matrix/client/v3/keys/query",
                                 {"device_keys": {world.chair.user_id: []}},
                                 bot.client.access_token)
        signers = keys["master_keys"][world.chair.user_id].get("signatures", {})
        if bot_id in signers or loop.time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert bot_id in signers, signers


def _phase(client: JsClient, flow: str, name: str) -> dict[str, object] | None:
    return next((v for v in client.verification if v["flow"] == flow
                 and v.get("phase") == name), None)


async def _direct_room(app: object, user_id: str) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (dm := app.direct_room(user_id)) is None \
            and loop.time() < deadline:  # type: ignore[attr-defined]
        await asyncio.sleep(0.2)
    assert dm is not None
    return str(dm)


async def test_a_second_session_of_the_admin_replaces_the_first_ones_verification(
        world: World, element: Start) -> None:
    """Two Element sessions of one administrator ask in turn: the older flow is cancelled
    on both sides, the emoji message names the newer session, and '!verifieer ja' can only
    complete the flow whose emoji were shown last (issue 22)."""
    from sqlmodel import select

    from storage.db import session_scope
    from storage.models import KeyVerification

    app, bot = await world.start_bot()
    bot_id, bot_device = world.bot_user.user_id, bot.client.device_id
    first, second = await element(world.chair), await element(world.chair)
    assert (await second.command("bootstrap_cross_signing"))["ready"] is True
    for client in (first, second):
        assert bot_device in (await client.command("devices", user=bot_id))["devices"]
    old = (await first.command("verify", user=bot_id, device=bot_device))["flow"]
    await first.wait_for(lambda: next((v for v in first.verification if v["event"] == "sas"
                                       and v["flow"] == old), None), 20, "the first emoji")
    new = (await second.command("verify", user=bot_id, device=bot_device))["flow"]
    cancel = await first.wait_for(lambda: _phase(first, old, "cancelled"), 20,
                                  "the first flow cancelled by the bot")
    assert cancel["cancellation"] == "m.user"
    dm = await _direct_room(app, world.chair.user_id)
    await second.command("join", room=dm)
    shown = await second.wait_for(
        lambda: [s for s in second.notices(bot_id, dm) if second.device_id in str(s.body)
                 and first.device_id not in str(s.body)], 20,
        "the emoji for the second session")
    assert shown
    # It replaced a flow whose emoji were shown: the answer names the session compared.
    await _confirm_and_trust(second, new, dm, bot_id, bot_device,
                             answer=f"!verifieer ja {second.device_id}")
    with session_scope(app.engine) as session:
        rows = {(r.other_device, r.state, r.reason)
                for r in session.exec(select(KeyVerification))}
    assert rows == {(first.device_id, "cancelled", "superseded"),
                    (second.device_id, "done", None)}


async def test_after_a_restart_the_emoji_reach_the_admins_existing_direct_room(
        world: World, element: Start) -> None:
    """The administrator joined the bot's direct room before a restart; after it (the sync
    loads members lazily) the emoji of a new verification still reach that room instead
    of waiting for them to join (issue 22)."""
    app, bot = await world.start_bot()
    bot_id = world.bot_user.user_id
    chair = await element(world.chair)
    await chair.command("devices", user=bot_id)
    first = (await chair.command("verify", user=bot_id, device=bot.client.device_id))["flow"]
    dm = await _direct_room(app, world.chair.user_id)
    await chair.command("join", room=dm)
    await chair.wait_for(lambda: chair.notices(bot_id, dm), 20, "the first emoji")
    await world.stop_bot(bot)
    app, bot = await world.start_bot()
    await chair.wait_for(lambda: _phase(chair, first, "cancelled"), 20, "cancelled at restart")
    mark = len(chair.notices(bot_id, dm))
    await chair.command("devices", user=bot_id)
    flow = (await chair.command("verify", user=bot_id, device=bot.client.device_id))["flow"]
    sas = await chair.wait_for(lambda: next((v for v in chair.verification
                                             if v["event"] == "sas" and v["flow"] == flow),
                                            None), 20, "the new emoji in Element")
    await chair.wait_for(
        lambda: [s for s in chair.notices(bot_id, dm)[mark:]
                 if " ".join(map(str, sas["decimal"])) in str(s.body)], 20,
        "the new emoji in the direct room")
