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
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF
from nacl.exceptions import CryptoError as NaclError
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
    """HKDF-SHA256 (RFC 5869) of ``ref_key``, no salt, 32 bytes.

    AES-GCM and HKDF come from pycryptodome, which matrix-nio loads already (attachments):
    the ``cryptography`` package did the same, but its import added about 7 MB to the bot's
    memory (measured in ``make bench``'s scale part); tests/unit/test_crosssign.py checks
    both give the same bytes."""
    key = HKDF(ref_key, 32, None, SHA256, context=_HKDF_INFO)
    assert isinstance(key, bytes)
    return key


def _gcm(ref_key: bytes, nonce: bytes, user_id: str) -> Any:
    """AES-256-GCM (16-byte tag) under the sealing key, the user ID as associated data."""
    cipher = AES.new(_sealing_key(ref_key), AES.MODE_GCM, nonce=nonce)
    cipher.update(user_id.encode())
    return cipher


def seal(identity: Identity, ref_key: bytes, user_id: str) -> str:
    """The private keys as stored: base64(nonce 12 bytes + AES-256-GCM ciphertext), bound to
    the account's user ID (associated data)."""
    seeds = {u: encode_base64(getattr(identity, u).encode()) for u in USAGES}
    nonce = os.urandom(12)
    ciphertext, tag = _gcm(ref_key, nonce, user_id).encrypt_and_digest(
        json.dumps(seeds).encode())
    return base64.b64encode(nonce + ciphertext + tag).decode()


def unseal(sealed: str, ref_keys: Sequence[bytes], user_id: str) -> tuple[Identity, int]:
    """The identity and the index in ``ref_keys`` of the key that opened it; raises
    ``IdentityUnusable`` when none does."""
    try:
        raw = base64.b64decode(sealed, validate=True)
    except ValueError:
        raw = b""
    if len(raw) < 12 + 16:
        raise IdentityUnusable("the cross-signing keys stored in the database are damaged "
                               "(not a sealed value): `casusbot crosssign reset` makes new ones")
    for index, ref_key in enumerate(ref_keys):
        try:
            plain = _gcm(ref_key, raw[:12], user_id).decrypt_and_verify(raw[12:-16],
                                                                         raw[-16:])
        except ValueError:  # the tag does not match: another key
            continue
        try:
            seeds = json.loads(plain)
            return Identity(*(_from_seed(seeds[u]) for u in USAGES)), index
        except (ValueError, TypeError, KeyError, NaclError) as e:  # (JSON's error a ValueError)
            raise IdentityUnusable(
                "the cross-signing keys stored in the database open but are damaged (not "
                "the three keys): `casusbot crosssign reset` makes new ones") from e
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

    async def upload(self, identity: Identity, replace: bool = False) -> None:
        """Upload the identity's public keys, signed as the spec says. User-interactive
        auth with the bot's password when the homeserver asks: for a reset (``replace``),
        or for a first upload when the account still has no identity; never to replace an
        identity another instance uploaded meanwhile (``IdentityUnusable``)."""
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
        if status == 401 and self.password and not replace:
            other = await self.master()
            if other is not None and other != identity.master_public:
                raise IdentityUnusable(
                    f"another cross-signing identity ({other[:8]}…) was uploaded for the "
                    "account at the same moment, from an instance on another database: point "
                    "every instance's CASUSBOT_DATABASE_URL at one shared database")
        if status == 401 and self.password:
            body["auth"] = {"type": "m.login.password", "session": reply.get("session"),
                            "identifier": {"type": "m.id.user", "user": uid},
                            "password": self.password}
            async with self.http.post(url, json=body) as resp:
                status, reply = resp.status, await resp.json()
        if status != 200:
            if await self.master() == identity.master_public:
                return  # another instance uploaded the same keys at the same moment
            hint = ": the homeserver asks for the bot's password, set CASUSBOT_PASSWORD" \
                if status == 401 and not self.password else f" {reply.get('errcode') or ''}"
            raise CrossSigningError(f"uploading cross-signing keys: {status}{hint}".rstrip())

    async def sign_device(self, identity: Identity, device_id: str,
                          own_keys: dict[str, str] | None) -> bool:
        """Sign the device with the self-signing key unless it already is; True if signed
        now. ``own_keys``: the device's identity keys as its own Olm account holds them
        ({"ed25519": …, "curve25519": …}); the homeserver's copy is signed only when it
        holds exactly those (a homeserver must not get another key certified)."""
        found = await self.query(device_id)
        device = found.get("device_keys", {}).get(self.user_id, {}).get(device_id)
        if not device:
            raise CrossSigningError("the device's own keys are not on the homeserver yet")
        if own_keys is not None:
            served = device.get("keys", {})
            if any(served.get(f"{algorithm}:{device_id}") != key
                   for algorithm, key in own_keys.items()):
                raise CrossSigningError("the homeserver's copy of this device's keys is not "
                                        "the device's own: not signed")
        key_id = f"ed25519:{identity.self_signing.version}"
        if key_id in device.get("signatures", {}).get(self.user_id, {}):
            return False
        device.pop("signatures", None)
        device.pop("unsigned", None)
        signed = sign_json(device, self.user_id, identity.self_signing)
        await self.upload_signatures({self.user_id: {device_id: signed}}, "the device")
        return True

    async def upload_signatures(self, body: dict[str, Any], what: str) -> None:
        """``POST /keys/signatures/upload`` of ``body`` (user -> key ID -> signed key);
        raises ``CrossSigningError`` naming ``what`` when it or a signature fails."""
        async with self.http.post(f"{self.url}/_matrix/client/v3/keys/signatures/upload",
                                  json=body) as resp:
            reply = await resp.json()
            if resp.status != 200 or reply.get("failures"):
                raise CrossSigningError(f"signing {what}: {resp.status} "
                                        f"{str(reply.get('failures'))[:200]}")


