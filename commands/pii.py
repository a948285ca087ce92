"""The PII guard: text that looks like a direct identifier of a person is refused.

What it keeps out: docs/privacy.md, "What casusbot never stores or sends". ``scan`` reads
one free-text value (a description, a place, a name: what would be stored or sent) in its
skeleton form (``commands.text``: NFKC, no invisible or combining characters, ASCII
digits, one kind of dash and space), so a non-breaking space, a line break or fullwidth
digits hide nothing. Numbers may be written with any of the separators people put in them
(spaces, dots, dashes, slashes).

Kinds, each with the source of its rule:
- ``email``: also obfuscated (``[at]``, ``(at)``, `` at ``, ``punt``/``dot``, spaces around
  ``@``), non-ASCII local parts.
- ``iban``: ISO 13616 check digits (mod 97) and the country's length and format
  (python-stdnum), any grouping, upper or lower case.
- ``bsn``: the 11-proef (python-stdnum), 9 digits (or 8 without the leading zero) in any
  grouping; a date, an amount or a reference code glued to letters is not read as one.
- ``phone``: numbers libphonenumber (``phonenumbers``) holds valid: Dutch national (10
  digits), ``+31``/``0031``, international; the numbers of organisations (0800, 0900, 0906,
  0909, 088, 14 0xx) identify no person and pass.
- ``postcode``: Dutch "1234 AB" in any case, with or without the space (never SA, SD, SS).
- ``address``: a street word (``…straat``, ``…laan``, ``str.``…) with a house number and
  suffix, or ``nr.``.
- ``birthdate``: a date with "geboren", "geb.", "geboortedatum"…, a full date before
  ``DOB_BEFORE_YEAR``, an age ("16 jaar oud", "(15 jr)", "15-jarige", "leeftijd 15").
- ``kenteken``: the RDW's sidecodes 1-14 of Dutch licence plates.
- ``document``: passport and identity-card numbers (Dutch 9-character format since 2014),
  a number next to "paspoort", "ID-kaart", "rijbewijs", "V-nummer"…
- ``social``: a handle (``@name``), a profile URL of a social network, "insta: name".
- ``name``: a person's name (``commands.names``, the lexicons of the ``deduce`` package).
- ``forbidden``: the words an overleg's chair made forbidden, compared as keyed hashes, so
  the words themselves are never stored.

A finding carries the kind and a masked form, never the text itself (a name: no form).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.nl import bsn as stdnum_bsn

from commands import caseid
from commands import names as person_names
from commands.refs import Keys, chained
from commands.text import MATRIX_LOCALPART, skeleton

DOB_BEFORE_YEAR = 2015
"""A full date before this year in a case plan is read as a date of birth: the people of a
casusoverleg on radicalisation are mostly 12 to 25 years old, events are recent."""
MONTHS = ("januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|"
          "december|january|february|march|may|june|july|august|october|jan|feb|mrt|mar|"
          "apr|jun|jul|aug|sept|sep|okt|oct|nov|dec")
KINDS = ("email", "iban", "bsn", "phone", "postcode", "address", "birthdate", "kenteken",
         "document", "social", "name", "forbidden")

# Our own IDs are about no person, but "C-5823AK" reads like a postcode; a Matrix user ID
# is a member's account, not the case's person, and reads like a handle.
# In running text a user ID's server name must have a dot (or be ``localhost``): "@naam:x"
# is no account of this deployment, and is read as any other handle.
_OWN_IDS = re.compile(rf"\b[MAS]\d{{1,6}}\b|{MATRIX_LOCALPART}:(?:[A-Za-z0-9\-]+"
                      r"(?:\.[A-Za-z0-9\-]+)+|localhost)(?::\d{1,5})?(?![\w\-]|\.[\w\-])")
_CASE_ID = re.compile(r"\b[Cc]-[0-9A-Za-z]{5,8}\b")


def _own_ids(text: str, *, meetings_and_actions: bool = True) -> str:
    """``text`` without our own IDs (a case ID only when its check character is right);
    ``meetings_and_actions=False`` keeps M-, A- and S-IDs and Matrix IDs (a document number
    may hold a group that reads as one: "SWS 9D1 A94")."""
    text = _CASE_ID.sub(lambda m: " " if caseid.normalise(m[0]) else m[0], text)
    return _OWN_IDS.sub(" ", text) if meetings_and_actions else text

# ---- e-mail -------------------------------------------------------------------------------
_AT = re.compile(r"\s*[\[({<]\s*(?:at|apenstaartje|a|@)\s*[\])}>]\s*|\s+@\s*|\s*@\s+", re.I)
_DOT = re.compile(r"\s*[\[({<]\s*(?:dot|punt|\.)\s*[\])}>]\s*", re.I)
_WORDY = re.compile(r"(?<![\w.+\-])([\w.+\-]{1,64})\s+(?:at|apenstaartje)\s+"
                    r"([\w\-]+(?:\s*(?:\.|\s(?:punt|dot)\s)\s*[\w\-]+)+)", re.I)
_EMAIL = re.compile(r"(?<![\w.%+\-'])[\w.%+\-']{1,64}@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")
# "naam@gmail", "naam@hotmail": an address with its domain cut short is still one. (A
# Matrix ID, "@user:server", is set aside before the scan; a handle has nothing before "@".)
_SHORT_EMAIL = re.compile(r"(?<![\w.%+\-'])[\w.%+\-']*[^\W\d_][\w.%+\-']*@[^\W\d_][\w\-]{1,62}"
                          r"(?![\w:@])")


_DOMAIN_DOTS = re.compile(r"(@[\w\-]+(?:\.[\w\-]+)*)\s*(?:\.|\s(?:punt|dot)\s)\s*(?=[\w\-])", re.I)


_BRACKETED_AT = re.compile(r"[\[({<]\s*(?:at|apenstaartje|a|@)\s*[\])}>]", re.I)


def _deobfuscate(text: str) -> str:
    """"jan [at] voorbeeld punt nl", "jan @ voorbeeld . nl" as "jan@voorbeeld.nl"."""
    if "@" not in text and "%40" not in text and not _BRACKETED_AT.search(text):
        return text
    text = _DOT.sub(".", _AT.sub("@", text.replace("%40", "@")))
    for _ in range(4):
        joined = _DOMAIN_DOTS.sub(r"\1.", text)
        if joined == text:
            break
        text = joined
    return text


def _email(text: str) -> str | None:
    if m := _EMAIL.search(_deobfuscate(text)) or _SHORT_EMAIL.search(text.replace("%40", "@")):
        return m[0]
    for m in _WORDY.finditer(text):
        domain = re.sub(r"\s*(?:\.|\s(?:punt|dot)\s)\s*", ".", m[2], flags=re.I)
        if re.fullmatch(r"[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}", domain):
            return f"{m[1]}@{domain}"
    return None


# ---- IBAN ---------------------------------------------------------------------------------
_IBAN = re.compile(r"(?<![^\W_])([A-Za-z]{2}) ?(\d{2})((?:[ .\-]?[A-Za-z0-9]){10,30})")


def _iban(text: str) -> str | None:
    for m in _IBAN.finditer(text):
        compact = (m[1] + m[2] + re.sub(r"[ .\-]", "", m[3])).upper()
        for length in range(min(len(compact), 34), 14, -1):
            if stdnum_iban.is_valid(compact[:length]):
                return compact[:length]
    return None


# ---- numbers: dates, phones, BSN ------------------------------------------------------------
_NUM_DATE = re.compile(r"(?<![\d.\-/])(?:(\d{1,2})([\-/.])(\d{1,2})\2(\d{4}|\d{2})"
                       r"|(\d{4})([\-/.])(\d{1,2})\6(\d{1,2}))(?![\d]|[\-/.]\d)")
_WORD_DATE = re.compile(rf"\b(\d{{1,2}})(?:e|ste|de)?\s+({MONTHS})\.?(?:\s+(\d{{4}}))?\b", re.I)
_SHORT_DATE = re.compile(r"(?<![\d.\-/])(\d{1,2})([\-/])(\d{1,2})(?![\d]|[\-/.]\d)")
_TIME = re.compile(r"(?<![\d.\-/])(?:[01]?\d|2[0-3])[.:][0-5]\d(?!\d|[.\-/]\d)"
                   r"(?:\s?(?:uur|u|h)\b)?|\b\d{1,2}\s?uur\b")
_CHAIN = re.compile(r"(?<![^\W_]|\+)(?:\+|00)?\d+(?:(?:\s?[.\-]\s?|[/_,]|\s)\d+)*")
_GLUED_PHONE = re.compile(r"(?<=[a-z])(?:0\d{9}|06[\- ]\d{8}|\+31\d{9})(?![^\W_]|[\-.]\d)")
_GLUED_LABEL = re.compile(r"\b(bsn|sofi(?:nummer)?|burgerservicenummer)(?=\d)", re.I)
_PARENS = re.compile(r"\((0\d{1,4})\)\s?|\s?\(0\)\s?")
_GLUE = re.compile(r"[^\W\d_][\-/]$")
_MONEY = re.compile(r"(?:€|eur|euro|\$|£)\s?$", re.I)
_BSN_WORD = re.compile(r"\b(?:bsn|burgerservicenummer|sofi|sofinummer)\b", re.I)
_ORG_PHONE = ("0800", "0900", "0906", "0909", "088", "140", "112", "0970")


@lru_cache(maxsize=16)
def _dates(text: str) -> list[tuple[int, int, int | None, tuple[int, int]]]:
    """Full and partial dates in ``text``: (day, month, year or None, span); the scan
    asks three times per text (numbers, addresses, birth dates). Read-only."""
    found: list[tuple[int, int, int | None, tuple[int, int]]] = []
    for m in _NUM_DATE.finditer(text):
        if m[1]:
            d, mo, y = int(m[1]), int(m[3]), int(m[4])
            y = y + (2000 if y < 50 else 1900) if y < 100 else y
        else:
            y, mo, d = int(m[5]), int(m[7]), int(m[8])
        if 1 <= d <= 31 and 1 <= mo <= 12 and 1900 <= y <= 2100:
            found.append((d, mo, y, m.span()))
    for m in _WORD_DATE.finditer(text):
        if 1 <= int(m[1]) <= 31:
            found.append((int(m[1]), 1, int(m[3]) if m[3] else None, m.span()))
    for m in _SHORT_DATE.finditer(text):
        if 1 <= int(m[1]) <= 31 and 1 <= int(m[3]) <= 12:
            found.append((int(m[1]), int(m[3]), None, m.span()))
    return found


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with each span replaced by "#" (breaks a chain of digits, keeps positions)."""
    chars = list(text)
    for a, b in spans:
        chars[a:b] = "#" * (b - a)
    return "".join(chars)


