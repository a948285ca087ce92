"""External references, kept only as HMAC-SHA256 under a key that lives outside the database."""

from __future__ import annotations

import hashlib
import hmac
import re


def normalise(reference: str) -> str:
    """Case, spaces, dots and dashes do not matter: "ZD-2026.0042" == "zd20260042"."""
    return re.sub(r"[\s.\-_/]", "", reference).upper()


def keyed_hash(key: bytes, reference: str) -> str:
    return hmac.new(key, normalise(reference).encode(), hashlib.sha256).hexdigest()