_NOT_HELD = ("this database does not hold its private keys; it is not replaced: point "
             "CASUSBOT_DATABASE_URL at the database the other instances of this bot use, or "
             "make a new identity with `casusbot crosssign reset` (every organisation then "
             "verifies the bot again)")
TIMEOUT = aiohttp.ClientTimeout(total=30)
"""Each cross-signing call's limit: a slow homeserver never holds up the bot's start."""


def _opened(row: Any, ref_keys: Sequence[bytes], uid: str) -> Identity:
    """The stored identity, checked against the public master key stored beside it."""
    identity, _ = unseal(row.sealed, ref_keys, uid)
    if identity.master_public != row.master_public:
        raise IdentityUnusable("the stored cross-signing keys are not those of the stored "
                               "master key (the row was altered): `casusbot crosssign reset`")
    return identity


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
            raise IdentityUnusable(f"the account already has a cross-signing identity (master "
                                   f"key {on_server[:8]}…) and {_NOT_HELD}")
        made = made or Identity.new()
        if crosssigning.claim(engine, uid, made.master_public, seal(made, ref_keys[0], uid),
                              now):
            if made is legacy:
                (store / LEGACY_FILE).unlink()  # its keys are in the database now, sealed
            if on_server is None:
                await hs.upload(made)
                log.info("cross-signing identity created",
                         extra={"master_key": made.master_public})
            return made
        row = crosssigning.identity(engine, uid)  # another instance was first: use its keys
        assert row is not None
    identity = _opened(row, ref_keys, uid)
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
                 now: datetime, own_keys: dict[str, str] | None = None) -> bool:
    """Use the account's one identity (made on the first start of the first instance) and
    sign ``device_id`` (whose own identity keys are ``own_keys``) with it; True if the
    device was signed now. Raises ``IdentityUnusable``, ``CrossSigningError``,
    ``aiohttp.ClientError`` or ``TimeoutError`` (each call: ``TIMEOUT``)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers, timeout=TIMEOUT) as http:
        hs = Homeserver(http, homeserver, user_id, password)
        identity = await _identity(hs, engine, ref_keys, store, now)
        signed = await hs.sign_device(identity, device_id, own_keys)
    if signed:
        log.info("device signed with the cross-signing key",
                 extra={"device_id": device_id, "master_key": identity.master_public})
    return signed


async def reset(homeserver: str, user_id: str, device_id: str, token: str, password: str | None,
                engine: Engine, ref_keys: Sequence[bytes], now: datetime,
                force: bool = False) -> str:
    """Replace the account's identity by a new one (uploaded with the bot's password) and
    sign ``device_id``; returns the new master key. Refused (``IdentityUnusable``) unless
    the stored identity opens with ``ref_keys`` (a mistyped key or another database would
    leave every other instance without keys), unless ``force``. The new keys are stored
    before they are uploaded; if the upload fails the old row is put back. Every
    organisation that verified the bot must verify it again; the other instances sign
    their devices at their next start."""
    old = crosssigning.identity(engine, user_id)
    if old is not None and not force:
        _opened(old, ref_keys, user_id)
    identity = Identity.new()
    crosssigning.replace(engine, user_id, identity.master_public,
                         seal(identity, ref_keys[0], user_id), now)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers, timeout=TIMEOUT) as http:
        hs = Homeserver(http, homeserver, user_id, password)
        try:
            await hs.upload(identity, replace=True)
        except BaseException:
            if old is not None:
                crosssigning.replace(engine, user_id, old.master_public, old.sealed, now)
            raise
        await hs.sign_device(identity, device_id, None)
    log.warning("cross-signing identity replaced", extra={"master_key": identity.master_public})
    return identity.master_public


def status(on_server: str | None, user_id: str, engine: Engine,
           ref_keys: Sequence[bytes]) -> tuple[bool, str]:
    """For ``casusbot doctor``: (usable, what was found), given the master key the
    homeserver has for the account (``on_server``; None if it has none, "?" if it could
    not be asked)."""
    row = crosssigning.identity(engine, user_id)
    if row is None and on_server is None:
        return True, "not set up yet: the first start of the bot creates it"
    if row is None:
        if on_server == "?":
            return True, "not in this database yet (the homeserver was not asked)"
        assert on_server is not None
        return False, f"the account has a cross-signing identity ({on_server[:8]}…) and {_NOT_HELD}"
    try:
        _opened(row, ref_keys, user_id)
    except IdentityUnusable as e:
        return False, str(e)
    if on_server is None:
        return False, ("stored, but not on the homeserver: the upload failed (see the log, "
                       "\"cross-signing not set up\"); the bot tries again at its next start")
    if on_server != "?" and on_server != row.master_public:
        return False, (f"the homeserver's master key ({on_server[:8]}…) is not the stored one "
                       f"({row.master_public[:8]}…): run `casusbot crosssign reset`")
    return True, f"master key {row.master_public[:8]}…, opened by the configured key"


async def sign_user(homeserver: str, user_id: str, token: str, engine: Engine,
                    ref_keys: Sequence[bytes], other: str, master: dict[str, Any]) -> None:
    """Sign ``other``'s master key (``master``: the key object as the homeserver's
    ``/keys/query`` served it) with the bot's user-signing key and upload the signature
    (Matrix spec, "Cross-signing": a user trusts another user's identity this way).
    Called only after an interactive verification proved that master key (issue 22).
    Raises ``IdentityUnusable``, ``CrossSigningError`` or ``aiohttp.ClientError``."""
    row = crosssigning.identity(engine, user_id)
    if row is None:
        raise CrossSigningError("the bot has no cross-signing identity yet")
    identity = _opened(row, ref_keys, user_id)
    key = {k: v for k, v in master.items() if k not in ("signatures", "unsigned")}
    signed = sign_json(key, user_id, identity.user_signing)
    public = next(iter(key["keys"].values()))
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers, timeout=TIMEOUT) as http:
        await Homeserver(http, homeserver, user_id, None).upload_signatures(
            {other: {public: signed}}, f"{other}'s master key")
    log.info("administrator's master key signed", extra={"user": other})
