"""Sealing the cross-signing keys (``bot.crosssign``): only the configured key opens them,
a previous key still does (and says so), and the seal is bound to the account."""

from __future__ import annotations

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