def _groups(chain: str) -> list[str]:
    return re.findall(r"\d+", chain)


def _phone(chain: str) -> bool:
    digits = "".join(_groups(chain))
    if chain.startswith(("+", "00")):
        national = digits[2:] if chain.startswith("00") else digits
        if national.startswith("31") and national[2:].startswith(("800", "900", "906", "909",
                                                                  "88")):
            return False
        for length in range(min(len(national), 15), 7, -1):
            try:
                number = phonenumbers.parse("+" + national[:length])
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                return True
        return False
    if not digits.startswith("0") or digits.startswith(_ORG_PHONE) or len(digits) < 10:
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(digits[:10], "NL"))
    except phonenumbers.NumberParseException:
        return False


def _bsn(chain: str, before: str) -> str | None:
    groups = _groups(chain)
    labelled = _BSN_WORD.search(before[-30:]) is not None
    long_reference = sum(len(g) for g in groups) > 9
    if not labelled and ((_GLUE.search(before) and long_reference) or _MONEY.search(before)):
        return None  # "RvdK-2026-123456789", "€ 123.456.789"
    candidates = []
    for i in range(len(groups)):
        total = 0
        for j in range(i, len(groups)):
            total += len(groups[j])
            if total == 9:
                candidates.append(groups[i:j + 1])
            if total >= 9:
                break
    if (len(groups) == 1 and len(groups[0]) == 8) or (labelled and sum(map(len, groups)) == 8):
        candidates.append(["0", *groups])
    for parts in candidates:
        digits = "".join(parts)
        # "2026-00451": a year and a serial number (a zaaknummer), not a BSN in two groups.
        year_serial = len(parts) == 2 and len(parts[0]) == 4 and 1990 <= int(parts[0]) <= 2099 \
            and re.search(rf"{parts[0]}\s?[\-/]\s?{parts[1]}", chain) is not None
        if stdnum_bsn.is_valid(digits) and int(digits) and (labelled or not year_serial):
            return " ".join(parts)
    return None


