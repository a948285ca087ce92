"""Cross-signing for the bot's account, so Element shows its device as verified by its owner.

At the first start of a device the bot creates its master, self-signing and user-signing
keys (Ed25519), uploads them, and signs its own device with the self-signing key. The private
keys stay in the E2EE store (``cross_signing.json``, mode 600). An organisation then verifies
the bot once, by its master key (see docs/admin.md), instead of every device.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
from nacl.signing import SigningKey
from signedjson.key import decode_signing_key_base64
from signedjson.sign import sign_json
from unpaddedbase64 import encode_base64

from bot.private import write_private

log = logging.getLogger(__name__)
FILE = "cross_signing.json"


class CrossSigningError(Exception):
    pass


def _new_key() -> Any:
    raw = SigningKey.generate()
    public = encode_base64(raw.verify_key.encode())
    return decode_signing_key_base64("ed25519", public, encode_base64(raw.encode()))


def _load(path: Path) -> dict[str, Any]:
    keys = json.loads(path.read_text())
    return {usage: decode_signing_key_base64("ed25519", v["public"], v["seed"])
            for usage, v in keys["keys"].items()} | {"signed_devices": keys["signed_devices"]}


def _save(path: Path, keys: dict[str, Any], signed: list[str]) -> None:
    data = {"keys": {u: {"public": k.version, "seed": encode_base64(k.encode())}
                     for u, k in keys.items() if u != "signed_devices"},
            "signed_devices": signed}
    write_private(path, json.dumps(data))


def _public(user_id: str, usage: str, key: Any) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage],
            "keys": {f"ed25519:{key.version}": key.version}}


async def ensure(homeserver: str, user_id: str, device_id: str, token: str, store: Path,
                 password: str | None = None) -> bool:
    """Bootstrap cross-signing once and sign ``device_id``; True if something was done."""
    path = store / FILE
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        if path.exists():
            keys = _load(path)
        else:
            keys = {u: _new_key() for u in ("master", "self_signing", "user_signing")}
            master = _public(user_id, "master", keys["master"])
            body: dict[str, Any] = {
                "master_key": master,
                "self_signing_key": sign_json(_public(user_id, "self_signing",
                                                      keys["self_signing"]),
                                              user_id, keys["master"]),
                "user_signing_key": sign_json(_public(user_id, "user_signing",
                                                      keys["user_signing"]),
                                              user_id, keys["master"]),
            }
            url = f"{homeserver}/_matrix/client/v3/keys/device_signing/upload"
            async with http.post(url, json=body) as resp:
                status, reply = resp.status, await resp.json()
            if status == 401 and password:
                body["auth"] = {"type": "m.login.password", "session": reply.get("session"),
                                "identifier": {"type": "m.id.user", "user": user_id},
                                "password": password}
                async with http.post(url, json=body) as resp:
                    status, reply = resp.status, await resp.json()
            if status != 200:
                raise CrossSigningError(f"uploading cross-signing keys: {status} "
                                        f"{reply.get('errcode')}")
            keys["signed_devices"] = []
            _save(path, keys, [])
        if device_id in keys["signed_devices"]:
            return False
        async with http.post(f"{homeserver}/_matrix/client/v3/keys/query",
                             json={"device_keys": {user_id: [device_id]}}) as resp:
            device = (await resp.json()).get("device_keys", {}).get(user_id, {}).get(device_id)
        if not device:
            raise CrossSigningError("the device's own keys are not on the homeserver yet")
        device.pop("signatures", None)
        device.pop("unsigned", None)
        signed = sign_json(device, user_id, keys["self_signing"])
        async with http.post(f"{homeserver}/_matrix/client/v3/keys/signatures/upload",
                             json={user_id: {device_id: signed}}) as resp:
            reply = await resp.json()
            if resp.status != 200 or reply.get("failures"):
                raise CrossSigningError(f"signing the device: {resp.status} "
                                        f"{str(reply.get('failures'))[:200]}")
        _save(path, keys, [*keys["signed_devices"], device_id])
    log.info("device signed with the cross-signing key",
             extra={"device_id": device_id, "master_key": keys["master"].version})
    return True
