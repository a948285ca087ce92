"""Case IDs: ``C-`` + Crockford base32, random, the last character a Luhn mod 32 check.

Crockford's alphabet leaves out I, L, O and U; on input I/L read as 1 and O as 0, and case does
not matter. The check character (Luhn mod N with N = 32) catches every single-character typo
and every swap of two adjacent different characters except one pair (0 and Z, the first and last
values); Crockford's own mod-37 check would need the symbols * ~ $ = U in IDs.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_ALIASES = {"O": "0", "I": "1", "L": "1"}
N = len(ALPHABET)
MIN_LEN, MAX_LEN = 5, 8  # characters after "C-", check character included
NEW_LEN = 6


def check_char(data: str) -> str:
    """The Luhn mod 32 check character for canonical ``data``."""
    factor, total = 2, 0
    for c in reversed(data):
        addend = factor * _VALUE[c]
        total += addend // N + addend % N
        factor = 1 if factor == 2 else 2
    return ALPHABET[(N - total % N) % N]


def new_code(length: int = NEW_LEN) -> str:
    """A fresh random code (without ``C-``), from the OS's secure random source."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(length - 1))
    return data + check_char(data)


def normalise(text: str) -> str | None:
    """The canonical code for ``text`` ("c-7k2fq", "C-7K2FO"…), or None if it is none.

    None for a wrong shape, a character outside the alphabet, or a failing check character.
    """
    t = text.strip().upper()
    if not t.startswith("C-"):
        return None
    t = t[2:]
    t = "".join(_ALIASES.get(c, c) for c in t)
    if not (MIN_LEN <= len(t) <= MAX_LEN) or any(c not in _VALUE for c in t):
        return None
    if check_char(t[:-1]) != t[-1]:
        return None
    return t


def mistyped(text: str) -> bool:
    """Whether ``text`` (with or without ``C-``) has a case ID's shape, length and alphabet
    but a failing check character: most likely a typo of a real ID."""
    t = text.strip().upper()
    t = t[2:] if t.startswith("C-") else t[1:] if t.startswith("C") and len(t) > MAX_LEN else t
    t = "".join(_ALIASES.get(c, c) for c in t)
    return MIN_LEN <= len(t) <= MAX_LEN and all(c in _VALUE for c in t) and \
        check_char(t[:-1]) != t[-1]


def display(code: str) -> str:
    return f"C-{code}"
