"""Cross-signing for the bot's account: one identity for its whole life, every device signed.

Matrix spec, "Cross-signing": an account has a master key, which signs a self-signing key
(which signs the account's devices) and a user-signing key. An organisation verifies the bot
once, by its master key (docs/admin.md); every device the bot's instances log in with is
then trusted, as long as the master key never changes.

So the identity is made once and kept in the database every instance shares
(``storage.crosssigning``): the master key's public part and the three private keys, sealed
with AES-256-GCM under a key derived (HKDF-SHA256) from ``CASUSBOT_REF_KEY``, a secret the
configuration holds and the database never does (a copy of the database alone opens
nothing). On start (``ensure``):

1. the first instance finds no identity, neither in the database nor on the homeserver: it
   creates the keys, stores them (one row: when two instances start at once, the first write
   wins and the other uses its keys) and uploads them;
2. every later instance, or a new store of the same one, unseals the stored keys and signs
   its own device with the self-signing key;
3. an identity on the homeserver this instance cannot use (not in the database, sealed
   under another key, or another master key than the stored one) is never replaced:
   ``IdentityUnusable`` says what to do, the bot logs it once and ``casusbot doctor`` fails;
4. ``reset`` (``casusbot crosssign reset``) is the one way to make a new identity: every
   organisation must then verify the bot again.

A store made before the identity moved into the database (``cross_signing.json`` in the
E2EE store) is imported on first start when its master key is the homeserver's.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.signing import SigningKey
from signedjson.key import decode_signing_key_base64
from signedjson.sign import sign_json
from sqlalchemy.engine import Engine
from unpaddedbase64 import encode_base64

from storage import crosssigning

log = logging.getLogger(__name__)
LEGACY_FILE = "cross_signing.json"
USAGES = ("master", "self_signing", "user_signing")
_HKDF_INFO = b"casusbot cross-signing keys v1"


class CrossSigningError(Exception):
    """The homeserver refused a step (upload, signature); the next start tries again."""


class IdentityUnusable(CrossSigningError):
    """The account has a cross-signing identity this instance cannot use; it is never
    replaced silently (the message says what to configure or run)."""


@dataclass(frozen=True)
class Identity:
    """The three private keys (signedjson signing keys; ``.version`` is the public key,
    unpadded base64)."""

    master: Any
    self_signing: Any
    user_signing: Any

    @property
    def master_public(self) -> str:
        return str(self.master.version)

    @classmethod
    def new(cls) -> Identity:
        return cls(*(_new_key() for _ in USAGES))


def _new_key() -> Any:
    raw = SigningKey.generate()
    public = encode_base64(raw.verify_key.encode())
    return decode_signing_key_base64("ed25519", public, encode_base64(raw.encode()))


def _sealing_key(ref_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_HKDF_INFO).derive(ref_key)


def seal(identity: Identity, ref_key: bytes, user_id: str) -> str:
    """The private keys as stored: base64(nonce 12 bytes + AES-256-GCM ciphertext), bound to
    the account's user ID (associated data)."""
    seeds = {u: encode_base64(getattr(identity, u).encode()) for u in USAGES}
    nonce = os.urandom(12)
    box = AESGCM(_sealing_key(ref_key)).encrypt(nonce, json.dumps(seeds).encode(),
                                                user_id.encode())
    return base64.b64encode(nonce + box).decode()


def unseal(sealed: str, ref_keys: Sequence[bytes], user_id: str) -> tuple[Identity, int]:
    """The identity and the index in ``ref_keys`` of the key that opened it; raises
    ``IdentityUnusable`` when none does."""
    raw = base64.b64decode(sealed)
    for index, ref_key in enumerate(ref_keys):
        try:
            plain = AESGCM(_sealing_key(ref_key)).decrypt(raw[:12], raw[12:], user_id.encode())
        except Exception:  # cryptography's InvalidTag: another key
            continue
        seeds = json.loads(plain)
        return Identity(*(_from_seed(seeds[u]) for u in USAGES)), index
    raise IdentityUnusable(
        "the cross-signing keys stored in the database do not open with CASUSBOT_REF_KEY "
        "(nor CASUSBOT_REF_KEY_PREVIOUS): configure the key the first instance used")


