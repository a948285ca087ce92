"""The PII guard: text that looks like a direct identifier of a person is refused.

Checked, in this order: e-mail address, IBAN (ISO 13616 check digits, python-stdnum), BSN
(the 11-proef, python-stdnum), phone number (Dutch or international, libphonenumber's
``phonenumbers``), Dutch postcode, street address with a house number, date of birth (a date
next to "geboren"/"geb."/"dob"..., or any full date before 2015), and the words an overleg's
chair made forbidden (compared as keyed hashes, so the words themselves are never stored).
A finding carries the kind and a masked form, never the text itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.nl import bsn as stdnum_bsn

from commands.refs import Keys, chained

DOB_BEFORE_YEAR = 2015
MONTHS = ("jan|januari|january|feb|februari|february|mrt|maart|mar|march|apr|april|mei|may|"
          "jun|juni|june|jul|juli|july|aug|augustus|august|sep|sept|september|okt|oktober|oct|"
          "october|nov|november|dec|december")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Compact ("NL91ABNA0417164300") or in groups of four ("NL91 ABNA 0417 1643 00").
_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}"
                   r"(?: [A-Za-z0-9]{1,3})?)\b")
# A BSN as people write it: 9 (or 8) digits, or grouped 4.2.3, 3.3.3 or 3.2.2.2.
_BSN = re.compile(r"(?<![\d+])(?<!\d[ .\-])(?:\d{9}|\d{8}|\d{4}[ .]\d{2}[ .]\d{3}"
                  r"|\d{3}[ .]\d{3}[ .]\d{3}|\d{3}[ .\-]\d{2}[ .\-]\d{2}[ .\-]\d{2})"
                  r"(?!\d)(?![ .\-]\d)")
# Dutch postcodes are written "1234 AB" or "1234AB"; "2026 om 11" is a year and a time.
_POSTCODE = re.compile(r"\b[1-9]\d{3}(?:[ ]?(?!SA|SD|SS)[A-Z]{2}|(?!sa|sd|ss)[a-z]{2})\b")
_STREET = re.compile(
    r"\b[A-Za-z][A-Za-z\-']*(?:straat|laan|weg|plein|gracht|singel|kade|dijk|steeg|hof|"
    r"dreef|markt|pad|park|wal|erf|baan|ring|boulevard|allee|veld|straatweg)"
    r"\s+\d{1,5}(?:\s?[A-Za-z](?![A-Za-z]))?(?:[\s\-]?(?:hs|bis|[A-Za-z]|\d{1,3}))?\b", re.I)
_DATE = re.compile(
    r"\b(?:(?P<d>\d{1,2})[\-/.](?P<m>\d{1,2})[\-/.](?P<y>\d{4})"
    r"|(?P<y2>\d{4})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2})"
    rf"|(?P<d3>\d{{1,2}})\s+(?P<mon>{MONTHS})\.?\s+(?P<y3>\d{{4}}))\b", re.I)
_PARTIAL_DATE = re.compile(rf"\b\d{{1,2}}(?:[\-/.]\d{{1,2}}|\s+(?:{MONTHS}))\b", re.I)
_BIRTH = re.compile(r"\b(?:geboren|geb\.|geb|geboortedatum|geboortejaar|dob|d\.o\.b\.|"
                    r"date of birth|born|birth date|birthdate)(?=\W|$)", re.I)
_OWN_IDS = re.compile(r"\bC-[0-9A-Za-z]{4,8}\b|\b[MA]\d{1,6}\b")
_WORD = re.compile(r"[\w'\-]+", re.UNICODE)


@dataclass(frozen=True)
class Finding:
    kind: str  # email | iban | bsn | phone | postcode | address | birthdate | forbidden
    masked: str


def mask(value: str) -> str:
    """Keep the first two and last two visible characters; star the rest."""
    chars = [c for c in value.strip()]
    visible = [i for i, c in enumerate(chars) if c.isalnum()]
    if len(visible) <= 4:
        return "*" * len(value.strip())
    hide = set(visible[2:-2])
    return "".join("*" if i in hide else c for i, c in enumerate(chars))


def normalise_word(word: str) -> str:
    text = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def word_hash(keys: Keys, word: str) -> str:
    """The keyed hash under which a forbidden word (or phrase) is kept."""
    phrase = " ".join(normalise_word(w) for w in word.split() if normalise_word(w))
    return chained(keys, b"forbidden:" + phrase.encode())


def _forbidden(text: str, key: Keys, hashes: frozenset[str]) -> Finding | None:
    words = [w for w in _WORD.findall(text) if normalise_word(w)]
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            phrase = " ".join(words[i:i + size])
            if word_hash(key, phrase) in hashes:
                return Finding("forbidden", mask(phrase))
    return None


def _birthdate(text: str) -> Finding | None:
    has_keyword = _BIRTH.search(text) is not None
    for m in _DATE.finditer(text):
        year = int(m["y"] or m["y2"] or m["y3"])
        if has_keyword or year < DOB_BEFORE_YEAR:
            return Finding("birthdate", mask(m[0]))
    if has_keyword:
        partial = _PARTIAL_DATE.search(text)
        if partial:
            return Finding("birthdate", mask(partial[0]))
    return None


def _iban_ok(candidate: str) -> bool:
    """ISO 13616 check digits (mod 97) only: bank-specific rules vary and miss real IBANs."""
    try:
        stdnum_iban.validate(candidate.replace(" ", ""), check_country=False)
    except ValueError:
        return False
    return True


def _phone(text: str) -> Finding | None:
    for match in phonenumbers.PhoneNumberMatcher(text, "NL",
                                                 leniency=phonenumbers.Leniency.VALID):
        return Finding("phone", mask(match.raw_string))
    # Numbers written with unusual separators ("06.123.456.78") that the matcher skips.
    for m in re.finditer(r"(?<![\w/])(?:\+|00|0)\d[\d .\-()]{7,16}\d(?![\w/])", text):
        digits = re.sub(r"\D", "", m[0])
        candidate = m[0] if m[0].startswith("+") else digits
        try:
            number = phonenumbers.parse(candidate, "NL")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and len(digits) >= 9 \
                and not _DATE.fullmatch(m[0].strip()):
            return Finding("phone", mask(m[0]))
    return None


def scan(text: str, *, key: Keys = b"", forbidden: Iterable[str] = ()) -> Finding | None:
    """The first direct identifier in ``text``, or None."""
    # Our own IDs are not about a person, but "C-5823AK" reads like a postcode.
    text = _OWN_IDS.sub(" ", text)
    if m := _EMAIL.search(text):
        return Finding("email", mask(m[0]))
    for m in _IBAN.finditer(text):
        if _iban_ok(m[0]):
            return Finding("iban", mask(m[0]))
    for m in _BSN.finditer(text):
        digits = re.sub(r"\D", "", m[0])
        if stdnum_bsn.is_valid(digits) and int(digits) != 0:
            return Finding("bsn", mask(m[0]))
    if found := _phone(text):
        return found
    if m := _POSTCODE.search(text):
        return Finding("postcode", mask(m[0]))
    if m := _STREET.search(text):
        return Finding("address", mask(m[0]))
    if found := _birthdate(text):
        return found
    hashes = frozenset(forbidden)
    if hashes and key:
        return _forbidden(text, key, hashes)
    return None
