"""The bot account's one cross-signing identity (issue 25), on Synapse and PostgreSQL: every
instance and every new store signs its device with the same self-signing key, the master key
never changes, and an identity an instance cannot use is never replaced."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import verify_signed_json
from unpaddedbase64 import decode_base64

from bot import crosssign, devserver
from bot.matrix.transport import MatrixTransport
from storage import crosssigning
from tests.e2e.conftest import World

pytestmark = pytest.mark.e2e


def _keys(world: World) -> dict[str, Any]:
    """What another user's client sees of the bot's keys (``/keys/query``)."""
    other = world.user("observer")
    token = world.synapse.login(other.user_id.split(":")[0][1:], other.password)
    bot_id = world.bot_user.user_id
    return devserver.request(world.synapse.url, "POST", "/_matrix/client/v3/keys/query",
                             {"device_keys": {bot_id: []}}, token=token["access_token"])


def _signed_by_one_identity(world: World, bots: list[MatrixTransport]) -> str:
    """Every bot's device is signed by the self-signing key the master key signs; returns
    the master key."""
    keys = _keys(world)
    bot_id = world.bot_user.user_id
    master, ssk = keys["master_keys"][bot_id], keys["self_signing_keys"][bot_id]
    [(master_id, master_pub)] = master["keys"].items()
    [(ssk_id, ssk_pub)] = ssk["keys"].items()
    verify_signed_json(ssk, bot_id, decode_verify_key_bytes(master_id, decode_base64(master_pub)))
    for bot in bots:
        device = keys["device_keys"][bot_id][bot.client.device_id]
        verify_signed_json(device, bot_id, decode_verify_key_bytes(ssk_id, decode_base64(ssk_pub)))
    return str(master_pub)


async def test_instances_one_after_the_other_share_one_identity(world: World, tmp_path: Path,
                                                                pg_url: str) -> None:
    db = {"CASUSBOT_DATABASE_URL": pg_url}
    _, first = await world.start_bot(**db, CASUSBOT_STORE_PATH=str(tmp_path / "store-a"))
    master = _signed_by_one_identity(world, [first])
    _, second = await world.start_bot(**db, CASUSBOT_STORE_PATH=str(tmp_path / "store-b"))
    assert second.client.device_id != first.client.device_id
    assert _signed_by_one_identity(world, [first, second]) == master
    # A restore onto a new store (a new device of the same instance) keeps the identity.
    await world.stop_bot(first)
    _, restored = await world.start_bot(**db, CASUSBOT_STORE_PATH=str(tmp_path / "store-c"))
    assert _signed_by_one_identity(world, [second, restored]) == master


async def test_instances_starting_at_the_same_moment_make_one_identity(
        world: World, tmp_path: Path, pg_url: str) -> None:
    started = await asyncio.gather(*(
        world.start_bot(CASUSBOT_DATABASE_URL=pg_url,
                        CASUSBOT_STORE_PATH=str(tmp_path / f"store-{name}"))
        for name in ("a", "b", "c")))
    bots = [bot for _, bot in started]
    master = _signed_by_one_identity(world, bots)
    row = crosssigning.identity(started[0][0].engine, world.bot_user.user_id)
    assert row is not None and row.master_public == master


async def test_an_identity_the_instance_cannot_use_is_never_replaced(
        world: World, tmp_path: Path, pg_url: str) -> None:
    app, first = await world.start_bot(CASUSBOT_DATABASE_URL=pg_url,
                                       CASUSBOT_STORE_PATH=str(tmp_path / "store-a"))
    master = _signed_by_one_identity(world, [first])
    # Another database (no identity in it), and the same database under another key.
    app2, other_db = await world.start_bot(CASUSBOT_STORE_PATH=str(tmp_path / "store-b"))
    app3, wrong_key = await world.start_bot(CASUSBOT_DATABASE_URL=pg_url,
                                            CASUSBOT_REF_KEY="another-key-0123456789",
                                            CASUSBOT_STORE_PATH=str(tmp_path / "store-c"))
    keys = _keys(world)
    bot_id = world.bot_user.user_id
    assert next(iter(keys["master_keys"][bot_id]["keys"].values())) == master
    ssk_id = next(iter(keys["self_signing_keys"][bot_id]["keys"]))
    for bot in (other_db, wrong_key):  # left unsigned, not signed by a second identity
        signatures = keys["device_keys"][bot_id][bot.client.device_id]["signatures"][bot_id]
        assert set(signatures) == {f"ed25519:{bot.client.device_id}"}
        assert ssk_id not in signatures
    # What `casusbot doctor` reports for each.
    assert crosssign.status(master, bot_id, app.engine, (app.config.ref_key,))[0]
    for a in (app2, app3):
        ok, detail = crosssign.status(master, bot_id, a.engine, (a.config.ref_key,))
        assert not ok
        assert "crosssign reset" in detail or "CASUSBOT_REF_KEY" in detail


async def test_reset_makes_one_new_identity(world: World, tmp_path: Path, pg_url: str) -> None:
    app, first = await world.start_bot(CASUSBOT_DATABASE_URL=pg_url,
                                       CASUSBOT_STORE_PATH=str(tmp_path / "store-a"))
    old = _signed_by_one_identity(world, [first])
    new = await crosssign.reset(world.synapse.url, world.bot_user.user_id,
                                first.client.device_id, first.client.access_token,
                                world.bot_user.password, app.engine, (app.config.ref_key,),
                                app.clock.now())
    assert new != old and _signed_by_one_identity(world, [first]) == new
    _, second = await world.start_bot(CASUSBOT_DATABASE_URL=pg_url,
                                      CASUSBOT_STORE_PATH=str(tmp_path / "store-b"))
    assert _signed_by_one_identity(world, [first, second]) == new


async def test_a_store_of_an_earlier_version_brings_its_identity_along(
        world: World, tmp_path: Path) -> None:
    """Before the identity lived in the database, each store kept it in cross_signing.json:
    the first start imports it when it is the homeserver's, instead of stopping at it."""
    import aiohttp
    from unpaddedbase64 import encode_base64

    identity = crosssign.Identity.new()
    bot_id = world.bot_user.user_id
    login = world.synapse.login(bot_id.split(":")[0][1:], world.bot_user.password)
    async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {login['access_token']}"}) as http:
        await crosssign.Homeserver(http, world.synapse.url, bot_id,
                                   world.bot_user.password).upload(identity)
    store = tmp_path / "old-store"
    store.mkdir()
    (store / crosssign.LEGACY_FILE).write_text(json.dumps({
        "keys": {u: {"public": getattr(identity, u).version,
                     "seed": encode_base64(getattr(identity, u).encode())}
                 for u in crosssign.USAGES},
        "signed_devices": []}))
    app, bot = await world.start_bot(CASUSBOT_STORE_PATH=str(store))
    assert _signed_by_one_identity(world, [bot]) == identity.master_public
    row = crosssigning.identity(app.engine, bot_id)
    assert row is not None and row.master_public == identity.master_public