def _from_seed(seed: str) -> Any:
    raw = SigningKey(base64.b64decode(seed + "=" * (-len(seed) % 4)))
    return decode_signing_key_base64("ed25519", encode_base64(raw.verify_key.encode()), seed)


def _public(user_id: str, usage: str, key: Any) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage],
            "keys": {f"ed25519:{key.version}": key.version}}


def _legacy(store: Path) -> Identity | None:
    path = store / LEGACY_FILE
    if not path.exists():
        return None
    keys = json.loads(path.read_text())["keys"]
    return Identity(*(decode_signing_key_base64("ed25519", keys[u]["public"], keys[u]["seed"])
                      for u in USAGES))


@dataclass
class Homeserver:
    """The cross-signing calls of the client-server API, with the bot's token."""

    http: aiohttp.ClientSession
    url: str
    user_id: str
    password: str | None

    async def query(self, device_id: str | None = None) -> dict[str, Any]:
        body = {"device_keys": {self.user_id: [device_id] if device_id else []}}
        async with self.http.post(f"{self.url}/_matrix/client/v3/keys/query",
                                  json=body) as resp:
            if resp.status != 200:
                raise CrossSigningError(f"querying keys: {resp.status}")
            return dict(await resp.json())

    async def master(self) -> str | None:
        """The account's master key on the homeserver (public, base64), or None."""
        master = (await self.query()).get("master_keys", {}).get(self.user_id)
        return next(iter(master["keys"].values())) if master else None

    async def upload(self, identity: Identity) -> None:
        """Upload the identity's public keys, signed as the spec says; user-interactive
        auth with the bot's password when the homeserver asks (a reset always does)."""
        uid = self.user_id
        body: dict[str, Any] = {
            "master_key": _public(uid, "master", identity.master),
            "self_signing_key": sign_json(_public(uid, "self_signing", identity.self_signing),
                                          uid, identity.master),
            "user_signing_key": sign_json(_public(uid, "user_signing", identity.user_signing),
                                          uid, identity.master),
        }
        url = f"{self.url}/_matrix/client/v3/keys/device_signing/upload"
        async with self.http.post(url, json=body) as resp:
            status, reply = resp.status, await resp.json()
        if status == 401 and self.password:
            body["auth"] = {"type": "m.login.password", "session": reply.get("session"),
                            "identifier": {"type": "m.id.user", "user": uid},
                            "password": self.password}
            async with self.http.post(url, json=body) as resp:
                status, reply = resp.status, await resp.json()
        if status != 200:
            if await self.master() == identity.master_public:
                return  # another instance uploaded the same keys at the same moment
            hint = "; set CASUSBOT_PASSWORD" if status == 401 and not self.password else ""
            raise CrossSigningError(f"uploading cross-signing keys: {status} "
                                    f"{reply.get('errcode')}{hint}")

    async def sign_device(self, identity: Identity, device_id: str) -> bool:
        """Sign the device with the self-signing key unless it already is; True if signed
        now."""
        found = await self.query(device_id)
        device = found.get("device_keys", {}).get(self.user_id, {}).get(device_id)
        if not device:
            raise CrossSigningError("the device's own keys are not on the homeserver yet")
        key_id = f"ed25519:{identity.self_signing.version}"
        if key_id in device.get("signatures", {}).get(self.user_id, {}):
            return False
        device.pop("signatures", None)
        device.pop("unsigned", None)
        signed = sign_json(device, self.user_id, identity.self_signing)
        async with self.http.post(f"{self.url}/_matrix/client/v3/keys/signatures/upload",
                                  json={self.user_id: {device_id: signed}}) as resp:
            reply = await resp.json()
            if resp.status != 200 or reply.get("failures"):
                raise CrossSigningError(f"signing the device: {resp.status} "
                                        f"{str(reply.get('failures'))[:200]}")
        return True