def _without_dates(text: str, *, short: bool = True) -> str:
    """``text`` with its dates and times blanked ("#"), so that their digits are read as
    no other number ("Kerkstraat 14 december" holds no house number "14"). ``short=False``
    keeps day-month dates, which read like house numbers ("Beeklaan 13-2")."""
    spans = [d[3] for d in _dates(text) if short or d[2] is not None
             or not _SHORT_DATE.fullmatch(text[d[3][0]:d[3][1]])]
    spans += [m.span() for m in _TIME.finditer(text)]
    return _blank(text, spans)


def _numbers(text: str) -> tuple[str, str] | None:
    """(kind, value) of the first phone number or BSN, dates and times set aside."""
    plain = _GLUED_LABEL.sub(r"\1 ", text)  # "BSN241592069"
    plain = _without_dates(_PARENS.sub(lambda m: f"{m[1]} " if m[1] else " ", plain))
    for m in _CHAIN.finditer(plain):
        chain = m[0]
        if sum(len(g) for g in _groups(chain)) < 8:
            continue
        if _phone(chain):
            return "phone", chain
        # "0800 3609", "0900-8020": an organisation's line (``_phone`` passes it); a BSN
        # after it in the same run of digits is still one.
        if found := _bsn(chain, plain[:m.start()]):
            return "bsn", found
    # A phone number glued to the word before it ("bel0612345678", "Zorg+31612345678"; a
    # chain above starts at no letter). Only after a lower-case letter, in the forms a
    # Dutch number is glued in (0 and nine digits, 06-, +31 and nine digits) and with
    # nothing glued after it: a code such as "ZD0656231868" or "FQUE0768704153" (capitals),
    # a hash or a UUID (more letters after the digits) holds digits that can read as a
    # phone number too, and is no phone number. Found by breaking try-outs: a glued number
    # was quoted back in a refusal and stored; then, read after any letter, 13.8% of
    # generated codes were.
    for m in _GLUED_PHONE.finditer(plain):
        if _phone(m[0]):
            return "phone", m[0]
    return None


