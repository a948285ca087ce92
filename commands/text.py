"""Unicode clean-up of what people type, shared by the parsers and the PII guard.

``clean`` removes what nobody typed on purpose (a command is read from it); ``skeleton``
goes further for the PII guard only, so that no written form hides an identifier from it:
Unicode NFKC (fullwidth and mathematical digits and letters become ASCII), combining marks
dropped, letters of other scripts that look like Latin ones folded to them, digits of every
script made ASCII, every dash a hyphen-minus, every run of white space (line breaks
included) one space.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path

MATRIX_LOCALPART = r"@[a-z0-9._=\-/+]+"
"""A Matrix user ID's ``@localpart`` in the grammar the spec gives for user IDs (lower-case
letters, digits and ``._=-/+``; Matrix Specification, Appendices, "User Identifiers"; the
wider historical IDs of old servers are not accepted)."""
MATRIX_USER = re.compile(rf"^{MATRIX_LOCALPART}:[A-Za-z0-9.\-]+(?::\d{{1,5}})?$", re.ASCII)
"""A whole Matrix user ID: ``@localpart:server.name`` with an optional port (no IPv6
literal); the one pattern the configuration and the parsers check typed user IDs with."""

# What clients and keyboards put in or before a command that nobody typed on purpose: BOM,
# zero-width space/non-joiner/joiner, word joiner and invisible operators, soft hyphen,
# combining grapheme joiner, Mongolian vowel separator, bidirectional marks, embeddings,
# overrides and isolates (U+200E-F, U+202A-E, U+2066-9, U+061C), variation selectors
# (U+FE00-F, U+E0100-E01EF) and tag characters (U+E0000-E007F); and spaces that are no
# plain space (Unicode "Default_Ignorable_Code_Point" and "White_Space").
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
"""Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15): drawn
as nothing, so nothing anybody typed on purpose."""
_ODD_SPACE = re.compile("[\u00a0\u2007\u202f\u2000-\u200a\u205f\u3000\u1680\u2800]")
# Hyphens, figure dash, en/em dashes, minus signs (after NFKC, which maps the fullwidth and
# small forms to these or to "-").
_DASH = re.compile("[\u2010-\u2015\u2212\u2043\u02d7\u2796\ufe58\ufe63\uff0d]")
_SPACE_RUN = re.compile(r"\s+")


def clean(text: str) -> str:
    """Text as typed, without the invisible characters clients and keyboards add (before
    a command's prefix they would hide it; inside a word they would break it)."""
    return _ODD_SPACE.sub(" ", _INVISIBLE.sub("", text))


def tidy(text: str) -> str:
    """Free text as it is stored: cleaned, Unicode NFKC, on one line with single spaces."""
    return " ".join(unicodedata.normalize("NFKC", clean(text)).split())


@cache
def _look_alikes() -> dict[int, str]:
    """Letters and digits of other scripts that look like an ASCII one (Cyrillic "а",
    Greek "Ο"...), from Unicode's confusables (UTS #39) as the confusable-homoglyphs
    package ships them; read once, on the first text with a non-ASCII character."""
    import confusable_homoglyphs  # type: ignore[import-untyped]

    path = Path(confusable_homoglyphs.__file__).with_name("confusables.json")
    table: dict[int, str] = {}
    for char, entry in json.loads(path.read_text("utf-8")).items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in entry:  # [{"c": look-alike, "n": its name}, ...]
            target = glyph.get("c", "")
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[ord(char)] = target
                break
    return table


def _ascii_digit(ch: str) -> str:
    return str(unicodedata.digit(ch)) if not ch.isascii() and ch.isdecimal() else ch


def without_marks(text: str) -> str:
    """``text`` in NFKD without its combining marks ("Öztürk" -> "Ozturk"), digits of
    every script made ASCII."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(_ascii_digit(c) for c in text if not unicodedata.combining(c))


def skeleton(text: str) -> str:
    """``text`` as the PII guard reads it (see the module's docstring); same meaning, not
    the same length: positions in it are not positions in ``text``."""
    text = clean(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", without_marks(text)).translate(_look_alikes())
    return _SPACE_RUN.sub(" ", _DASH.sub("-", text)).strip()