async def test_what_a_breaking_test_found(world: World, tmp_path: Path, pg_url: str) -> None:
    """The homeserver's copy of a device is signed only when it is the device's own; a
    reset from a configuration whose key does not open the identity is refused; a second
    database never replaces the identity, not even with the password; doctor fails while
    the stored identity is not on the homeserver."""
    import aiohttp

    app, first = await world.start_bot(CASUSBOT_DATABASE_URL=pg_url,
                                       CASUSBOT_STORE_PATH=str(tmp_path / "store-a"))
    master = _signed_by_one_identity(world, [first])
    bot_id, url, token = world.bot_user.user_id, world.synapse.url, first.client.access_token
    row = crosssigning.identity(app.engine, bot_id)
    assert row is not None
    identity, _ = crosssign.unseal(row.sealed, (app.config.ref_key,), bot_id)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        hs = crosssign.Homeserver(http, url, bot_id, world.bot_user.password)
        with pytest.raises(crosssign.CrossSigningError):
            await hs.sign_device(identity, first.client.device_id,
                                 {"ed25519": "not-the-device's-own-key"})
        # An identity made on another database, uploaded with the password: refused.
        with pytest.raises(crosssign.IdentityUnusable):
            await hs.upload(crosssign.Identity.new())
    with pytest.raises(crosssign.IdentityUnusable):
        await crosssign.reset(url, bot_id, first.client.device_id, token,
                              world.bot_user.password, app.engine, (b"mistyped-key-01234567",),
                              app.clock.now())
    assert _signed_by_one_identity(world, [first]) == master
    assert crosssign.status(None, bot_id, app.engine, (app.config.ref_key,))[0] is False