# ---- places -------------------------------------------------------------------------------
_POSTCODE = re.compile(r"(?<![\w\-/.])[1-9]\d{3}[ \-]?(?!SA|SD|SS|sa|sd|ss)[A-Za-z]{2}(?![\w])")
_MONTH_BEFORE = re.compile(rf"\b(?:{MONTHS})\.?\s$", re.I)
_NOT_POSTCODE_LETTERS = frozenset({
    "om", "en", "in", "op", "te", "of", "is", "na", "al", "nu", "ze", "we", "je", "er", "zo",
    "ja", "at", "on", "to", "by", "an", "or", "et", "ca", "eu", "uu", "kg", "km", "pm", "am",
    "nr", "st", "de", "le", "la", "do", "di", "wo", "vr", "za", "ma", "vs", "ov", "vt", "jb",
    "bw", "sr", "wk", "rc",
})
STREET_WORDS = (
    "straat", "str.", "laan", "ln.", "weg", "plein", "pln.", "gracht", "singel", "kade",
    "dijk", "steeg", "dreef", "markt", "pad", "park", "boulevard", "blvd.", "allee",
    "straatweg", "plantsoen", "haven", "vaart", "straatje", "pleintje", "hoven", "wg.", "str",
    "ln", "pln", "blvd")
"""Endings that make a word a street's name (BAG) wherever it is: "Merelstraat",
"Dorpsstr.", also in lower case."""
PROPER_STREET_WORDS = (
    "ring", "hof", "erf", "wal", "kamp", "baan", "hoek", "akker", "veld", "brink", "hoeve",
    "dam", "zoom", "oord", "gang", "tuin", "horst", "poort", "donk", "berg", "wijk", "burg",
    "dal", "rade", "water", "kwartier", "hout", "dries", "weide", "heuvel", "gaarde", "singel",
    "sngl.", "kanaal", "lei", "wei", "meer")
"""Endings that also end common words ("-ring": vergadering, "-oord": antwoord, "-hof":
gerechtshof): a street's name only capitalised ("Merelwal", "Viooltjesring") and not such
a word. Real streets of these kinds are also found by name (``names.streets``)."""
_NOT_PROPER_STREET = re.compile(r"[aeiouy]ring$|woord$|rechtshof$|kerkhof$|invalshoek$|"
                                r"driehoek$|loopbaan$|werkveld$|speelveld$|beleid$|verwijk$", re.I)
_NUMBERED = re.compile(r"\b(?:huisnummer|huisnr)\.?\s*\d{1,5}", re.I)


def _postcode(text: str) -> str | None:
    for m in _POSTCODE.finditer(text):
        letters = m[0][-2:]
        if letters.islower() and " " in m[0] and letters in _NOT_POSTCODE_LETTERS:
            continue  # "2026 om 14:00"
        if 1990 <= int(m[0][:4]) <= 2099 and " " in m[0] and (
                letters in ("OM", "VT", "GI", "JB", "RB") or _MONTH_BEFORE.search(
                    text[:m.start()])):
            continue  # "in 2026 OM inlichten", "14 januari 2027 GI vragen": a year
        return m[0]
    return None


_NOT_STREET = frozenset({
    "overgang", "ingang", "voortgang", "toegang", "omgang", "uitgang", "doorgang", "werkveld",
    "speelveld", "vooruitgang", "overleg", "vervolgoverleg", "casusoverleg", "weegoverleg",
    "fase", "week", "stap", "ronde", "versie", "deel", "punt", "actie", "zaal", "kamer", "lokaal",
    "groep", "klas", "niveau", "bijlage", "artikel", "hoofdstuk", "onderweg", "wegens", "plan",
    "traject", "vervolg",
})


_UNITS = (r"(?:uur|u\b|%|euro|jaar|minuten|min\b|weken|dagen|keer|x\b|km|m\b|personen|"
          r"sessies|gesprekken|werkdagen|maanden)")
