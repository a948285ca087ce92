"""Sealing the cross-signing keys (``bot.crosssign``): only the configured key opens them,
a previous key still does (and says so), and the seal is bound to the account."""

from __future__ import annotations

import base64
import json

import pytest

from bot.crosssign import Identity, IdentityUnusable, seal, unseal

USER = "@casusbot:example.org"


def test_the_configured_key_opens_the_seal_and_no_other() -> None:
    identity = Identity.new()
    sealed = seal(identity, b"current-key-0123456789", USER)
    opened, index = unseal(sealed, (b"current-key-0123456789",), USER)
    assert index == 0
    assert opened.master_public == identity.master_public
    assert opened.self_signing.version == identity.self_signing.version
    assert opened.user_signing.encode() == identity.user_signing.encode()
    with pytest.raises(IdentityUnusable):
        unseal(sealed, (b"another-key-0123456789",), USER)
    with pytest.raises(IdentityUnusable):  # bound to the account it was made for
        unseal(sealed, (b"current-key-0123456789",), "@other:example.org")


def test_a_previous_key_opens_it_and_is_named() -> None:
    identity = Identity.new()
    sealed = seal(identity, b"old-key-0123456789", USER)
    opened, index = unseal(sealed, (b"new-key-0123456789", b"old-key-0123456789"), USER)
    assert index == 1 and opened.master_public == identity.master_public


def test_the_seal_holds_no_key_in_the_clear() -> None:
    identity = Identity.new()
    sealed = seal(identity, b"current-key-0123456789", USER)
    from unpaddedbase64 import encode_base64
    for key in (identity.master, identity.self_signing, identity.user_signing):
        assert encode_base64(key.encode()) not in sealed
    assert seal(identity, b"current-key-0123456789", USER) != sealed  # a fresh nonce


def _reference_seal(plain: bytes, ref_key: bytes, user_id: str, nonce: bytes) -> str:
    """A seal as written before the bot used pycryptodome: the ``cryptography`` package's
    HKDF-SHA256 and AES-GCM (an independent implementation of RFC 5869 and NIST SP 800-38D)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"casusbot cross-signing keys v1").derive(ref_key)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, user_id.encode())).decode()


def test_seals_made_with_the_cryptography_package_open_and_new_ones_match_them() -> None:
    identity = Identity.new()
    sealed = seal(identity, b"current-key-0123456789", USER)
    raw = base64.b64decode(sealed)
    nonce = raw[:12]
    # The plain text the seal holds, read with the reference implementation.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"casusbot cross-signing keys v1").derive(b"current-key-0123456789")
    plain = AESGCM(key).decrypt(nonce, raw[12:], USER.encode())
    assert json.loads(plain)["master"]
    # Sealed by the reference with the same nonce: the same bytes, and it opens.
    old = _reference_seal(plain, b"current-key-0123456789", USER, nonce)
    assert old == sealed
    opened, index = unseal(old, (b"current-key-0123456789",), USER)
    assert index == 0 and opened.master_public == identity.master_public


@pytest.mark.parametrize("where", [0, 12, -1])
def test_a_seal_with_one_bit_changed_does_not_open(where: int) -> None:
    raw = bytearray(base64.b64decode(seal(Identity.new(), b"current-key-0123456789", USER)))
    raw[where] ^= 0x01  # in the nonce, the ciphertext, the tag
    with pytest.raises(IdentityUnusable):
        unseal(base64.b64encode(bytes(raw)).decode(), (b"current-key-0123456789",), USER)


@pytest.mark.parametrize("plain", [b"not json", b"[]", b'{"master": "AAAA"}',
                                   b'{"master": 1, "self_signing": 2, "user_signing": 3}'])
def test_a_seal_that_opens_to_something_else_than_the_keys_is_refused_by_name(
        plain: bytes) -> None:
    # Sealed with the right key and account (a valid tag), but not the three keys inside:
    # refused as damaged, not a traceback.
    sealed = _reference_seal(plain, b"current-key-0123456789", USER, b"\x00" * 12)
    with pytest.raises(IdentityUnusable, match="damaged"):
        unseal(sealed, (b"current-key-0123456789",), USER)