async def _identity(hs: Homeserver, engine: Engine, ref_keys: Sequence[bytes], store: Path,
                    now: datetime) -> Identity:
    """The account's one identity, made if there is none anywhere (module docstring)."""
    uid = hs.user_id
    on_server = await hs.master()
    row = crosssigning.identity(engine, uid)
    if row is None:
        legacy = _legacy(store)
        made = legacy if legacy is not None and on_server == legacy.master_public else None
        if made is None and on_server is not None:
            raise IdentityUnusable(
                f"the account already has a cross-signing identity (master key "
                f"{on_server[:8]}…) whose private keys this database does not hold; it is "
                "not replaced: start the instance that holds it once with this database, "
                "or make a new one with `casusbot crosssign reset` (every organisation "
                "then verifies the bot again)")
        made = made or Identity.new()
        if crosssigning.claim(engine, uid, made.master_public, seal(made, ref_keys[0], uid),
                              now):
            if on_server is None:
                await hs.upload(made)
                log.info("cross-signing identity created",
                         extra={"master_key": made.master_public})
            return made
        row = crosssigning.identity(engine, uid)  # another instance was first: use its keys
        assert row is not None
    identity, opened_with = unseal(row.sealed, ref_keys, uid)
    if opened_with:  # sealed under a previous CASUSBOT_REF_KEY: reseal under the current one
        crosssigning.replace(engine, uid, row.master_public, seal(identity, ref_keys[0], uid),
                             now)
    if on_server is None:
        await hs.upload(identity)  # the first upload failed, or another instance's is late
    elif on_server != row.master_public:
        raise IdentityUnusable(
            f"the account's master key on the homeserver ({on_server[:8]}…) is not the one "
            f"stored for this bot ({row.master_public[:8]}…); it is not replaced: "
            "`casusbot crosssign reset` makes one identity again")
    return identity


async def ensure(homeserver: str, user_id: str, device_id: str, token: str, store: Path,
                 password: str | None, engine: Engine, ref_keys: Sequence[bytes],
                 now: datetime) -> bool:
    """Use the account's one identity (made on the first start of the first instance) and
    sign ``device_id`` with it; True if the device was signed now. Raises
    ``IdentityUnusable`` or ``CrossSigningError``."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        hs = Homeserver(http, homeserver, user_id, password)
        identity = await _identity(hs, engine, ref_keys, store, now)
        signed = await hs.sign_device(identity, device_id)
    if signed:
        log.info("device signed with the cross-signing key",
                 extra={"device_id": device_id, "master_key": identity.master_public})
    return signed


async def reset(homeserver: str, user_id: str, device_id: str, token: str, password: str | None,
                engine: Engine, ref_key: bytes, now: datetime) -> str:
    """Replace the account's identity by a new one (uploaded with the bot's password) and
    sign ``device_id``; returns the new master key. Every organisation that verified the
    bot must verify it again; the other instances sign their devices at their next start."""
    identity = Identity.new()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        hs = Homeserver(http, homeserver, user_id, password)
        await hs.upload(identity)
        crosssigning.replace(engine, user_id, identity.master_public,
                             seal(identity, ref_key, user_id), now)
        await hs.sign_device(identity, device_id)
    log.warning("cross-signing identity replaced", extra={"master_key": identity.master_public})
    return identity.master_public


def status(on_server: str | None, user_id: str, engine: Engine,
           ref_keys: Sequence[bytes]) -> tuple[bool, str]:
    """For ``casusbot doctor``: (usable, what was found), given the master key the
    homeserver has for the account (``on_server``, None if it has none)."""
    row = crosssigning.identity(engine, user_id)
    if row is None and on_server is None:
        return True, "not set up yet: the first start of the bot creates it"
    if row is None:
        assert on_server is not None
        return False, (f"the account has a cross-signing identity ({on_server[:8]}…) whose "
                       "keys this database does not hold: start the instance that created it "
                       "once, or run `casusbot crosssign reset`")
    try:
        unseal(row.sealed, ref_keys, user_id)
    except IdentityUnusable as e:
        return False, str(e)
    if on_server is not None and on_server != row.master_public:
        return False, (f"the homeserver's master key ({on_server[:8]}…) is not the stored one "
                       f"({row.master_public[:8]}…): run `casusbot crosssign reset`")
    return True, f"master key {row.master_public[:8]}…, shared by every instance"