_HOUSE_NUMBER = re.compile(r"(?<![\w\-/.,:])\d{1,5}(?![\d.,:]\d)(?!\s?" + _UNITS + ")", re.I)
_STREET_WORD = re.compile(r"[^\W\d_][\w'\-]*\.?")
_NR = frozenset({"nr", "nr.", "no", "no.", "nummer", "huisnr", "huisnr.", "huisnummer"})


_AT_PLACE = frozenset({"op", "aan", "bij", "in", "naar", "te", "adres", "adres:", "woont",
                       "woonachtig", "verblijft", "over", "langs", "via", "richting"})
"""Words after which a place is expected: there a street's name that is also a common word
is read as a street ("op Heuvel 11", "aan de markt 3" is not: "de" comes between)."""


def _street(words: list[str], place_expected: bool, by_name: bool = True) -> bool:
    """``words`` (one to five) are a street's name: a name of the BAG (``names.streets``),
    or a word ending as a street does ("Kerkstraat", "Dorpsstr.", capitalised or where a
    place is expected also "Merelwal", "hertogring")."""
    if len(words) == 1:
        word = words[0].casefold()
        if word.rstrip(".") not in _NOT_STREET and len(word) > 3 and (
                word.endswith(STREET_WORDS) or (
                    (words[0][:1].isupper() or place_expected)
                    and word.endswith(PROPER_STREET_WORDS)
                    and len(word) > 6 and not _NOT_PROPER_STREET.search(word)
                    and word not in person_names.lexicon().common)):
            return True
    if not by_name:
        return False
    name = person_names.fold(" ".join(words))
    if person_names.agenda_word(name) or (person_names.common_street(name)
                                          and not place_expected):
        return False
    return name in person_names.streets()


def _address(text: str, dated: str) -> str | None:
    """A street and house number, either way round ("Kerkstraat 12a", "Laan van
    Meerdervoort 100", "12 Kerkstraat"), or a bare "huisnummer 12". ``text`` keeps
    day-month dates, which read like a number and its addition ("Beeklaan 13-2"); ``dated``
    (the same positions) has them blanked: a number that is such a date follows a street
    only when the word says so by its ending, never by a name of the BAG alone
    ("Onbekend 15-12" is a word and a date)."""
    for m in _HOUSE_NUMBER.finditer(text):
        by_name = dated[m.start()] != "#"
        before = _STREET_WORD.findall(text[max(0, m.start() - 60):m.start()])
        if before and before[-1].casefold() in _NR:
            before = before[:-1]
        last = re.search(r"([^\W\d_]+)\.?:?\s*$", text[max(0, m.start() - 30):m.start()])
        place = last is not None and last[1].casefold() in _AT_PLACE
        if text[:m.start()].rstrip().endswith((",", ";", ":", "(")):
            before = []
        for size in range(min(5, len(before)), 0, -1):
            expected = len(before) > size and before[-size - 1].casefold() in _AT_PLACE
            if _street(before[-size:], expected, by_name):
                return " ".join(before[-size:]) + " " + m[0]
        after = text[m.end():m.end() + 60]
        if after[:1] == " ":
            following = _STREET_WORD.findall(after)
            for size in range(min(5, len(following)), 0, -1):
                if after.startswith(" " + " ".join(following[:size])) \
                        and _street(following[:size], place, by_name):
                    return m[0] + " " + " ".join(following[:size])
    numbered = _NUMBERED.search(text)
    return numbered[0] if numbered else None


# ---- birth dates and ages -------------------------------------------------------------------
# "* 22-8-2016", "GD 18-12-2020", "geboren", "geb."...
_BIRTH = re.compile(r"(?:(?<!\S)\*(?=\s?\d)|\b(?:gd|gb)\b(?=\.?:?\s?\d)"
                    r"|\b(?:geboren|geb\.?|geboortedatum|geboortejaar|geb\.datum|dob|d\.o\.b\.?"
                    r"|date of birth|born|birth date|birthdate|verjaardag|jarig|gebdatum|gebdat\.?"
                    r"|geb\.dat\.?|geboortedag)(?=\W|$))", re.I)
PERSON_NOUNS = ("jongen", "meisje", "jongere", "jeugdige", "kind", "zoon", "dochter", "man",
                "vrouw", "broer", "broertje", "zus", "zusje", "puber", "tiener", "minderjarige",
                "meerderjarige", "betrokkene", "partner", "moeder", "vader", "cliënt", "client",
                "jongeman", "jongedame", "neef", "nicht", "oom", "tante", "opa", "oma",
                "stiefvader", "stiefmoeder", "baby", "peuter", "kleuter", "leerling")
