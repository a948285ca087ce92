"""The SAS verification protocol's pieces, without I/O (Matrix spec, client-server API,
"Short Authentication String (SAS) verification"; spec version 1.18).

casusbot accepts a verification Element starts: key agreement ``curve25519-hkdf-sha256``,
hash ``sha256``, MAC method ``hkdf-hmac-sha256.v2`` (the spec: "if both parties support
hkdf-hmac-sha256.v2, then hkdf-hmac-sha256 MUST not be used"; the old method is accepted
only when the other side offers nothing else), short authentication strings ``emoji`` and
``decimal``. The elliptic-curve and HKDF/HMAC work is vodozemac's (``vodozemac.Sas``), the
library nio's own crypto is built on; this module says what goes into it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import vodozemac
from canonicaljson import encode_canonical_json

METHOD = "m.sas.v1"
KEY_AGREEMENT = "curve25519-hkdf-sha256"
HASH = "sha256"
MAC_V2 = "hkdf-hmac-sha256.v2"
MAC_V1 = "hkdf-hmac-sha256"  # deprecated (libolm's wrong base64); only if nothing else
STRINGS = ("emoji", "decimal")


class Cancel(Exception):
    """The flow must be cancelled with ``code`` (an ``m.key.verification.cancel`` code)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def b64(data: bytes) -> str:
    """Unpadded base64 (the spec's encoding of hashes and keys)."""
    return base64.b64encode(data).decode().rstrip("=")


def commitment(public_key: str, start_content: dict[str, Any]) -> str:
    """The accepting side's commitment: unpadded base64 of SHA-256 over its public key
    (unpadded base64) followed by the canonical JSON of the ``m.key.verification.start``
    content as received."""
    return b64(hashlib.sha256(public_key.encode() + encode_canonical_json(start_content))
               .digest())


def sas_info(start_user: str, start_device: str, start_key: str, accept_user: str,
             accept_device: str, accept_key: str, transaction_id: str) -> str:
    """The HKDF info of the SAS bytes for ``curve25519-hkdf-sha256`` ("SAS HKDF
    calculation")."""
    return "|".join(("MATRIX_KEY_VERIFICATION_SAS", start_user, start_device, start_key,
                     accept_user, accept_device, accept_key, transaction_id))


def mac_info(sender_user: str, sender_device: str, receiver_user: str, receiver_device: str,
             transaction_id: str, key_id: str) -> str:
    """The HKDF info of one MAC ("MAC calculation"): ``key_id`` is the key's ID, or
    ``KEY_IDS`` for the MAC of the list of key IDs."""
    return ("MATRIX_KEY_VERIFICATION_MAC" + sender_user + sender_device + receiver_user
            + receiver_device + transaction_id + key_id)


def choose(start: dict[str, Any]) -> str:
    """The MAC method to answer an ``m.key.verification.start`` with; raises ``Cancel``
    (``m.unknown_method``) when the offer lacks what casusbot speaks."""
    if start.get("method") != METHOD:
        raise Cancel("m.unknown_method", "only m.sas.v1 is supported")
    macs = start.get("message_authentication_codes") or []
    if KEY_AGREEMENT not in (start.get("key_agreement_protocols") or []) \
            or HASH not in (start.get("hashes") or []) \
            or not set(STRINGS) & set(start.get("short_authentication_string") or []) \
            or not {MAC_V2, MAC_V1} & set(macs):
        raise Cancel("m.unknown_method", "no common key agreement, hash, MAC or SAS method")
    return MAC_V2 if MAC_V2 in macs else MAC_V1


@dataclass
class Sas:
    """One SAS exchange in which the bot accepts the other side's start.

    ``me``/``them``: (user ID, device ID); ``transaction_id`` the flow's ID (the request's
    transaction ID, or the request event's ID in a room)."""

    me: tuple[str, str]
    them: tuple[str, str]
    transaction_id: str
    start: dict[str, Any]
    mac_method: str = MAC_V2
    strings: tuple[str, ...] = STRINGS
    _sas: Any = field(default_factory=vodozemac.Sas, repr=False)
    _established: Any = field(default=None, repr=False)
    their_key: str | None = None

    @property
    def public_key(self) -> str:
        return str(self._sas.public_key.to_base64())

    def accept(self) -> dict[str, Any]:
        """The ``m.key.verification.accept`` content (without the transaction's fields)."""
        self.mac_method = choose(self.start)
        offered = self.start.get("short_authentication_string") or []
        self.strings = tuple(s for s in STRINGS if s in offered)
        return {"method": METHOD, "key_agreement_protocol": KEY_AGREEMENT, "hash": HASH,
                "message_authentication_code": self.mac_method,
                "short_authentication_string": list(self.strings),
                "commitment": commitment(self.public_key, self.start)}

    def receive_key(self, key: str) -> None:
        """The other side's ephemeral public key (``m.key.verification.key``)."""
        if self._established is not None:
            raise Cancel("m.unexpected_message", "a second key")
        try:
            self._established = self._sas.diffie_hellman(
                vodozemac.Curve25519PublicKey.from_base64(key))
        except Exception as e:  # vodozemac's KeyException: not a Curve25519 key
            raise Cancel("m.invalid_message", "not a Curve25519 key") from e
        self.their_key = key

    def _info(self) -> str:
        assert self.their_key is not None
        # They sent the start, the bot the accept.
        return sas_info(*self.them, self.their_key, *self.me, self.public_key,
                        self.transaction_id)

    def short_string(self) -> tuple[list[int], list[int]]:
        """(emoji numbers, decimals) both sides show."""
        assert self._established is not None
        generated = self._established.bytes(self._info())
        return list(generated.emoji_indices), list(generated.decimals)

    def _mac(self, text: str, info: str) -> str:
        if self.mac_method == MAC_V1:
            return str(self._established.calculate_mac_invalid_base64(text, info))
        return str(self._established.calculate_mac(text, info))

    def mac_content(self, keys: dict[str, str]) -> dict[str, Any]:
        """The ``m.key.verification.mac`` content for the bot's ``keys`` (key ID -> public
        key, e.g. ``ed25519:DEVICE`` and ``ed25519:<master key>``)."""
        info = mac_info(*self.me, *self.them, self.transaction_id, "")
        return {"mac": {k: self._mac(v, info + k) for k, v in keys.items()},
                "keys": self._mac(",".join(sorted(keys)), info + "KEY_IDS")}

    def check_mac(self, content: dict[str, Any], known: dict[str, str]) -> list[str]:
        """Check the other side's ``m.key.verification.mac`` against the keys the bot knows
        of them (``known``: key ID -> public key, from the homeserver's key lists). Returns
        the key IDs it verified; raises ``Cancel`` (``m.key_mismatch``) when the key list
        or any known key's MAC does not match, or when their device key is not among them.
        Key IDs the bot does not know are left unverified."""
        macs = content.get("mac")
        if not isinstance(macs, dict) or not isinstance(content.get("keys"), str):
            raise Cancel("m.invalid_message", "no MAC")
        info = mac_info(*self.them, *self.me, self.transaction_id, "")
        if self._mac(",".join(sorted(macs)), info + "KEY_IDS") != content["keys"]:
            raise Cancel("m.key_mismatch", "the list of keys does not match")
        verified = []
        for key_id, mac in macs.items():
            if key_id not in known:
                continue
            if self._mac(known[key_id], info + key_id) != mac:
                raise Cancel("m.key_mismatch", f"the MAC of {key_id} does not match")
            verified.append(key_id)
        if f"ed25519:{self.them[1]}" not in verified:
            raise Cancel("m.key_mismatch", "their device key was not verified")
        return verified
