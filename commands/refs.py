"""Keyed hashes of external references (and forbidden words), with key rotation.

A value is HMAC-SHA256 under the oldest key, then HMAC-SHA256 of that hash under each later
key in turn. Rotation (``casusbot rekey``) wraps every stored hash in one more HMAC under the
new key, so it needs no plaintext; lookups need the whole chain of keys. A leaked old key
alone does not let anyone test guesses against the database: the newest key is needed too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

Keys = bytes | Sequence[bytes]


def _chain(keys: Keys) -> tuple[bytes, ...]:
    return (keys,) if isinstance(keys, bytes) else tuple(keys)


def chained(keys: Keys, message: bytes) -> str:
    chain = _chain(keys)
    if not chain:
        raise ValueError("no reference key configured")
    digest = hmac.new(chain[0], message, hashlib.sha256).hexdigest()
    for key in chain[1:]:
        digest = wrap(key, digest)
    return digest


def wrap(new_key: bytes, digest: str) -> str:
    """One rotation step: the stored hash under one more key."""
    return hmac.new(new_key, digest.encode(), hashlib.sha256).hexdigest()


def normalise(reference: str) -> str:
    """Case, spaces, dots and dashes do not matter: "ZD-2026.0042" == "zd20260042"."""
    return re.sub(r"[\s.\-_/]", "", reference).upper()


def keyed_hash(keys: Keys, reference: str) -> str:
    return chained(keys, normalise(reference).encode())