"""Who a casusoverleg speaks of; "<noun> van 15 (jaar)" is an age, "<noun> van <date>" a
date of birth."""
_OF_DATE = re.compile(r"\b(?:" + "|".join(PERSON_NOUNS) + r")\s+van\s+(?=\d)", re.I)
_YEAR = re.compile(r"\b(19\d{2}|20[0-2]\d)\b")
_AGE = re.compile(
    r"\b\d{1,2}\s?-?\s?jarige?\b(?!\s+(?:jubileum|bestaan|contract|project|traject|programma|"
    r"plan|termijn|dienstverband|samenwerking|huwelijk|looptijd)\b)"
    r"|\b\d{1,2}\s?(?:jaar|jr\.?|j\.)\s?oud\b|\(\s?\d{1,2}\s?(?:jaar|jr\.?|j\.?)\s?\)"
    r"|\b(?:" + "|".join(PERSON_NOUNS) + r")\s*\(\s?\d{1,2}\s?\)"
    r"|\b(?:leeftijd|lft\.?)\s*:?\s*(?:van\s+)?\d{1,2}\b"
    r"|\b(?:is|wordt|werd|pas)\s+\d{1,2}\s+(?:jaar|jr\.?)(?!\s+(?:geleden|lang|bezig|betrokken|"
    r"in\b|bij\b|onder\b|actief|gevolgd|terug))"
    r"|\b(?:" + "|".join(PERSON_NOUNS) + r")\s+(?:van|is|,)\s+\d{1,2}(?:\s+(?:jaar|jr\.?))?\b"
    r"(?!\s*(?:kinderen|kind|keer|x\b|maal|maanden|weken|dagen|uur|broers|zussen|zonen|"
    r"dochters|personen|gesprekken|meldingen|incidenten|afspraken|euro))"
    r"|\b\d{1,2}\s?(?:yo|y/o|years old)\b"
    # "(m, 15)", "(v/15)", "jongen 15jr", "zoon (15 jaar)", "vijftienjarige"
    r"|\(\s?[mvjf]\s?[,/]\s?\d{1,2}\s?(?:jr\.?|jaar)?\s?\)"
    r"|\b(?:" + "|".join(PERSON_NOUNS) + r")\s+\(?[mv]?\d{1,2}\)?(?:\s?(?:jaar|jr\.?))(?!\w)"
    r"|\b(?:een|twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|dertien|veertien|"
    r"vijftien|zestien|zeventien|achttien|negentien|twintig|\w+en(?:twintig|dertig|veertig|"
    r"vijftig|zestig|zeventig|tachtig|negentig)|dertig|veertig|vijftig|zestig|zeventig|tachtig|"
    r"negentig)-?jarige\b", re.I)


_EVENT_BEFORE = re.compile(
    r"(?:\b(?:sinds|melding|meldingen|wet|convenant|brief|vonnis|uitspraak|besluit|beschikking|"
    r"rapport|verslag|rapportage|d\.d\.|dd|per|vanaf|datum|incident|aangifte|zitting|"
    r"overleg|afspraak|verhuizing|opname|ontslag|plaatsing|aanmelding|mail|e-mail)\b"
    r"(?:\s+(?:van|op|d\.d\.|dd|per|de|het))?\s*:?\s*$"
    r"|\b(?:art|artikel|lid|hoofdstuk|par|paragraaf|versie|v|nr|nummer)\.?\s*$)", re.I)
"""Before a date: an event's or a document's ("melding van 12-03-2013", "Wet van 21
december 2006"), or an article number read as a date ("art. 7.3.11"): no date of birth."""


def _birthdate(text: str) -> str | None:
    keyword = _BIRTH.search(text)
    person_of = {m.end() for m in _OF_DATE.finditer(text)}
    for _day, _month, y, (a, b) in _dates(text):
        if keyword is not None or a in person_of or (
                y is not None and y < DOB_BEFORE_YEAR
                and not _EVENT_BEFORE.search(text[max(0, a - 40):a])):
            return text[a:b]
    if keyword is not None:
        near = text[keyword.end():keyword.end() + 25]
        if m := _YEAR.search(near):
            return m[0]
    if m := _AGE.search(text):
        return m[0]
    return None


# ---- vehicles, documents, social media ------------------------------------------------------
# The RDW's sidecodes 1-14 (X a letter, 9 a digit); letters are consonants only.
SIDECODES = ("XX-99-99", "99-99-XX", "99-XX-99", "XX-99-XX", "XX-XX-99", "99-XX-XX",
             "99-XXX-9", "9-XXX-99", "XX-999-X", "X-999-XX", "XXX-99-X", "X-99-XXX",
             "9-XX-999", "999-XX-9")
_KENTEKEN = re.compile(r"(?<![\w\-])(?:" + "|".join(
    "[\\- ]?".join("".join("[BDFGHJKLNPRSTVXZ]" if c == "X" else r"\d" for c in part)
                    for part in code.split("-"))
    for code in SIDECODES) + r")(?![\w\-])", re.I)
_PLATE_WORD = re.compile(r"\b(?:kenteken|nummerbord|auto|scooter|voertuig|bus|busje|wagen|"
                         r"motor|brommer|kentekenplaat)\b", re.I)
_DOCUMENT = re.compile(r"(?<![\w\-])(?:[A-Za-z]{2}[A-Za-z0-9]{6}\d"
                       # grouped, in capitals: "GC3 ND2 793", "HP 1XDM7T 2"
                       r"|(?-i:[A-Z]{2}[A-Z0-9][ \-][A-Z0-9]{3}[ \-][A-Z0-9]{2}\d"
                       r"|[A-Z]{2}[ \-][A-Z0-9]{6}[ \-]\d))(?![\w\-])")
_DOC_WORD = re.compile(
    r"\b(?:paspoort(?:nummer|nr)?|id-?kaart(?:nummer)?|identiteitskaart|identiteitsbewijs|"
    r"rijbewijs(?:nummer)?|documentnummer|docnr|legitimatie(?:bewijs)?|verblijfs(?:document|"
    r"vergunning|pas)|vreemdelingen(?:nummer|document)|v-?nummer|a-?nummer|id-?nummer|id)\b"
    r"\s*(?:nr\.?|nummer|no\.?)?\s*[:#]?\s*([A-Za-z0-9][A-Za-z0-9 .\-]{4,14}[A-Za-z0-9])", re.I)
_SOCIAL_URL = re.compile(
    r"\b(?:https?://)?(?:www\.|m\.)?(?:instagram\.com|facebook\.com|fb\.com|tiktok\.com|"
    r"twitter\.com|x\.com|linkedin\.com/in|snapchat\.com/add|youtube\.com|t\.me|threads\.net|"
    r"reddit\.com/u(?:ser)?|pinterest\.\w+|twitch\.tv|discord(?:app)?\.com/users|"
    r"telegram\.me|vk\.com|wa\.me)/\S+", re.I)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_][A-Za-z0-9_.]{1,29}(?<!\.)(?![\w@])")
_PLATFORM = (r"\b(?:insta(?:gram)?|ig|snap(?:chat)?|sc|tiktok|twitter|facebook|fb|telegram|"
             r"discord|signal|threads|x|youtube|twitch|kik|whatsapp|bereal)")
_SOCIAL_LABEL = re.compile(
    _PLATFORM + r"(?:[\s\-]?(?:account|naam|handle|profiel|gebruikersnaam))?\s*[:=]\s*@?"
    r"[\w.]{3,}|" + _PLATFORM + r"[\s\-]?(?:account|naam|handle|profiel|gebruikersnaam)\s+"
    r"@?[\w.]{3,}|" + _PLATFORM + r"\s+@?(?=[\w.]*[\d._])[a-z][\w.]{2,}", re.I)


def _kenteken(text: str) -> str | None:
    for m in _KENTEKEN.finditer(text):
        value = m[0]
        mixed = any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
        # Written without dashes and in lower case, only next to a word for a vehicle.
        if mixed and ("-" in value or value.isupper() or _PLATE_WORD.search(text)):
            return value
    return None


def _document(text: str) -> str | None:
    for m in _DOC_WORD.finditer(text):
        value = m[1].rstrip(" .-")
        if sum(c.isdigit() for c in value) >= 1 and len(value.replace(" ", "")) >= 8:
            return value
    for m in _DOCUMENT.finditer(text):
        # The Dutch format since 2014: 2 letters, 6 letters or digits, a digit; no letter O.
        compact = re.sub(r"[ \-]", "", m[0]).upper()
        if "O" not in compact and sum(c.isdigit() for c in compact) >= 3:
            return m[0]
    return None


def _social(text: str) -> str | None:
    for pattern in (_SOCIAL_URL, _SOCIAL_LABEL, _HANDLE):
        for m in pattern.finditer(text):
            handle = re.split(r"[\s:=@]+", m[0])[-1].casefold()
            if pattern is _SOCIAL_LABEL and (handle in person_names.lexicon().common
                                             or handle in _NOT_HANDLES):
                continue  # "WhatsApp: niet bereikbaar", "Facebook: bericht gestuurd"
            return m[0]
    return None


_NOT_HANDLES = frozenset({
    "niet", "geen", "bericht", "berichten", "gestuurd", "account", "gevonden", "bereikbaar",
    "contact", "gebeld", "verwijderd", "geblokkeerd", "onbekend", "gemeld", "melding", "privé",
    "prive", "openbaar", "checken", "nagaan", "navragen", "bekijken", "reactie", "groep",
    "groepen", "chat", "chats", "status", "profiel", "foto", "foto's", "video", "video's"})


# ---- the guard ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    masked: str  # "" for a name: even a masked name says too much


@dataclass(frozen=True)
class Guard:
    """What an overleg adds to the scan: its forbidden words (keyed hashes under ``key``)
    and the names that are organisations, not people (registered partners, annex 1)."""

    key: Keys = b""
    forbidden: frozenset[str] = frozenset()
    organisations: tuple[str, ...] = field(default=())


def mask(value: str, ends: bool = True) -> str:
    """The value's shape: letters and digits starred, separators kept; a long value (ten
    letters and digits or more: IBAN, phone, e-mail) keeps its first two and last two, as
    banks show an account ("NL**************34"). A short value (postcode, age, house
    number, BSN) shows nothing of itself."""
    chars = [c for c in value.strip()]
    visible = [i for i, c in enumerate(chars) if c.isalnum()]
    if len(visible) < 10 or not ends:
        return "".join("*" if c.isalnum() else c for c in chars)
    hide = set(visible[2:-2])
    return "".join("*" if i in hide else c for i, c in enumerate(chars))


def normalise_word(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", skeleton(word).casefold().encode("ascii", "ignore")
                  .decode())


def word_hash(keys: Keys, word: str) -> str:
    """The keyed hash under which a forbidden word (or phrase) is kept."""
    phrase = " ".join(normalise_word(w) for w in word.split() if normalise_word(w))
    return chained(keys, b"forbidden:" + phrase.encode())


_WORD = re.compile(r"[\w'\-]+", re.UNICODE)


def _forbidden(text: str, guard: Guard) -> str | None:
    if not guard.forbidden or not guard.key:
        return None
    words = [w for w in _WORD.findall(text) if normalise_word(w)]
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            phrase = " ".join(words[i:i + size])
            if word_hash(guard.key, phrase) in guard.forbidden:
                return phrase
    return None


def _without(text: str, organisations: Iterable[str]) -> str:
    """``text`` without the names of known organisations (a person's name is none). An
    overleg may have hundreds of partners: only those in the text cost more than a lookup."""
    folded = text.casefold()
    for org in organisations:
        name = skeleton(org)
        if name and name.casefold() in folded and not person_names.is_person_name(name):
            text = re.sub(re.escape(name), " ", text, flags=re.I)
            folded = text.casefold()
    return text


def scan_all(text: str, guard: Guard | None = None, *, names: str = "all") -> list[Finding]:
    """Every kind of direct identifier in ``text`` (one finding per kind, in ``KINDS``
    order); [] when it is clean. ``names``: "all" (names anywhere), "whole" (an
    organisation's name: refused only when it is a person's name as a whole, as "Sanne
    Bakker"; "Stichting Anna de Vries" passes), "organisation" (both: a partner's name)."""
    guard = guard or Guard()
    skel = skeleton(text)
    plain = _own_ids(skel)
    found: list[Finding] = []

    def add(kind: str, value: str | None) -> None:
        if value is not None and all(f.kind != kind for f in found):
            # Only the value's shape: even two digits at each end of a phone number are part
            # of it. A name, even masked, says too much; a forbidden word's mask would tell
            # the room which word is on the list.
            found.append(Finding(kind, "" if kind in ("name", "forbidden")
                                 else mask(value, ends=False)))

    email = _email(plain)
    add("email", email)
    if email is not None:  # the rest must not read the address's parts again
        plain = _EMAIL.sub(" ", _deobfuscate(_SHORT_EMAIL.sub(" ", plain.replace("%40", "@"))))
    add("iban", _iban(plain))
    if (number := _numbers(plain)) is not None:
        add(*number)
    add("postcode", _postcode(plain))
    add("address", _address(_without_dates(plain, short=False), _without_dates(plain)))
    add("birthdate", _birthdate(plain))
    add("kenteken", _kenteken(plain))
    add("document", _document(_own_ids(skel, meetings_and_actions=False)))
    add("social", _social(plain))
    if names in ("all", "organisation"):
        add("name", person_names.find(_without(plain, guard.organisations)))
    if names in ("whole", "organisation") and person_names.is_person_name(plain):
        add("name", plain)
    add("forbidden", _forbidden(plain, guard))
    return sorted(found, key=lambda f: KINDS.index(f.kind))


def scan(text: str, *, key: Keys = b"", forbidden: Iterable[str] = (),
         guard: Guard | None = None) -> Finding | None:
    """The first direct identifier in ``text`` (in ``KINDS`` order), or None."""
    found = scan_all(text, guard or Guard(key, frozenset(forbidden)))
    return found[0] if found else None
