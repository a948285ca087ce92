"""An independent, generated corpus for measuring the privacy guard.

Written from the requirements of issue 20 (what people really type), without looking at the
detector, so that recall and false positives measured with it are honest. Every identifier is
synthetic: BSNs pass the 11-proef, IBANs carry valid mod-97 check digits (and the national check
where a country has one), phone numbers are valid for libphonenumber, passport numbers follow
the Dutch format; names, streets and places come from word lists (Faker's nl_NL lists plus the
short lists below), never from a register of real people.

API:
    KINDS                      kind -> names of its written forms
    positives(kind, n, seed)   n (text, form) pairs, one identifier of that kind in each text
    clean(n, seed)             n identifier-free action descriptions
    clean_tagged(n, seed)      the same texts with the builder that made each (for reporting)

Output depends only on the seed (and on the Faker version, whose word lists are used).
"""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import phonenumbers
from faker.providers.address.nl_NL import Provider as _FakerAddress
from faker.providers.person.nl_NL import Provider as _FakerPerson

# --------------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------------

_ADULT_FIRST = (
    "Anouk", "Kees", "Petra", "Wim", "Ingrid", "Marco", "Sandra", "Mohamed", "Fatima", "Ahmed",
    "Mustafa", "Yvonne", "Bianca", "Patrick", "Ronald", "Esther", "Monique", "Marcel", "Linda",
    "Priscilla", "Jeroen", "Saskia", "Henk", "Gerda", "Hans", "Annemieke", "Raymond", "Wendy",
    "Chantal", "Dennis", "Kevin", "Samira", "Nadia", "Youssef", "Hatice", "Emine", "Marloes",
    "Jolanda", "Erik", "Marieke", "Priya", "Dewi", "Kofi", "Abdi", "Hamza", "Rachid", "Naima",
)

_MIGRANT_FIRST = (
    "Mohamed", "Fatima", "Ahmed", "Youssef", "Ayoub", "Aisha", "Meryem", "Emre", "Elif",
    "Mustafa", "Zeynep", "Priya", "Anil", "Dewi", "Kofi", "Abdi", "Hamza", "Ilias", "Nour",
    "Rania", "Ayşe", "Oğuz", "Büşra", "Hüseyin", "Thanh", "Katarzyna", "Piotr", "Amina",
)

_MIGRANT_SURNAMES = (
    "El Amrani", "Yılmaz", "Öztürk", "Kaya", "Demir", "Bouzid", "El Idrissi", "Benali",
    "Haddou", "Ramdin", "Soekhoe", "Nguyen", "Tran", "Kowalski", "Nowak", "Ahmadi",
    "Hosseini", "Mohammadi", "Abdullahi", "Mensah", "Baldewsingh", "Çelik", "Şahin", "Doğan",
    "Aydın", "El Khattabi", "Bakkali", "Achahbar", "Wiśniewska", "Boateng",
)

_COMMON_SURNAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
    "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks",
    "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf",
    "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "de Bruin",
    "van der Heijden", "Schouten", "van Beek", "Willems", "van Vliet", "van de Ven", "Hoekstra",
    "Maas", "Verhoeven", "Koster", "van Dam", "van der Wal", "Prins", "Blom", "Huisman",
    "Peeters", "de Jonge", "Kuipers", "van Veen", "Post", "Kuiper", "Veenstra", "Kramer",
    "van den Brink", "Scholten", "van Wijk", "Postma", "Martens", "Vink", "de Ruiter",
    "Timmermans", "Groen", "Gerritsen", "Jonker", "van Loon", "Boer", "van der Velde",
    "Willemsen", "Smeets", "de Lange", "de Vos", "Bosch", "van Dongen", "Schipper", "de Koning",
    "van der Laan", "Koning", "van der Velden", "Driessen", "van Doorn", "Hermans", "Evers",
    "van den Bosch", "van der Meulen", "Hofman", "Bosman", "Wolters", "Sanders", "van der Horst",
    "Mol", "Kuijpers", "Molenaar", "van de Pol", "de Leeuw", "Verbeek", "Meer", "ter Horst",
    "ten Brink", "in 't Veld", "op de Beek", "van 't Hof", "Timmerman", "van Rijn",
)

# Surnames that are also ordinary Dutch words (job, colour, animal, title...).
_WORD_SURNAMES = (
    "Bakker", "Visser", "Smit", "de Groot", "Koning", "Kok", "Vos", "Bos", "de Boer", "de Haan",
    "Prins", "Post", "Dekker", "Schipper", "Brouwer", "Kramer", "Timmerman", "Molenaar",
    "de Wit", "Groen", "Mol", "Vink", "Koster", "de Graaf", "Boer", "Hoek", "Beek", "Berg",
    "Maas", "de Ruiter", "Huisman", "de Jonge", "Schilder", "Winter", "Zomer", "Brink",
)

_TUSSEN = ("van", "de", "van de", "van der", "van den", "ter", "ten", "in 't", "op de", "van 't",
           "'t", "den", "der", "te")

_SURNAME_RE = re.compile(
    r"^(?:(?:van|de|der|den|ter|ten|te|van de|van der|van den|in 't|op de|van 't)\s)?"
    r"[A-Z][a-zëéïöü]{2,}$"
)


def _dedup(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))


FIRST_NAMES: tuple[str, ...] = _dedup(
    [n for n in (*_FakerPerson.first_names_female, *_FakerPerson.first_names_male)
     if re.fullmatch(r"[A-Z][a-zëéèïöüç]+", n)]
    + list(_ADULT_FIRST)
)
SURNAMES: tuple[str, ...] = _dedup(
    [s for s in _FakerPerson.last_names
     if _SURNAME_RE.match(s) and not s.endswith(("dr", "sz", "sd", "ensis"))]
    + list(_COMMON_SURNAMES)
)
SURNAMES_TV: tuple[str, ...] = tuple(s for s in SURNAMES if s.split()[0] in _TUSSEN
                                     and " " in s)
SURNAMES_PLAIN: tuple[str, ...] = tuple(s for s in SURNAMES if " " not in s)

CITIES: tuple[str, ...] = (
    "Venlo", "'s-Hertogenbosch", "Den Bosch", "Roermond", "Tilburg", "Eindhoven", "Helmond",
    "Weert", "Venray", "Horst", "Maastricht", "Sittard", "Heerlen", "Nijmegen", "Arnhem",
    "Utrecht", "Amsterdam", "Rotterdam", "Den Haag", "Zwolle", "Groningen", "Leeuwarden",
    "Breda", "Oss", "Uden", "Boxmeer", "Gennep", "Blerick", "Tegelen", "Reuver", "Panningen",
    "Veghel", "Boxtel", "Vught", "Deurne", "Cuijk", "Echt", "Kerkrade", "Almere", "Lelystad",
    "'s-Gravenhage", "Bergen op Zoom", "Roosendaal", "Hengelo", "Enschede", "Deventer", "Assen",
)
_FAKER_CITIES: tuple[str, ...] = _dedup(
    [c for c in _FakerAddress.cities if re.fullmatch(r"[A-Z'][\w' -]+", c)]
)

_STREET_BASES = (
    "Kerk", "Molen", "School", "Dorps", "Hoog", "Nieuw", "Achter", "Markt", "Stations", "Spoor",
    "Brug", "Haven", "Kanaal", "Beek", "Berken", "Eiken", "Linden", "Populieren", "Wilgen",
    "Esdoorn", "Kastanje", "Iepen", "Tulpen", "Rozen", "Lelie", "Viooltjes", "Zonnebloem",
    "Merel", "Lijster", "Mussen", "Spechten", "Reiger", "Zwaluw", "Vlinder", "Bloemen", "Heide",
    "Akker", "Weide", "Zand", "Polder", "Oranje", "Wilhelmina", "Juliana", "Beatrix", "Emma",
    "Nassau", "Rembrandt", "Vermeer", "Vondel", "Bilderdijk", "Erasmus", "Thorbecke", "Spinoza",
    "Huygens", "Multatuli", "Mozart", "Beethoven", "Goudsbloem", "Hertog", "Bisschop", "Pastoor",
    "Leeuwerik", "Koekoek", "Hazelaar", "Jasmijn", "Klaver", "Boekweit", "Rogge", "Vlas",
)
_STREET_SUFFIXES = (
    "straat", "laan", "weg", "plein", "gracht", "singel", "kade", "dijk", "hof", "dreef", "pad",
    "steeg", "ring", "park", "markt", "veld", "erf", "wal", "haven", "allee", "kamp", "baan",
    "hoek", "akker", "hoven", "vaart", "straat", "laan", "weg", "straat",
)
_STREET_TITLES = ("Burgemeester", "Dokter", "Pastoor", "Generaal", "Professor", "Kapelaan",
                  "Meester", "Notaris", "Wethouder")
_STREET_ADJ = ("Oude", "Nieuwe", "Lange", "Korte", "Hoge", "Lage", "Eerste", "Tweede", "Grote",
               "Kleine", "Noordelijke", "Zuid")
_STREET_SAINTS = ("Sint Jozef", "Sint Jan", "Sint Anna", "Sint Servaas", "Sint Maarten",
                  "Prins Hendrik", "Prinses Irene", "Koningin Emma", "Graaf Floris",
                  "Prins Bernhard", "Koning Willem", "Van Gogh", "Jan Steen")
_STREET_SINGLE = ("Markt", "Brink", "Grote Markt", "Kerkplein", "Heuvel", "Oude Markt",
                  "Parade", "Vismarkt", "Bolwerk", "Nieuwstad", "Steenweg", "Oudegracht")

_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december")
_MONTHS_ABBR = ("jan.", "feb.", "mrt.", "apr.", "mei", "jun.", "jul.", "aug.", "sept.", "okt.",
                "nov.", "dec.")
_WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")

_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
_FULLWIDTH = str.maketrans({chr(c): chr(c - 0x21 + 0xFF01) for c in range(0x21, 0x7F)})

# The year "now" for ages, so that output does not depend on the day it is run.
_THIS_YEAR = 2026


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _ascii(s: str) -> str:
    """Lower-case ASCII letters of s (for e-mail local parts and handles)."""
    s = unicodedata.normalize("NFKD", s.replace("ı", "i"))
    return "".join(c for c in s if c.isascii() and c.isalnum()).lower()


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _group(s: str, sizes: Sequence[int], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        if i >= len(s):
            break
        out.append(s[i:i + size])
        i += size
    if i < len(s):
        out.append(s[i:])
    return sep.join(out)


def _fullwidth(s: str) -> str:
    return s.translate(_FULLWIDTH)


def _zero_width(rng: random.Random, s: str, count: int = 0) -> str:
    """Put one or two invisible characters at random places inside s."""
    chars = list(s)
    for _ in range(count or rng.choice((1, 1, 2))):
        pos = rng.randrange(1, len(chars))
        chars.insert(pos, rng.choice(_ZERO_WIDTH))
    return "".join(chars)


def _split_line(rng: random.Random, s: str) -> str:
    """Break s over two lines at a separator if it has one, else somewhere inside."""
    gaps = [i for i, c in enumerate(s) if c in " -." and 0 < i < len(s) - 1]
    brk = rng.choice(("\n", "\n", "\r\n"))
    if gaps:
        i = rng.choice(gaps)
        keep = s[i] if s[i] in "-." and rng.random() < 0.5 else ""
        return s[:i] + keep + brk + s[i + 1:]
    i = rng.randrange(2, len(s) - 1)
    return s[:i] + brk + s[i:]


def _end_punct(rng: random.Random) -> str:
    return rng.choice((".", ".", "!", "?", ";", "...", ":"))


def _due_date(rng: random.Random) -> str:
    d, m = rng.randint(1, 28), rng.randint(1, 12)
    y = rng.choice((_THIS_YEAR, _THIS_YEAR + 1))
    return rng.choice((f"{d}-{m}-{y}", f"{d:02d}-{m:02d}-{y}", f"{d}-{m}"))


def _first(rng: random.Random) -> str:
    return rng.choice(FIRST_NAMES)


def _surname(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return rng.choice(_COMMON_SURNAMES)
    if r < 0.65:
        return rng.choice(_MIGRANT_SURNAMES)
    return rng.choice(SURNAMES)


def _alone(surname: str) -> str:
    """A surname without a first name or initial before it: the tussenvoegsel is capitalised."""
    return _cap(surname)


def _sort_form(surname: str) -> tuple[str, str]:
    """'van der Meer' -> ('Meer', 'van der')."""
    parts = surname.split()
    i = 0
    while i < len(parts) - 1 and parts[i] in ("van", "de", "der", "den", "ter", "ten", "te",
                                               "in", "op", "'t"):
        i += 1
    return " ".join(parts[i:]), " ".join(parts[:i])


# --------------------------------------------------------------------------------------------
# Identifiers with a checksum or a fixed format
# --------------------------------------------------------------------------------------------

def _bsn(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last == 10 or len(set(digits)) < 4:
            continue
        return "".join(map(str, digits)) + str(last)


def bsn_valid(number: str) -> bool:
    """11-proef (used by the self-check)."""
    if not re.fullmatch(r"\d{9}", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:8], range(9, 1, -1), strict=True))
    return (total - int(number[8])) % 11 == 0


def _mod97(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s)) % 97


def _with_check(country: str, bban: str) -> str:
    check = 98 - _mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


def iban_valid(iban: str) -> bool:
    s = re.sub(r"\s", "", iban).upper()
    return len(s) > 4 and _mod97(s[4:] + s[:4]) == 1


_NL_BANKS = ("ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB", "KNAB", "BUNQ", "RBRB", "FVLB")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _iban_nl(rng: random.Random) -> str:
    return _with_check("NL", rng.choice(_NL_BANKS) + _digits(rng, 10))


def _iban_foreign(rng: random.Random) -> str:
    country = rng.choice(("BE", "DE", "FR", "LU", "AT"))
    if country == "BE":
        bank = rng.choice((rng.randint(0, 99), rng.randint(300, 499)))
        first = f"{bank:03d}" + _digits(rng, 7)
        check = int(first) % 97 or 97
        return _with_check("BE", f"{first}{check:02d}")
    if country == "DE":
        return _with_check("DE", str(rng.randint(1, 8)) + _digits(rng, 17))
    if country == "FR":
        bank, branch, account = _digits(rng, 5), _digits(rng, 5), _digits(rng, 11)
        key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
        return _with_check("FR", f"{bank}{branch}{account}{key:02d}")
    if country == "LU":
        return _with_check("LU", _digits(rng, 3) + _digits(rng, 13))
    return _with_check("AT", _digits(rng, 16))


def _mobile_nsn(rng: random.Random) -> str:
    while True:
        nsn = "6" + str(rng.randint(1, 5)) + _digits(rng, 7)
        if phone_valid("0" + nsn):
            return nsn


_AREA3 = ("10", "20", "30", "40", "50", "70", "13", "15", "23", "24", "26", "33", "35", "36",
          "38", "43", "45", "46", "53", "55", "58", "71", "72", "73", "74", "75", "76", "77",
          "78", "79")
_AREA4 = ("418", "475", "495", "478", "493", "497", "499", "413", "411", "412", "416", "161",
          "162", "164", "165", "172", "174", "180", "181", "182", "183", "184", "186", "187",
          "222", "223", "224", "226", "227", "228", "229", "251", "252", "255", "294", "297",
          "299", "313", "314", "315", "316", "317", "318", "320", "321", "341", "342", "343",
          "344", "345", "346", "347", "348", "481", "485", "486", "487", "488", "492", "511",
          "512", "513", "514", "515", "516", "517", "518", "519", "521", "522", "523", "524",
          "525", "527", "528", "529", "541", "543", "544", "545", "546", "547", "548", "561",
          "562", "566", "570", "571", "572", "573", "575", "577", "578", "591", "592", "593",
          "594", "595", "596", "597", "598", "599")


def _landline(rng: random.Random, long_area: bool | None = None) -> tuple[str, str]:
    """(area without 0, subscriber) of a valid Dutch fixed line."""
    if long_area is None:
        long_area = rng.random() < 0.4
    while True:
        if long_area:
            area, sub = rng.choice(_AREA4), str(rng.randint(2, 9)) + _digits(rng, 5)
        else:
            area, sub = rng.choice(_AREA3), str(rng.randint(2, 9)) + _digits(rng, 6)
        if phone_valid("0" + area + sub):
            return area, sub


def phone_valid(national: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(national, "NL"))
    except phonenumbers.NumberParseException:
        return False


_POSTCODE_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"


def _postcode_parts(rng: random.Random) -> tuple[str, str]:
    while True:
        letters = rng.choice(_POSTCODE_LETTERS) + rng.choice(_POSTCODE_LETTERS)
        if letters not in ("SA", "SD", "SS"):
            return str(rng.randint(1000, 9999)), letters


_PLATE_LETTERS = "BDFGHJKLNPRSTVXZ"
_PLATE_BAD = ("SS", "SD", "SA", "KKK", "NSB", "PVV", "GVD", "TBS", "LPF", "VVD", "SGP", "CDA",
              "PKK", "KGB", "FFF", "VVV")
SIDECODES: tuple[str, ...] = (
    "XX-99-99", "99-99-XX", "99-XX-99", "XX-99-XX", "XX-XX-99", "99-XX-XX", "99-XXX-9",
    "9-XXX-99", "XX-999-X", "X-999-XX", "XXX-99-X", "X-99-XXX", "9-XX-999", "999-XX-9",
)


def _plate(rng: random.Random, sidecode: str) -> str:
    while True:
        out = "".join(rng.choice(_PLATE_LETTERS) if c == "X"
                      else str(rng.randint(1, 9) if i == 0 else rng.randint(0, 9))
                      if c == "9" else c for i, c in enumerate(sidecode))
        letters = "".join(c for c in out if c.isalpha())
        if not any(bad in letters for bad in _PLATE_BAD):
            return out


_DOC_LETTERS = "ABCDEFGHIJKLMNPQRSTUVWXYZ"  # no O


def _document(rng: random.Random, digits_only: bool = False) -> str:
    """A Dutch passport / identity-card number: 2 letters, 6 letters or digits, 1 digit."""
    head = rng.choice(_DOC_LETTERS) + rng.choice(_DOC_LETTERS)
    if digits_only:
        return head + str(rng.randint(1, 9)) + "".join(
            str(rng.randint(0, 9)) for _ in range(6))
    while True:
        mid = "".join(rng.choice(_DOC_LETTERS) if rng.random() < 0.45
                      else str(rng.randint(1, 9)) for _ in range(6))
        if sum(c.isdigit() for c in mid) >= 2 and sum(c.isalpha() for c in mid) >= 1:
            return head + mid + str(rng.randint(1, 9))


# --------------------------------------------------------------------------------------------
# Forms
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Form:
    name: str
    make: Callable[[random.Random], str]
    labeled: bool = False  # the fragment carries its own label ("BSN:", "tel.")
    where: str = "any"  # any | start | end
    cap: bool = True  # capitalise the fragment at the start of a sentence


# ---- BSN -----------------------------------------------------------------------------------

def _bsn_forms() -> list[_Form]:
    def g(sizes: Sequence[int], sep: str) -> Callable[[random.Random], str]:
        return lambda rng: _group(_bsn(rng), sizes, sep)

    def label(rng: random.Random) -> str:
        lab = rng.choice(("BSN:", "BSN", "bsn nr", "bsn nr.", "BSN-nummer", "bsn:",
                          "burgerservicenummer", "Burgerservicenummer:", "bsn.", "BSN nummer"))
        return f"{lab} {_group(_bsn(rng), rng.choice(((9,), (3, 3, 3))), ' ')}"

    def dash(rng: random.Random) -> str:
        return _group(_bsn(rng), (3, 3, 3), rng.choice(("-", "–", "\u2011", "/")))

    return [
        _Form("compact", _bsn),
        _Form("3-3-3 spaties", g((3, 3, 3), " ")),
        _Form("punten", g((3, 3, 3), ".")),
        _Form("4-2-3", g((4, 2, 3), " ")),
        _Form("streepjes", dash),
        _Form("regeleinde", lambda rng: _split_line(
            rng, _group(_bsn(rng), rng.choice(((3, 3, 3), (4, 2, 3), (4, 5))), " "))),
        _Form("nbsp", g((3, 3, 3), "\u00a0")),
        _Form("smalle nbsp", g((3, 3, 3), "\u202f")),
        _Form("fullwidth", lambda rng: _fullwidth(
            _group(_bsn(rng), rng.choice(((9,), (3, 3, 3))), " "))),
        _Form("zero-width", lambda rng: _zero_width(rng, _bsn(rng))),
        _Form("label", label, labeled=True),
        _Form("na datum", lambda rng: f"{_due_date(rng)} {_bsn(rng)}", where="start"),
        _Form("einde zin", lambda rng: _bsn(rng) + _end_punct(rng), where="end"),
        _Form("haakjes", lambda rng: "(" + rng.choice(("", "", "bsn ", "BSN: ")) + _group(
            _bsn(rng), rng.choice(((9,), (3, 3, 3))), " ") + ")"),
        _Form("2-2-2-3", g((2, 2, 2, 3), " ")),
    ]


# ---- IBAN ----------------------------------------------------------------------------------

def _iban_forms() -> list[_Form]:
    def grouped(rng: random.Random, sep: str = " ") -> str:
        return _group(_iban_nl(rng), (4, 4, 4, 4), sep)

    def irregular(rng: random.Random) -> str:
        s = _iban_nl(rng)
        return rng.choice((
            f"{s[:2]} {s[2:4]} {s[4:8]} {s[8:11]} {s[11:14]} {s[14:16]} {s[16:]}",
            f"{s[:4]} {s[4:8]} {s[8:14]} {s[14:]}",
            f"{s[:4]}{s[4:8]} {s[8:]}",
            f"{s[:2]} {s[2:4]} {s[4:8]} {s[8:]}",
        ))

    def label(rng: random.Random) -> str:
        lab = rng.choice(("IBAN:", "IBAN", "iban", "rekeningnummer", "rek.nr.", "reknr",
                          "rekening:", "bankrekening", "IBAN-nummer"))
        return f"{lab} {rng.choice((_iban_nl(rng), grouped(rng)))}"

    def foreign(rng: random.Random) -> str:
        return _group(_iban_foreign(rng), (4,) * 8, " ")

    return [
        _Form("compact", _iban_nl, cap=False),
        _Form("groepen van 4", grouped),
        _Form("kleine letters", lambda rng: _iban_nl(rng).lower(), cap=False),
        _Form("kleine letters gegroepeerd", lambda rng: grouped(rng).lower(), cap=False),
        _Form("streepjes", lambda rng: grouped(rng, rng.choice(("-", "–")))),
        _Form("onregelmatig gegroepeerd", irregular),
        _Form("nbsp", lambda rng: grouped(rng, "\u00a0")),
        _Form("regeleinde", lambda rng: _split_line(rng, grouped(rng))),
        _Form("label", label, labeled=True),
        _Form("buitenlands gegroepeerd", foreign),
        _Form("buitenlands compact", _iban_foreign),
        _Form("zero-width", lambda rng: _zero_width(rng, _iban_nl(rng))),
        _Form("einde zin", lambda rng: rng.choice((_iban_nl(rng), grouped(rng)))
              + _end_punct(rng), where="end"),
        _Form("haakjes", lambda rng: f"({rng.choice((_iban_nl(rng), grouped(rng)))})"),
        _Form("punten", lambda rng: grouped(rng, ".")),
        _Form("fullwidth", lambda rng: _fullwidth(_iban_nl(rng))),
    ]


# ---- phone ---------------------------------------------------------------------------------

def _phone_forms() -> list[_Form]:
    def mob(rng: random.Random) -> str:
        return _mobile_nsn(rng)

    def fixed_dash(rng: random.Random) -> str:
        area, sub = _landline(rng)
        return f"0{area}-{sub}"

    def fixed_paren(rng: random.Random) -> str:
        area, sub = _landline(rng)
        body = _group(sub, (3, 2, 2) if len(sub) == 7 else (2, 2, 2), " ")
        return f"(0{area}) {rng.choice((body, sub))}"

    def fixed_long(rng: random.Random) -> str:
        area, sub = _landline(rng, long_area=True)
        return f"0{area}{rng.choice((' ', '-', ' - ', '/'))}{sub}"

    def dotted(rng: random.Random) -> str:
        if rng.random() < 0.5:
            return "0" + _group(mob(rng), (1, 2, 2, 2, 2), ".")
        area, sub = _landline(rng, long_area=False)
        return f"0{area}.{_group(sub, (3, 2, 2), '.')}"

    def intl_fixed(rng: random.Random) -> str:
        area, sub = _landline(rng)
        return f"+31 {area} {_group(sub, (3, 4) if len(sub) == 7 else (3, 3), ' ')}"

    def any_plain(rng: random.Random) -> str:
        if rng.random() < 0.6:
            m = mob(rng)
            return rng.choice((f"06-{m[1:]}", f"06 {_group(m[1:], (4, 4), ' ')}", "0" + m))
        return fixed_dash(rng)

    def label(rng: random.Random) -> str:
        lab = rng.choice(("tel.", "tel:", "telefoon:", "mob.", "mobiel", "tel.nr.", "telnr",
                          "telefoonnummer", "gsm", "nummer:"))
        return f"{lab} {any_plain(rng)}"

    def nbsp(rng: random.Random) -> str:
        m = mob(rng)
        nb = "\u00a0"
        return rng.choice((f"06{nb}{m[1:]}", f"06{nb}{_group(m[1:], (2, 2, 2, 2), nb)}",
                           f"+31{nb}6{nb}{m[1:]}"))

    def split(rng: random.Random) -> str:
        m = mob(rng)
        return _split_line(rng, rng.choice((f"06-{m[1:]}", f"06 {_group(m[1:], (4, 4), ' ')}",
                                            f"06 {_group(m[1:], (2, 2, 2, 2), ' ')}")))

    return [
        _Form("06-streepje", lambda rng: f"06-{mob(rng)[1:]}"),
        _Form("06 compact", lambda rng: "0" + mob(rng)),
        _Form("06 1234 5678", lambda rng: f"06 {_group(mob(rng)[1:], (4, 4), ' ')}"),
        _Form("06 12 34 56 78", lambda rng: f"06 {_group(mob(rng)[1:], (2, 2, 2, 2), ' ')}"),
        _Form("+31 6 gegroepeerd", lambda rng: "+31 6 " + rng.choice((
            _group(mob(rng)[1:], (4, 4), " "), mob(rng)[1:], _group(mob(rng)[1:], (2,) * 4, " ")
        ))),
        _Form("+316 compact", lambda rng: "+31" + mob(rng)),
        _Form("0031", lambda rng: rng.choice(("0031 6 ", "00316", "0031 6-", "0031-6-"))
              + mob(rng)[1:]),
        _Form("+31 (0)", lambda rng: rng.choice((f"+31 (0)6 {mob(rng)[1:]}",
                                                 f"+31(0)6-{mob(rng)[1:]}",
                                                 "+31 (0){} {}".format(*_landline(rng))))),
        _Form("vast (0xx)", fixed_paren),
        _Form("vast streepje", fixed_dash),
        _Form("vast 4-cijferig netnummer", fixed_long),
        _Form("punten", dotted),
        _Form("+31 vast", intl_fixed),
        _Form("label", label, labeled=True),
        _Form("nbsp", nbsp),
        _Form("regeleinde", split),
        _Form("zero-width", lambda rng: _zero_width(rng, any_plain(rng))),
        _Form("einde zin", lambda rng: any_plain(rng) + _end_punct(rng), where="end"),
        _Form("aan woord vast", lambda rng: rng.choice(("bel", "tel", "nr", "Zorg", "mob"))
              + rng.choice(("0" + mob(rng), f"06-{mob(rng)[1:]}", "+31" + mob(rng)))),
    ]


# ---- e-mail --------------------------------------------------------------------------------

_MAIL_DOMAINS = ("gmail.com", "hotmail.com", "hotmail.nl", "outlook.com", "live.nl", "ziggo.nl",
                 "kpnmail.nl", "planet.nl", "home.nl", "xs4all.nl", "icloud.com", "yahoo.com",
                 "hetnet.nl", "casema.nl", "telfort.nl", "online.nl", "protonmail.com",
                 "outlook.be", "gmx.de", "me.com")
_NONASCII_FIRST = ("zoë", "chloé", "noël", "renée", "jürgen", "ömer", "ayşe", "büşra", "inès",
                   "josé", "andré", "mañuel", "françois", "hüseyin", "oğuz", "zoé", "daniël")
_NONASCII_LAST = ("müller", "öztürk", "yılmaz", "şahin", "çelik", "doğan", "bakkalı", "van_dijk",
                  "de_vriés", "gündoğdu", "ördög", "ibáñez", "nguyễn")


def _local(rng: random.Random) -> str:
    f, last = _ascii(_first(rng)), _ascii(_surname(rng))
    nn = str(rng.randint(1, 99))
    yy = str(rng.randint(70, 99) if rng.random() < 0.5 else rng.randint(2000, 2012))
    return rng.choice((
        f"{f}.{last}", f"{f[0]}.{last}", f"{f}{last}", f"{f}{yy}", f"{last}{f[0]}",
        f"{f}_{last}{nn}", f"{f}.{last}{nn}", f"{last}.{f}", f"{f}{nn}", f"x{f}x{nn}",
        f"{f}-{last}", f"mama.{f}", f"fam{last}",
    ))


def _email(rng: random.Random) -> str:
    return f"{_local(rng)}@{rng.choice(_MAIL_DOMAINS)}"


def _email_forms() -> list[_Form]:
    def split(rng: random.Random) -> tuple[str, str, str]:
        local, domain = _local(rng), rng.choice(_MAIL_DOMAINS)
        host, tld = domain.rsplit(".", 1)
        return local, host, tld

    def brackets(rng: random.Random) -> str:
        local, host, tld = split(rng)
        dot = rng.choice(("[dot]", "[punt]", "[.]", "."))
        return f"{local}{rng.choice(('[at]', '[AT]', '[@]'))}{host}{dot}{tld}"

    def parens(rng: random.Random) -> str:
        local, host, tld = split(rng)
        dot = rng.choice(("(dot)", "(punt)", "."))
        return f"{local}{rng.choice(('(at)', '(AT)', '(a)'))}{host}{dot}{tld}"

    def words(rng: random.Random) -> str:
        local, host, tld = split(rng)
        dot = rng.choice((" punt ", " dot ", "."))
        return f"{local} {rng.choice(('at', 'AT', 'apenstaartje'))} {host}{dot}{tld}"

    def spaced(rng: random.Random) -> str:
        local, host, tld = split(rng)
        return rng.choice((f"{local} @ {host}.{tld}", f"{local}@ {host}.{tld}",
                           f"{local} @{host}.{tld}", f"{local} @ {host} . {tld}"))

    def nonascii(rng: random.Random) -> str:
        local = rng.choice((
            f"{rng.choice(_NONASCII_FIRST)}.{rng.choice(_NONASCII_LAST)}",
            f"{rng.choice(_NONASCII_FIRST)}{rng.randint(1, 99)}",
            f"{_ascii(_first(rng))}.{rng.choice(_NONASCII_LAST)}",
        ))
        return f"{local}@{rng.choice(_MAIL_DOMAINS)}"

    def sub(rng: random.Random) -> str:
        local, host, tld = split(rng)
        tag = rng.choice(("school", "zorg", "gemeente", "jeugd", "2026", "wijkteam", "post"))
        return f"{local}+{tag}@{host}.{tld}"

    def label(rng: random.Random) -> str:
        lab = rng.choice(("e-mail:", "e-mail", "mail:", "email", "e-mailadres", "mailadres:",
                          "E-mail:", "mail naar"))
        return f"{lab} {_email(rng)}"

    def upper(rng: random.Random) -> str:
        local, domain = _local(rng), rng.choice(_MAIL_DOMAINS)
        return rng.choice((f"{local}@{domain}".upper(), f"{_cap(local)}@{domain}",
                           f"{local}@{_cap(domain)}", f"{local.upper()}@{domain}"))

    return [
        _Form("plain", _email, cap=False),
        _Form("hoofdletters", upper),
        _Form("[at] en [dot]", brackets, cap=False),
        _Form("(at) en (punt)", parens, cap=False),
        _Form("at en punt als woorden", words, cap=False),
        _Form("spaties rond @", spaced, cap=False),
        _Form("niet-ASCII local part", nonascii, cap=False),
        _Form("subadres", sub, cap=False),
        _Form("punthaken", lambda rng: f"<{_email(rng)}>"),
        _Form("mailto", lambda rng: f"mailto:{_email(rng)}", cap=False),
        _Form("label", label, labeled=True),
        _Form("einde zin", lambda rng: _email(rng) + _end_punct(rng), where="end", cap=False),
        _Form("fullwidth @", lambda rng: _email(rng).replace("@", "＠"), cap=False),
        _Form("zero-width", lambda rng: _email(rng).replace(
            "@", rng.choice(_ZERO_WIDTH[:4]) + "@"), cap=False),
        _Form("regeleinde", lambda rng: _email(rng).replace("@", "@\n"), cap=False),
    ]


# ---- postcode ------------------------------------------------------------------------------

def _postcode_forms() -> list[_Form]:
    def pc(rng: random.Random, sep: str = " ") -> str:
        digits, letters = _postcode_parts(rng)
        return f"{digits}{sep}{letters}"

    def with_city(rng: random.Random) -> str:
        city = rng.choice(CITIES + _FAKER_CITIES)
        return rng.choice((f"{pc(rng)} {city}", f"{pc(rng, '')} {city.upper()}",
                           f"{pc(rng)}  {city}", f"{pc(rng)}, {city}"))

    def label(rng: random.Random) -> str:
        lab = rng.choice(("postcode", "postcode:", "pc", "pc.", "Postcode"))
        return f"{lab} {pc(rng, rng.choice((' ', '')))}"

    return [
        _Form("1234 AB", pc),
        _Form("1234AB", lambda rng: pc(rng, "")),
        _Form("1234 ab", lambda rng: pc(rng).lower()),
        _Form("1234ab", lambda rng: pc(rng, "").lower()),
        _Form("nbsp", lambda rng: pc(rng, rng.choice(("\u00a0", "\u202f")))),
        _Form("met plaats", with_city),
        _Form("label", label, labeled=True),
        _Form("gemengde hoofdletters", lambda rng: (lambda d, ab: f"{d} {ab[0]}{ab[1].lower()}")(
            *_postcode_parts(rng))),
        _Form("streepje", lambda rng: pc(rng, "-")),
        _Form("regeleinde", lambda rng: pc(rng, "\n")),
        _Form("dubbele spatie of tab", lambda rng: pc(rng, rng.choice(("  ", "\t")))),
        _Form("zero-width", lambda rng: pc(rng, rng.choice(_ZERO_WIDTH[:4]))),
        _Form("einde zin", lambda rng: pc(rng, rng.choice((" ", ""))) + _end_punct(rng),
              where="end"),
        _Form("plaats, postcode", lambda rng: f"{rng.choice(CITIES)} ({pc(rng)})"),
    ]


# ---- address -------------------------------------------------------------------------------

def _street(rng: random.Random, multi: bool | None = None) -> str:
    if multi is None:
        multi = rng.random() < 0.3
    suffix = rng.choice(_STREET_SUFFIXES)
    if not multi:
        return rng.choice(_STREET_BASES) + suffix
    r = rng.random()
    if r < 0.4:
        return f"{rng.choice(_STREET_TITLES)} {_alone(rng.choice(SURNAMES))}{suffix}"
    if r < 0.7:
        return f"{rng.choice(_STREET_ADJ)} {rng.choice(_STREET_BASES)}{suffix}"
    return f"{rng.choice(_STREET_SAINTS)}{suffix}"


def _house_number(rng: random.Random) -> int:
    return rng.choice((rng.randint(1, 40), rng.randint(1, 40), rng.randint(1, 250)))


_ABBR = (("straat", "str."), ("laan", "ln."), ("plein", "pln."), ("Burgemeester", "Burg."),
         ("Dokter", "Dr."), ("Sint", "St."), ("Professor", "Prof."), ("straat", "str"),
         ("singel", "sngl."), ("weg", "wg."), ("Generaal", "Gen."))


def _address_forms() -> list[_Form]:
    def plain(rng: random.Random, number: str | None = None) -> str:
        return f"{_street(rng)} {number or _house_number(rng)}"

    def letter(rng: random.Random) -> str:
        n, ch = _house_number(rng), rng.choice("abcdABCD")
        return plain(rng, rng.choice((f"{n}{ch}", f"{n}-{ch}", f"{n} {ch}")))

    def numbered(rng: random.Random) -> str:
        n = _house_number(rng)
        return plain(rng, rng.choice((f"{n}-{rng.randint(1, 4)}", f"{n}-{rng.randint(10, 99)}",
                                      f"{n}/{rng.randint(1, 3)}", f"{n} - {rng.randint(1, 9)}")))

    def bis(rng: random.Random) -> str:
        n = _house_number(rng)
        return plain(rng, rng.choice((f"{n} bis", f"{n}bis", f"{n}-bis", f"{n} BIS")))

    def floor(rng: random.Random) -> str:
        n = _house_number(rng)
        return plain(rng, rng.choice((f"{n} hs", f"{n}-hs", f"{n} huis", f"{n}-II", f"{n} III",
                                      f"{n}-1hg", f"{n} bg", f"{n}-I", f"{n} zw")))

    def nr(rng: random.Random) -> str:
        return f"{_street(rng)} {rng.choice(('nr.', 'nr', 'no.', 'nummer'))} {_house_number(rng)}"

    def abbr(rng: random.Random) -> str:
        while True:
            s = _street(rng)
            hits = [(a, b) for a, b in _ABBR if a in s]
            if hits:
                a, b = rng.choice(hits)
                return f"{s.replace(a, b, 1)} {_house_number(rng)}"

    def with_pc(rng: random.Random) -> str:
        d, ab = _postcode_parts(rng)
        city = rng.choice(CITIES)
        return rng.choice((f"{plain(rng)}, {d} {ab} {city}", f"{plain(rng)} {d}{ab} {city}",
                           f"{plain(rng)}, {d} {ab}", f"{plain(rng)} {d} {ab} {city.upper()}"))

    def with_city(rng: random.Random) -> str:
        city = rng.choice(CITIES + _FAKER_CITIES)
        return rng.choice((f"{plain(rng)} in {city}", f"{plain(rng)} te {city}",
                           f"{plain(rng)}, {city}", f"{plain(rng)} ({city})"))

    def two_lines(rng: random.Random) -> str:
        d, ab = _postcode_parts(rng)
        return f"{plain(rng)}\n{d} {ab} {rng.choice(CITIES)}"

    def label(rng: random.Random) -> str:
        lab = rng.choice(("adres:", "Adres", "woonadres", "Woonadres:", "verblijfsadres",
                          "postadres:", "huidig adres", "nieuw adres:"))
        return f"{lab} {plain(rng)}"

    return [
        _Form("straat + nummer", plain),
        _Form("letter toevoeging", letter),
        _Form("nummer toevoeging", numbered),
        _Form("bis", bis),
        _Form("hs / verdieping", floor),
        _Form("nr.", nr),
        _Form("afkorting", abbr),
        _Form("meerwoordige straatnaam", lambda rng: f"{_street(rng, multi=True)} "
              f"{_house_number(rng)}"),
        _Form("met postcode", with_pc),
        _Form("met plaats", with_city),
        _Form("kleine letters", lambda rng: plain(rng).lower(), cap=False),
        _Form("over twee regels", two_lines),
        _Form("nbsp", lambda rng: f"{_street(rng)}\u00a0{_house_number(rng)}"),
        _Form("label", label, labeled=True, where="start"),
        _Form("korte straatnaam", lambda rng: f"{rng.choice(_STREET_SINGLE)} "
              f"{_house_number(rng)}"),
    ]


# ---- birth date ----------------------------------------------------------------------------

_CHILD_ROLES = ("zoon", "dochter", "de jeugdige", "het kind", "de jongere", "de minderjarige",
                "broertje", "zusje", "de oudste zoon", "de jongste dochter", "het meisje",
                "de jongen")
_ADULT_ROLES = ("moeder", "vader", "de cliënt", "betrokkene", "de stiefvader", "de partner")


def _person_role(rng: random.Random) -> tuple[str, int, int, int]:
    """(role, day, month, year) of a child (mostly) or an adult."""
    if rng.random() < 0.25:
        role, year = rng.choice(_ADULT_ROLES), rng.randint(1965, 2000)
    else:
        role, year = rng.choice(_CHILD_ROLES), rng.randint(2008, 2024)
    return role, rng.randint(1, 28), rng.randint(1, 12), year


def _birth_forms() -> list[_Form]:
    def geb(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        date = rng.choice((f"{d}-{m}-{y}", f"{d:02d}-{m:02d}-{y}"))
        return rng.choice((f"{role} (geb. {date})", f"{role} geb. {date}",
                           f"{role}, geb. {date},", f"{role} geb {date}"))

    def written(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        return f"{role} {rng.choice(('geboren op', 'geboren', 'geb. op'))} {d} {_MONTHS[m - 1]} {y}"

    def iso(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        lab = rng.choice(("geboortedatum:", "geboortedatum", "Geboortedatum:"))
        return rng.choice((f"{role} ({lab} {y}-{m:02d}-{d:02d})",
                           f"{role}, {lab} {y}-{m:02d}-{d:02d},"))

    def years_old(rng: random.Random) -> str:
        role, _, _, y = _person_role(rng)
        age = _THIS_YEAR - y
        return rng.choice((f"{role} die {age} jaar oud is", f"{role} ({age} jaar oud)",
                           f"{role}, {age} jaar oud,", f"{role} van {age} jaar"))

    def jr(rng: random.Random) -> str:
        role, _, _, y = _person_role(rng)
        age = _THIS_YEAR - y
        return f"{role} ({age}{rng.choice((' jr', ' jr.', 'jr', ' jaar'))})"

    def van(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        return f"{role} van {rng.choice((f'{d:02d}-{m:02d}-{y}', f'{d}-{m}-{y}'))}"

    def slash(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        return f"{role} geb. {d:02d}/{m:02d}/{y}"

    def dots(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        return f"{role} {rng.choice(('geboren', 'geb.'))} {d:02d}.{m:02d}.{y}"

    def abbr(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        lab = rng.choice(("geb.datum", "geb.", "geboren", "gebdat."))
        return f"{role} ({lab} {d} {_MONTHS_ABBR[m - 1]} {y})"

    def jarige(rng: random.Random) -> str:
        age = rng.randint(2, 17)
        noun = rng.choice(("zoon", "dochter", "jongen", "meid", "jongere", "cliënt", "broer"))
        return rng.choice((f"de {age}-jarige {noun}", f"de {age}-jarige", f"{noun} ({age}-jarig)"))

    def leeftijd(rng: random.Random) -> str:
        role, _, _, y = _person_role(rng)
        age = _THIS_YEAR - y
        return f"{role} ({rng.choice(('leeftijd:', 'lft.', 'lft', 'leeftijd'))} {age})"

    def short_year(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        return f"{role} geb. {d:02d}-{m:02d}-{y % 100:02d}"

    def label_nocolon(rng: random.Random) -> str:
        role, d, m, y = _person_role(rng)
        lab = rng.choice(("met geboortedatum", "geb.dat.", "gebdatum", "geboortedatum"))
        return f"{role} {lab} {d:02d}-{m:02d}-{y}"

    return [
        _Form("geb. d-m-jjjj", geb),
        _Form("geboren op d maand jjjj", written),
        _Form("geboortedatum jjjj-mm-dd", iso),
        _Form("x jaar oud", years_old),
        _Form("(x jr)", jr),
        _Form("van dd-mm-jjjj", van),
        _Form("geb. dd/mm/jjjj", slash),
        _Form("geboren dd.mm.jjjj", dots),
        _Form("afgekorte maand", abbr),
        _Form("x-jarige", jarige),
        _Form("leeftijd", leeftijd),
        _Form("jaartal in twee cijfers", short_year),
        _Form("geboortedatum zonder dubbele punt", label_nocolon),
    ]


# ---- kenteken ------------------------------------------------------------------------------

def _kenteken_forms() -> list[_Form]:
    def any_plate(rng: random.Random) -> str:
        return _plate(rng, rng.choice(SIDECODES))

    forms = [_Form(f"sidecode {i} ({code})", lambda rng, code=code: _plate(rng, code))
             for i, code in enumerate(SIDECODES, start=1)]

    def label(rng: random.Random) -> str:
        lab = rng.choice(("kenteken", "kenteken:", "kent.", "nummerbord", "kentekennummer"))
        return f"{lab} {any_plate(rng)}"

    return [
        *forms,
        _Form("zonder streepjes", lambda rng: any_plate(rng).replace("-", "")),
        _Form("kleine letters", lambda rng: any_plate(rng).lower(), cap=False),
        _Form("spaties", lambda rng: any_plate(rng).replace("-", " ")),
        _Form("label", label, labeled=True),
        _Form("haakjes", lambda rng: f"({any_plate(rng)})"),
        _Form("einde zin", lambda rng: any_plate(rng) + _end_punct(rng), where="end"),
    ]


# ---- document ------------------------------------------------------------------------------

def _document_forms() -> list[_Form]:
    def lab(rng: random.Random, labels: Sequence[str], digits_only: bool = False) -> str:
        return f"{rng.choice(labels)} {_document(rng, digits_only)}"

    passport = ("paspoort", "paspoortnr.", "paspoortnummer", "paspoortnummer:", "Paspoort",
                "paspoort nr")
    idcard = ("ID-kaart", "id-kaart", "identiteitskaart", "ID-kaartnummer", "identiteitskaart nr.",
              "id kaart", "ID:")
    document = ("documentnummer", "documentnummer:", "docnr.", "nummer identiteitsbewijs",
                "legitimatie", "ID-bewijs", "reisdocument")

    return [
        _Form("paspoort met label", lambda rng: lab(rng, passport), labeled=True),
        _Form("ID-kaart met label", lambda rng: lab(rng, idcard), labeled=True),
        _Form("documentnummer met label", lambda rng: lab(rng, document), labeled=True),
        _Form("kaal", _document),
        _Form("kleine letters", lambda rng: _document(rng).lower(), cap=False),
        _Form("3-3-3 spaties", lambda rng: _group(_document(rng), (3, 3, 3), " ")),
        _Form("streepjes", lambda rng: _group(_document(rng), (3, 3, 3), "-")),
        _Form("haakjes", lambda rng: f"({_document(rng)})"),
        _Form("nbsp", lambda rng: _group(_document(rng), rng.choice(((3, 3, 3), (2, 6, 1))),
                                         "\u00a0")),
        _Form("zero-width", lambda rng: _zero_width(rng, _document(rng))),
        _Form("einde zin", lambda rng: _document(rng) + _end_punct(rng), where="end"),
        _Form("fullwidth", lambda rng: _fullwidth(_document(rng))),
        _Form("letters + 7 cijfers", lambda rng: lab(rng, passport + idcard, True),
              labeled=True),
    ]


# ---- social media --------------------------------------------------------------------------

def _handle(rng: random.Random) -> str:
    f, last = _ascii(_first(rng)), _ascii(_sort_form(_surname(rng))[0])
    nn = str(rng.randint(1, 99))
    return rng.choice((
        f"{f}_{last}", f"{f}.{last}", f"{f}{nn}", f"xx{f}xx", f"{f}{last[:3]}{nn}",
        f"the.real.{f}", f"{f}_{nn}_", f"{f}.{last}{nn}", f"its.{f}", f"{f}x{last}",
        f"{last}.{f}", f"{f}_official", f"__{f}__",
    ))


def _social_forms() -> list[_Form]:
    def insta_url(rng: random.Random) -> str:
        return f"https://www.instagram.com/{_handle(rng)}{rng.choice(('/', ''))}"

    def facebook(rng: random.Random) -> str:
        f, last = _ascii(_first(rng)), _ascii(_surname(rng))
        return rng.choice((f"https://www.facebook.com/{f}.{last}.{rng.randint(1, 9)}",
                           f"facebook.com/{f}.{last}",
                           f"https://www.facebook.com/profile.php?id=1000{_digits(rng, 11)}",
                           f"https://m.facebook.com/{f}{last}{rng.randint(1, 99)}"))

    def linkedin(rng: random.Random) -> str:
        f, last = _ascii(_first(rng)), _ascii(_surname(rng))
        tail = "".join(rng.choice("0123456789abcdef") for _ in range(8))
        return rng.choice((f"linkedin.com/in/{f}-{last}-{tail}",
                           f"https://www.linkedin.com/in/{f}{last}/"))

    def platform_at(rng: random.Random) -> str:
        h = _handle(rng)
        plat = rng.choice(("Instagram", "TikTok", "insta", "Snapchat", "X", "Threads"))
        return rng.choice((f"@{h} op {plat}", f"{plat} @{h}", f"{plat}: @{h}"))

    def label_no_at(rng: random.Random) -> str:
        lab = rng.choice(("insta:", "ig:", "Instagram-account", "instagram", "IG", "tiktok:",
                          "TikTok-account"))
        return f"{lab} {_handle(rng)}"

    return [
        _Form("@handle", lambda rng: f"@{_handle(rng)}", cap=False),
        _Form("instagram.com/handle", lambda rng: f"instagram.com/{_handle(rng)}", cap=False),
        _Form("https instagram-URL", insta_url, cap=False),
        _Form("tiktok-URL", lambda rng: rng.choice(("tiktok.com/@", "https://www.tiktok.com/@",
                                                    "www.tiktok.com/@")) + _handle(rng),
              cap=False),
        _Form("facebook-URL", facebook, cap=False),
        _Form("fb: naam", lambda rng: f"{rng.choice(('fb:', 'FB', 'facebook:'))} "
              f"{_ascii(_first(rng))}.{_ascii(_surname(rng))}", labeled=True),
        _Form("snapchat", lambda rng: f"{rng.choice(('snap:', 'Snapchat:', 'sc:', 'snapchat'))} "
              f"{_handle(rng)}", labeled=True),
        _Form("x/twitter-URL", lambda rng: rng.choice((
            "x.com/", "twitter.com/", "https://twitter.com/", "https://x.com/")) + _handle(rng),
              cap=False),
        _Form("linkedin-URL", linkedin, cap=False),
        _Form("youtube-URL", lambda rng: f"youtube.com/@{_handle(rng)}", cap=False),
        _Form("telegram", lambda rng: rng.choice(("t.me/", "https://t.me/")) + _handle(rng),
              cap=False),
        _Form("label zonder @", label_no_at, labeled=True),
        _Form("@handle op platform", platform_at, labeled=True),
        _Form("discord", lambda rng: f"{rng.choice(('discord:', 'Discord-naam', 'discord'))} "
              f"{_handle(rng)}", labeled=True),
        _Form("URL met query", lambda rng: f"https://www.instagram.com/{_handle(rng)}?igsh="
              + "".join(rng.choice("abcdefghijkmnpqrstuvwxyz0123456789") for _ in range(12)),
              cap=False),
        _Form("www zonder schema", lambda rng: rng.choice(("www.instagram.com/",
                                                           "www.facebook.com/")) + _handle(rng),
              cap=False),
        _Form("snapchat-URL", lambda rng: f"snapchat.com/add/{_handle(rng)}", cap=False),
    ]


# ---- person names --------------------------------------------------------------------------

_RELATIONS = ("moeder van", "de moeder van", "vader van", "de vader van", "oma van", "opa van",
              "broer van", "zus van", "de stiefvader van", "pleegmoeder van", "tante van",
              "oom van", "de vriend van", "het zusje van", "de ex van", "de buurvrouw van")
_CHILD_APPOS = ("zoon", "dochter", "de jongere", "baby", "broertje", "zusje", "de jeugdige",
                "kleindochter", "pleegzoon", "cliënt")


def _initials(rng: random.Random) -> str:
    k = rng.choice((1, 2, 2, 3))
    letters = [rng.choice("ABCDEFGHJKLMNPRSTWY") for _ in range(k)]
    return "".join(f"{c}." for c in letters) if rng.random() < 0.85 else " ".join(
        f"{c}." for c in letters)


def _name_forms() -> list[_Form]:
    def full(rng: random.Random) -> str:
        return f"{_first(rng)} {_surname(rng)}"

    def initial(rng: random.Random) -> str:
        return f"{rng.choice('ABCDEFGHJKLMNPRSTW')}. {_surname(rng)}"

    def initials_tv(rng: random.Random) -> str:
        return f"{_initials(rng)} {rng.choice(SURNAMES_TV)}"

    def title_abbr(rng: random.Random) -> str:
        title = rng.choice(("dhr.", "mw.", "mevr.", "Dhr.", "Mw.", "dhr", "mevr"))
        if rng.random() < 0.3:
            return f"{title} {_initials(rng)} {_surname(rng)}"
        return f"{title} {_alone(_surname(rng))}"

    def title_word(rng: random.Random) -> str:
        return f"{rng.choice(('meneer', 'mevrouw', 'juf', 'meester'))} {_alone(_surname(rng))}"

    def relation(rng: random.Random) -> str:
        return f"{rng.choice(_RELATIONS)} {_first(rng)}"

    def double(rng: random.Random) -> str:
        a, b = rng.choice(SURNAMES_PLAIN + _COMMON_SURNAMES), _surname(rng)
        pre = rng.choice((f"{_first(rng)} ", f"{_first(rng)} ",
                          f"{rng.choice(('mw.', 'mevrouw', 'dhr.', 'meneer'))} ", ""))
        name = f"{a}-{b}"
        return pre + (name if pre else _alone(name))

    def sort_form(rng: random.Random) -> str:
        main, tv = _sort_form(_surname(rng))
        first = _first(rng)
        if tv:
            return rng.choice((f"{_cap(tv)} {main}, {first}", f"{main}, {first[0]}. {tv}",
                               f"{main}, {first} {tv}"))
        return rng.choice((f"{main}, {first}", f"{main}, {_initials(rng)}"))

    def migrant(rng: random.Random) -> str:
        return f"{rng.choice(_MIGRANT_FIRST)} {rng.choice(_MIGRANT_SURNAMES)}"

    def word_surname(rng: random.Random) -> str:
        s = rng.choice(_WORD_SURNAMES)
        return rng.choice((f"{_first(rng)} {s}", f"{rng.choice(('mevrouw', 'meneer', 'mw.'))} "
                           f"{_alone(s)}", f"{rng.choice('ABCDEHJKMPRSTW')}. {s}"))

    def possessive(rng: random.Random) -> str:
        f = _first(rng)
        if f[-1] in "sxz":
            poss = f"{f}'"
        elif f[-1] in "aeiouy":
            poss = f"{f}'s"
        else:
            poss = f"{f}s"
        return f"{poss} {rng.choice(('moeder', 'vader', 'mentor', 'school', 'oma', 'broer'))}"

    def appos(rng: random.Random) -> str:
        return f"{rng.choice(_CHILD_APPOS)} {_first(rng)}"

    return [
        _Form("voornaam achternaam", full),
        _Form("voorletter + achternaam", initial),
        _Form("voorletters + tussenvoegsel", initials_tv),
        _Form("dhr./mw. + achternaam", title_abbr),
        _Form("meneer/mevrouw + achternaam", title_word),
        _Form("relatie van voornaam", relation),
        _Form("alleen voornaam", _first),
        _Form("kleine letters", lambda rng: full(rng).lower(), cap=False),
        _Form("met tussenvoegsel", lambda rng: f"{_first(rng)} {rng.choice(SURNAMES_TV)}"),
        _Form("dubbele achternaam", double),
        _Form("achternaam, voornaam", sort_form),
        _Form("niet-Nederlandse herkomst", migrant),
        _Form("achternaam die ook een woord is", word_surname),
        _Form("bezittelijk", possessive),
        _Form("rol + voornaam", appos),
    ]


# --------------------------------------------------------------------------------------------
# Sentence templates. "{x}" is the identifier; "L|" marks a template that already names the
# kind right before the slot (a form with its own label is not put there).
# --------------------------------------------------------------------------------------------

_GENERIC = (
    "{x} doorgeven aan het wijkteam",
    "{x} noteren in het dossier en terugkoppelen aan de casusregisseur",
    "Terugkoppeling aan Veilig Thuis over {x}",
    "Nagaan bij de GGD of {x} bekend is",
    "Gegevens {x} controleren voor de volgende bijeenkomst",
    "Bij de volgende bijeenkomst nagaan of {x} klopt",
    "Casusregisseur checkt {x} voor vrijdag",
    "Reclassering Nederland informeren, zie {x}",
    "Graag {x} toevoegen aan de aanmelding bij de Raad voor de Kinderbescherming",
    "Afstemmen met de jeugdbeschermer over {x}",
    "Voor het overleg: {x}",
    "Wijkagent vraagt naar {x}, terugbellen",
)

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "bsn": (
        *_GENERIC,
        "Gegevens van {x} opvragen bij de gemeente",
        "{x} controleren in de BRP",
        "Aanmelding bij Veilig Thuis doen onder {x}",
        "Dossier bij Jeugdbescherming Brabant opvragen voor {x}",
        "Nagaan of {x} al bekend is bij de Raad voor de Kinderbescherming",
        "Inschrijving bij de huisarts nagaan voor {x}",
        "Zorgverzekering checken op {x}",
        "Suwinet raadplegen voor {x} i.v.m. inkomen",
        "Aanvraag Wmo indienen voor {x}",
        "{x} toevoegen aan de aanmelding bij Reclassering Nederland",
        "Indicatie jeugdhulp aanvragen op {x}",
        "Schuldhulp: aanmelding doorsturen met {x}",
        "Check of {x} al in het systeem van het CJG staat",
        "Verwijzing naar de jeugd-ggz opstellen voor {x}",
        "Navragen of de uitkering loopt op {x}",
        "Gegevens doorgeven aan de GGD: {x}",
        "Huisbezoek plannen en gegevens meenemen van {x}",
        "L|BSN van de jeugdige is {x}, doorgeven aan RvdK",
        "L|Burgerservicenummer {x} controleren in de BRP",
        "L|Het BSN {x} ontbreekt nog in de aanmelding bij Veilig Thuis",
        "L|Aanmelding GGD: bsn {x} nog toevoegen",
        "L|BSN-nummer {x} doorgeven aan de zorgverzekeraar",
        "L|Moeder vragen of haar burgerservicenummer {x} is",
        "L|Aanmelding wijkteam afronden, BSN moeder {x}",
    ),
    "iban": (
        *_GENERIC,
        "Betaling van de huur controleren op {x}",
        "Machtiging voor {x} intrekken",
        "Toeslagen laten overmaken naar {x}",
        "Bewindvoerder vragen of {x} onder beheer staat",
        "Schuldhulp: afschriften van {x} opvragen",
        "Huurachterstand: betalingsregeling via {x} afspreken",
        "Bijzondere bijstand overmaken op {x}",
        "Leefgeld storten op {x} via de bewindvoering",
        "{x} doorgeven aan de woningcorporatie voor terugbetaling",
        "Nagaan of de uitkering binnenkomt op {x}",
        "Automatische incasso op {x} stopzetten",
        "Verdachte transacties op {x} melden bij de politie",
        "Beslag op {x} bespreken met de deurwaarder",
        "{x} laten blokkeren i.v.m. financiële uitbuiting",
        "Kinderbijslag laten storten op {x}",
        "Vergoeding reiskosten overmaken naar {x}",
        "L|Rekeningnummer {x} doorgeven aan de bewindvoerder",
        "L|IBAN {x} nagaan bij de schuldhulpverlening",
        "L|Betaalrekening {x} laten blokkeren",
        "L|Nieuw rekeningnummer is {x}, doorgeven aan de SVB",
        "L|Teruggave belasting gaat naar rekening {x}",
    ),
    "phone": (
        *_GENERIC,
        "Bellen naar {x} voor een afspraak huisbezoek",
        "Moeder terugbellen op {x}",
        "Vader is bereikbaar via {x}, afspraak maken",
        "Sms sturen naar {x} met de datum van het overleg",
        "Nagaan of {x} nog in gebruik is",
        "Via WhatsApp op {x} contact zoeken met de jongere",
        "Mentor bereikbaar op {x}, terugkoppeling geven",
        "Oma bellen: {x}",
        "Bereikbaar na 17:00 op {x}",
        "Terugbelverzoek van {x} afhandelen",
        "Voicemail ingesproken op {x}, opnieuw proberen",
        "{x} blokkeren i.v.m. bedreigende berichten",
        "{x} bellen om het huisbezoek te bevestigen",
        "Contact met de buurvrouw via {x}",
        "Na het gesprek met school moeder bellen op {x}",
        "L|Telefoonnummer {x} doorgeven aan Veilig Thuis",
        "L|Nieuw mobiel nummer van moeder is {x}",
        "L|Tel.nr. vader {x} toevoegen aan het dossier",
        "L|Nummer van de pleegouders: {x}",
        "L|Mobiel nummer jongere {x} doorgeven aan de wijkagent",
    ),
    "email": (
        *_GENERIC,
        "Uitnodiging mailen naar {x}",
        "Verslag sturen aan {x}",
        "Moeder vraagt reactie via {x}",
        "Terugkoppeling per mail aan {x}",
        "Beveiligd mailen naar {x} via Zivver",
        "Nagaan of {x} nog werkt",
        "Afspraakbevestiging naar {x} sturen",
        "Contact met vader loopt via {x}",
        "Dreigmails vanaf {x} melden bij de politie",
        "Toestemmingsformulier mailen naar {x}",
        "Inloggegevens voor het ouderportaal sturen naar {x}",
        "{x} toevoegen als contact voor de school",
        "{x} vragen om de ondertekende verklaring terug te sturen",
        "Mail van {x} doorsturen naar de jurist",
        "L|E-mailadres {x} doorgeven aan de school",
        "L|Mailadres van moeder: {x}",
        "L|Nieuw e-mailadres is {x}, aanpassen in het dossier",
        "L|Mail sturen naar het adres {x}",
    ),
    "postcode": (
        *_GENERIC,
        "Nagaan welk wijkteam werkt in {x}",
        "Huisbezoek plannen in {x}",
        "Meldingen van overlast rond {x} bundelen",
        "Wijkagent van {x} informeren",
        "Verhuizing naar {x} doorgeven aan de gemeente",
        "Jongere verblijft mogelijk in {x}, navragen bij de politie",
        "{x} doorgeven aan Veilig Thuis als verblijfplaats",
        "Check of {x} binnen het werkgebied valt",
        "Zorgaanbieder zoeken in de buurt van {x}",
        "Nieuwe woning in {x} bespreken met de woningcorporatie",
        "Moeder is verhuisd naar {x}",
        "{x} is het nieuwe woongebied, school informeren",
        "Opvang zoeken buiten {x}",
        "Buurtbemiddeling inzetten voor {x}",
        "L|Postcode {x} doorgeven aan leerplicht",
        "L|Nieuwe postcode is {x}, aanpassen in het dossier",
        "L|Verblijfadres met postcode {x} nagaan",
    ),
    "address": (
        *_GENERIC,
        "Huisbezoek plannen op {x}",
        "Wijkagent vragen langs te gaan bij {x}",
        "Overlast rond {x} bespreken met de woningcorporatie",
        "Jongere verblijft op {x}, doorgeven aan de politie",
        "Post laten doorsturen naar {x}",
        "Noodopvang geregeld op {x}",
        "Cameratoezicht bij {x} nagaan",
        "{x} doorgeven aan Veilig Thuis",
        "Nieuwe woning op {x} bezichtigen met moeder",
        "Melding van burengerucht op {x} opvolgen",
        "Sleutel ophalen op {x}",
        "Inschrijving op {x} controleren in de BRP",
        "Oma woont op {x}, nagaan of de kinderen daar kunnen verblijven",
        "Tijdelijk huisverbod: vader verblijft op {x}",
        "Brandmelding op {x} navragen bij de brandweer",
        "{x} is het opvangadres tot de zitting",
        "{x}: huisbezoek plannen met de wijkagent",
        "{x} controleren in de BRP",
        "Pakket voedselbank laten bezorgen op {x}",
        "L|Nieuw adres is {x}",
        "L|Woonadres {x} controleren",
        "L|Verblijfsadres wijzigen naar {x}",
        "L|Adres van de vader: {x}",
        "L|Vader is woonachtig op {x}",
        "L|Moeder woont sinds kort op {x}",
    ),
    "kenteken": (
        *_GENERIC,
        "{x} stond vaak voor de deur, doorgeven aan de wijkagent",
        "Politie vragen om {x} te registreren",
        "Nagaan op wiens naam {x} staat",
        "Bekeuringen op {x} bespreken met de bewindvoerder",
        "Camerabeelden van {x} opvragen",
        "Vader rijdt in {x}, wijkagent informeren",
        "Melding: {x} rijdt rond bij de school",
        "Scooter {x} nagaan bij de RDW",
        "Verzekering van {x} controleren",
        "Buurtbewoners zagen {x} bij de woning",
        "Bestelbus {x} hoort mogelijk bij de verdachte",
        "Wegsleepregeling voor {x} bespreken met de gemeente",
        "Moeder werd opgehaald met {x}",
        "Ouders hebben {x} verkocht, RDW-overschrijving nagaan",
        "L|Kenteken {x} doorgeven aan de politie",
        "L|Auto met kenteken {x} staat weer bij de woning",
        "L|Nummerbord {x} noteren in het verslag",
        "L|Kenteken van de auto van vader is {x}",
    ),
    "document": (
        *_GENERIC,
        "Kopie van {x} maken voor het dossier",
        "Nagaan bij de gemeente of {x} als vermist is opgegeven",
        "{x} is verlopen, nieuwe aanvraag begeleiden",
        "Vader legitimeerde zich met {x}, noteren in het verslag",
        "Moeder kan {x} niet vinden, vermissing melden",
        "{x} doorgeven aan de IND",
        "Gegevens van {x} opnemen in de aanvraag bij de gemeente",
        "Nagaan of {x} nog geldig is voor de reis",
        "{x} in bewaring geven bij de voogd",
        "Controle bij de balie: {x}",
        "Aanvraag bijstand: kopie van {x} ontbreekt",
        "Ontvoeringsrisico: signalering van {x} aanvragen",
        "Kopie van {x} vernietigen na controle",
        "Vermissing van {x} melden bij de politie",
        "L|Paspoort {x} staat als vermist geregistreerd",
        "L|ID-kaart {x} van moeder is verlopen",
        "L|Documentnummer {x} doorgeven aan de IND",
        "L|Reisdocument {x} laten signaleren",
    ),
    "social": (
        *_GENERIC,
        "Bedreigingen via {x} melden bij de politie",
        "Nagaan wie er achter {x} zit",
        "Screenshots van {x} verzamelen",
        "Jongere wordt benaderd door {x}, ouders informeren",
        "{x} rapporteren bij het platform",
        "Wijkagent vragen om {x} in de gaten te houden",
        "Berichten van {x} bespreken met de mentor",
        "Loverboysignalen via {x} doorgeven aan Fier",
        "Ouders tonen berichten van {x}",
        "Sexting via {x}: aangifte bespreken",
        "{x} blokkeren en melden",
        "Online pesten door {x} bespreken met school",
        "Jongere volgt {x}, zorgen delen met de jeugdarts",
        "Contact met de jongere loopt via {x}",
        "L|Account {x} laten verwijderen",
        "L|Profiel {x} doorgeven aan de politie",
        "L|Nepaccount {x} melden bij het platform",
    ),
    "person": (
        "Gesprek met {x} plannen",
        "Huisbezoek bij {x} afleggen samen met de wijkagent",
        "{x} uitnodigen voor het volgende casusoverleg",
        "Terugkoppeling aan {x} over het besluit van het overleg",
        "Bellen met {x} over de schoolgang",
        "Navragen bij school hoe het met {x} gaat",
        "{x} aanmelden bij het wijkteam",
        "Afspraak maken met {x} en de mentor",
        "Veiligheidsplan bespreken met {x}",
        "Toestemming vragen aan {x} voor informatiedeling",
        "Zorgen over {x} melden bij Veilig Thuis",
        "Casusregisseur koppelen aan {x}",
        "Contact opnemen met {x} over opvoedondersteuning",
        "Rapportage over {x} opvragen bij Jeugdbescherming Brabant",
        "Nagaan of {x} in beeld is bij de GGD",
        "Verwijzing naar de huisarts bespreken met {x}",
        "Huisbezoek plannen bij {x}",
        "Check bij de wijkagent of {x} bekend is",
        "{x} informeren over de uitkomst van het overleg",
        "Hulpverlening voor {x} opstarten via het CJG",
        "Schuldhulpverlening aanbieden aan {x}",
        "Zorgmelding over {x} opvolgen",
        "Ondersteuning regelen voor {x} na de verhuizing",
        "Gesprek met school over {x}",
        "Plan van aanpak opstellen met {x}",
        "Signalen rond {x} delen met Reclassering Nederland",
        "Terugkoppeling aan {x}",
        "Afspraak met {x}",
        "Overleg met leerplicht over {x} inplannen",
        "Jeugdarts vragen {x} te zien",
        "Bij de volgende bijeenkomst bespreken: {x}",
        "Uitnodiging versturen aan {x}",
        "Warme overdracht regelen van {x} naar de jeugd-ggz",
        "Evaluatiegesprek met {x} over het veiligheidsplan",
        "Spoedoverleg organiseren rond {x}",
        "Kijken of {x} nog op de wachtlijst staat",
        "Aanvraag beschermingsonderzoek voor {x} voorbereiden",
        "Bezoek aan {x} samen met de jeugdbeschermer",
        "{x} bellen",
        "Morgen {x} ophalen bij school",
        "Dinsdag langs bij {x}",
    ),
}
_TEMPLATES["name"] = _TEMPLATES["person"]
_TEMPLATES["birthdate"] = _TEMPLATES["person"]

_FORMS: dict[str, list[_Form]] = {
    "bsn": _bsn_forms(),
    "iban": _iban_forms(),
    "phone": _phone_forms(),
    "email": _email_forms(),
    "postcode": _postcode_forms(),
    "address": _address_forms(),
    "birthdate": _birth_forms(),
    "kenteken": _kenteken_forms(),
    "document": _document_forms(),
    "social": _social_forms(),
    "name": _name_forms(),
}

KINDS: dict[str, list[str]] = {kind: [f.name for f in forms] for kind, forms in _FORMS.items()}


def _fits(template: str, form: _Form) -> bool:
    labeled = template.startswith("L|")
    body = template[2:] if labeled else template
    if form.labeled and labeled:
        return False
    if form.where == "end":
        return body.endswith("{x}")
    if form.where == "start":
        return body.startswith("{x}")
    return True


def _fill(rng: random.Random, template: str, form: _Form) -> str:
    body = template.removeprefix("L|")
    frag = form.make(rng)
    if body.startswith("{x}") and form.cap:
        frag = _cap(frag)
    if body.endswith("{x}"):
        frag = frag.rstrip(",")
    text = body.replace("{x}", frag).replace(",,", ",")
    if not body.endswith("{x}") and rng.random() < 0.15:
        text += "."
    return text


def positives(kind: str, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n action descriptions with one identifier of kind each, as (text, form name).

    Forms take turns, so each gets n / len(forms) texts (the first ones one more)."""
    forms = _FORMS[kind]
    templates = _TEMPLATES[kind]
    rng = random.Random(f"pii-generated:{kind}:{seed}")
    out: list[tuple[str, str]] = []
    for i in range(n):
        form = forms[i % len(forms)]
        fitting = [t for t in templates if _fits(t, form)]
        out.append((_fill(rng, rng.choice(fitting), form), form.name))
    return out


# --------------------------------------------------------------------------------------------
# Clean texts: what a chair writes, with no identifier of a person in it
# --------------------------------------------------------------------------------------------

ORGS = (
    "Veilig Thuis", "de Raad voor de Kinderbescherming", "de RvdK", "de GGD", "het wijkteam",
    "Reclassering Nederland", "Jeugdbescherming Brabant", "Jeugdbescherming Gelderland",
    "het CJG", "het Centrum voor Jeugd en Gezin", "het Zorg- en Veiligheidshuis", "de politie",
    "het OM", "het Openbaar Ministerie", "Halt", "Slachtofferhulp Nederland", "de gemeente",
    "het Wmo-loket", "leerplicht", "de woningcorporatie", "Fier", "Moviera", "Sterk Huis",
    "Koraal", "Pluryn", "Karakter", "Levvel", "Juvent", "Antes", "Arkin", "Emergis", "Yulius",
    "Humanitas", "MEE", "Tactus", "Novadic-Kentron", "de Blijf Groep", "Jeugdformaat",
    "Lunet zorg", "GGzE", "Parnassia", "Kompaan en De Bocht", "Via Jeugd", "Xonar",
    "de jeugd-ggz", "de huisartsenpraktijk", "het consultatiebureau", "de kraamzorg",
    "Stichting Leger des Heils", "het Leger des Heils", "VieCuri", "de Kindertelefoon",
    "Sensoor", "de voedselbank", "de schuldhulpverlening", "het Juridisch Loket", "het UWV",
    "de SVB", "de Belastingdienst", "de IND", "het COA",
    "de Rechtbank Limburg", "de Rechtbank Oost-Brabant", "de kinderrechter", "Bureau Halt",
)
_SCHOOLS = ("het Valuascollege", "het Blariacumcollege", "basisschool De Regenboog",
            "het Stedelijk Gymnasium", "basisschool Het Kompas", "het Varendonck College",
            "het ROC", "de mbo-school",
            "de praktijkschool", "het speciaal onderwijs", "de Montessorischool",
            "het Summa College", "basisschool De Wilgenhoek", "het Dendron College")
ROLES = ("moeder", "vader", "de mentor", "de wijkagent", "de casusregisseur", "de jeugdarts",
         "de huisarts", "de zorgcoördinator", "de gezinsvoogd", "de IB'er",
         "de leerplichtambtenaar", "de reclasseringswerker", "de pleegouders", "oma", "opa",
         "de stiefvader", "de jeugdige", "de cliënt", "betrokkene", "de zus", "de broer",
         "de buurvrouw", "de intern begeleider", "de jongerenwerker", "de ambulant hulpverlener",
         "de schoolmaatschappelijk werker", "de GZ-psycholoog", "de verloskundige",
         "de jeugdverpleegkundige", "de behandelaar", "de advocaat", "de officier van justitie",
         "de bewindvoerder", "de huisbaas", "de werkgever", "de jeugdbeschermer",
         "de procesregisseur", "de voorzitter", "de ouders", "beide ouders", "het gezin",
         "de kinderen", "de jongere", "de meneer van de woningcorporatie",
         "de mevrouw van het CJG", "de tolk")
_PRO_ROLES = ("de mentor", "de wijkagent", "de casusregisseur", "de jeugdarts",
              "de zorgcoördinator", "de gezinsvoogd", "de jeugdbeschermer", "de procesregisseur",
              "de voorzitter", "de jongerenwerker", "de reclasseringswerker",
              "de ambulant hulpverlener", "de behandelaar", "de intern begeleider")
_TOPICS = ("schoolverzuim", "het veiligheidsplan", "de huisvesting", "de schulden",
           "de opvoedondersteuning", "het middelengebruik", "de omgangsregeling",
           "de zorgen over de veiligheid thuis", "de voortgang van de behandeling",
           "de dagbesteding", "het toezicht", "de ondertoezichtstelling", "de uithuisplaatsing",
           "de overlast in de buurt", "de terugkeer naar huis", "de signalen van school",
           "het huiselijk geweld", "de financiën", "de stageplek", "de nazorg na detentie",
           "de wachtlijst", "de crisisopvang", "de aanpak van de loverboyproblematiek",
           "het contactverbod", "de scheiding", "de 18-/18+ overgang", "de kinderopvang",
           "de inburgering", "het vervolg", "de hulpvraag", "de afspraken uit het vorige overleg")
_ACTIONS = (
    "Huisbezoek plannen", "Huisbezoek afleggen", "Gesprek plannen", "Terugkoppeling geven",
    "Afstemmen", "Navragen", "Bellen", "Contact opnemen", "Verwijzing regelen",
    "Aanmelding doen", "Overleg inplannen", "Informatie opvragen", "Rapportage opvragen",
    "Evaluatie plannen", "Plan van aanpak opstellen", "Zorgmelding doen", "Check uitvoeren",
    "Agenderen", "Uitnodiging versturen", "Verslag rondsturen", "Besluit vastleggen",
    "Toestemming vragen", "Warme overdracht regelen", "Signalen bundelen",
)
_PLACES = CITIES


def _date(rng: random.Random) -> str:
    """A date that takes "op": 8-12-2026, 15 december, dinsdag."""
    d, m = rng.randint(1, 28), rng.randint(1, 12)
    y = rng.choice((_THIS_YEAR, _THIS_YEAR + 1))
    return rng.choice((
        f"{d}-{m}-{y}", f"{d:02d}-{m:02d}-{y}", f"{d} {_MONTHS[m - 1]}",
        f"{d} {_MONTHS[m - 1]} {y}", rng.choice(_WEEKDAYS),
        f"{rng.choice(_WEEKDAYS)} {d} {_MONTHS[m - 1]}", f"{d}/{m}", f"{y}-{m:02d}-{d:02d}",
        f"{d} {_MONTHS_ABBR[m - 1]}", f"{d}-{m}", f"{rng.choice(_WEEKDAYS)}middag",
        f"{rng.choice(_WEEKDAYS)} {d}-{m}",
    ))


def _period(rng: random.Random) -> str:
    """A time expression without a preposition: volgende week, eind maart, in week 12."""
    return rng.choice((
        f"in week {rng.randint(1, 52)}", f"eind {rng.choice(_MONTHS)}",
        f"begin {rng.choice(_MONTHS)}", "volgende week", "morgen", "deze week",
        f"half {rng.choice(_MONTHS)}", "na de zomervakantie", "na de kerstvakantie",
        "voor de herfstvakantie", f"in {rng.choice(_MONTHS)}",
    ))


def _time(rng: random.Random) -> str:
    h, mm = rng.randint(8, 20), rng.choice((0, 0, 15, 30, 45))
    return rng.choice((f"{h}:{mm:02d}", f"{h}.{mm:02d} uur", f"{h} uur", f"{h}:{mm:02d} uur",
                       f"{h}.{mm:02d}-{h + 1}.{mm:02d} uur", f"{h:02d}:{mm:02d}u"))


def _when(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return f"op {_date(rng)}"
    if r < 0.55:
        return f"op {_date(rng)} om {_time(rng)}"
    if r < 0.65:
        return f"om {_time(rng)}"
    if r < 0.72:
        return _period(rng)
    if r < 0.85:
        return rng.choice(("voor de volgende bijeenkomst", "binnen twee weken", "deze week",
                           "vóór het volgende overleg", "uiterlijk vrijdag",
                           f"binnen {rng.randint(2, 10)} werkdagen", "z.s.m.", "asap",
                           f"vóór {_date(rng)}", f"uiterlijk {_date(rng)}"))
    return ""


def _amount(rng: random.Random) -> str:
    euros = rng.choice((rng.randint(5, 300), rng.randint(300, 5000), rng.randint(1000, 25000)))
    cents = rng.choice((0, 0, 50, rng.randint(1, 99)))
    euro_str = f"{euros:,}".replace(",", ".")
    return rng.choice((f"€ {euro_str},{cents:02d}", f"€{euros}", f"€ {euro_str},-",
                       f"EUR {euros}", f"{euro_str} euro", f"€ {euros},{cents:02d}"))


def _article(rng: random.Random) -> str:
    return rng.choice((
        "art. 8:69 Awb", "artikel 5 lid 2", f"artikel {rng.randint(1, 40)} lid {rng.randint(1, 5)}",
        "art. 1:255 BW", "art. 1:261 BW", "artikel 2.1 Jeugdwet", "art. 7.3.8 Jeugdwet",
        "artikel 26 Wpg", "art. 3:4 Awb", "artikel 21 Wvggz", "art. 14 Wet verplichte ggz",
        "art. 2 Wet tijdelijk huisverbod", f"art. {rng.randint(1, 12)}:{rng.randint(1, 99)} Awb",
        "artikel 8 EVRM", "art. 172 Gemeentewet", "art. 174a Gemeentewet",
        f"art. {rng.randint(2, 9)}.{rng.randint(1, 9)}.{rng.randint(1, 9)} Jeugdwet",
        "art. 13 AVG", "artikel 9 AVG", "art. 6 lid 1 sub e AVG",
    ))


_ID_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _zaak(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return rng.choice(("zaaknr.", "zaaknummer", "zaak", "ons kenmerk", "uw kenmerk")) + \
            f" {_THIS_YEAR}-{rng.randint(1, 999999):06d}"
    if r < 0.7:
        return f"RvdK {_THIS_YEAR}/{rng.randint(1000000, 9999999)}"
    if r < 0.85:
        return f"kenmerk VT-{_THIS_YEAR}-{rng.randint(1, 99999):05d}"
    return f"zaaknummer C/{rng.randint(1, 20):02d}/{rng.randint(100000, 999999)} / JE RK " \
        f"{_THIS_YEAR % 100}-{rng.randint(100, 2999)}"


def _reference(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.2:
        return f"C-{''.join(rng.choice(_ID_CHARS) for _ in range(5))}"
    if r < 0.35:
        return f"M{rng.randint(1, 99)}"
    if r < 0.5:
        return f"A{rng.randint(1, 250)}"
    if r < 0.7:
        return rng.choice(("zaaknr.", "zaaknummer", "zaak", "ons kenmerk")) + \
            f" {_THIS_YEAR}-{rng.randint(1, 999999):06d}"
    if r < 0.8:
        return f"RvdK {_THIS_YEAR}/{rng.randint(1000000, 9999999)}"
    if r < 0.9:
        return f"kenmerk VT-{_THIS_YEAR}-{rng.randint(1, 99999):05d}"
    return rng.choice(("dossier", "melding", "ticket")) + f" #{rng.randint(100, 99999)}"


_SERVICE_NUMBERS = (
    "de Kindertelefoon (0800-0432)", "Veilig Thuis (0800-2000)", "113 (0800-0113)",
    "Sensoor (0900-0767)", "het Juridisch Loket (0900-8020)", "de politie (0900-8844)",
    "de Belastingtelefoon (0800-0543)", "Slachtofferhulp (0900-0101)", "de Luisterlijn",
    "Bel 112", "0800-1351 (Alcohol- en Drugs Infolijn)",
)


def _service_number(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(_SERVICE_NUMBERS)
    prefix = rng.choice(("0800", "0900"))
    body = str(rng.randint(1000, 9999)) if prefix == "0800" or rng.random() < 0.5 else str(
        rng.randint(1000000, 9999999))
    return f"{prefix}-{body}" if rng.random() < 0.6 else f"{prefix} {body}"


def _org(rng: random.Random) -> str:
    return rng.choice(ORGS)


def _role(rng: random.Random) -> str:
    return rng.choice(ROLES)


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p).replace("  ", " ").strip()


def _c_housevisit(rng: random.Random) -> str:
    return _join(rng.choice(("Huisbezoek plannen", "Huisbezoek afleggen", "Huisbezoek",
                             "Onaangekondigd huisbezoek", "Gezamenlijk huisbezoek")),
                 _when(rng), rng.choice(("samen met", "met", "door")), _role(rng),
                 rng.choice(("", f"en {_org(rng)}", "")))


def _c_school(rng: random.Random) -> str:
    return _join(rng.choice(("Gesprek met", "Overleg met", "Afstemmen met", "Bellen met")),
                 rng.choice(("de mentor van", "de IB'er van", "de zorgcoördinator van",
                             "de directeur van", "de leerplichtambtenaar van")),
                 rng.choice(_SCHOOLS), "over", rng.choice(_TOPICS), _when(rng))


def _c_referral(rng: random.Random) -> str:
    return _join(rng.choice(("Verwijzing naar", "Aanmelding bij", "Doorverwijzen naar",
                             "Indicatie aanvragen bij", "Wachttijd navragen bij")),
                 _org(rng), rng.choice(("voor", "i.v.m.", "vanwege")), rng.choice(_TOPICS),
                 _when(rng))


def _c_feedback(rng: random.Random) -> str:
    return _join(rng.choice(("Terugkoppeling aan", "Terugkoppelen aan", "Informeren:",
                             "Uitkomst delen met")),
                 rng.choice((_org(rng), _role(rng))), "over", rng.choice(_TOPICS),
                 rng.choice(("", f"({_reference(rng)})", "")), _when(rng))


def _c_money(rng: random.Random) -> str:
    noun, verbs = rng.choice((
        ("Bijzondere bijstand van", ("aanvragen bij", "navragen bij")),
        ("Voorschot van", ("aanvragen bij", "regelen via")),
        ("Betalingsregeling voor", ("bespreken met", "regelen via", "voorstellen aan")),
        ("Huurachterstand van", ("bespreken met", "navragen bij")),
        ("Schuld van", ("bespreken met", "navragen bij", "melden bij")),
        ("Eigen bijdrage van", ("bespreken met", "navragen bij")),
        ("Leefgeld van", ("afspreken met", "regelen via")),
    ))
    whom = rng.choice(("de gemeente " + rng.choice(_PLACES), "de schuldhulpverlening",
                       "de bewindvoerder", "de woningcorporatie", "het wijkteam", _role(rng)))
    return _join(noun, _amount(rng), rng.choice(verbs), whom, _when(rng))


def _c_legal(rng: random.Random) -> str:
    return _join(rng.choice(("Verzoek", "Besluit", "Bezwaar", "Zienswijze", "Beschikking",
                             "Dwangsom", "Toets")),
                 rng.choice(("indienen op grond van", "beoordelen volgens", "voorbereiden o.g.v.",
                             "toetsen aan")),
                 _article(rng), rng.choice(("", _when(rng), f"({_zaak(rng)})")))


def _c_ids(rng: random.Random) -> str:
    c = f"C-{''.join(rng.choice(_ID_CHARS) for _ in range(5))}"
    return rng.choice((
        f"Actie A{rng.randint(1, 250)} uit overleg M{rng.randint(1, 99)} afronden",
        f"Casus {c} agenderen voor {_date(rng)}",
        f"{c} opnieuw bespreken in M{rng.randint(1, 99)}",
        f"A{rng.randint(1, 250)} en A{rng.randint(1, 250)} samenvoegen",
        f"Zie {c}, besluit uit M{rng.randint(1, 99)} uitvoeren",
        f"Verslag M{rng.randint(1, 99)} aanvullen met acties voor {c}",
        f"Opvolging {c}: {rng.choice(_ACTIONS).lower()} {_when(rng)}",
    ))


def _c_zaak(rng: random.Random) -> str:
    return _join(rng.choice(("Beschikking", "Uitspraak", "Proces-verbaal", "Rapport", "Advies",
                             "Dossierstukken")),
                 rng.choice(("in", "bij", "uit")), _zaak(rng),
                 rng.choice(("opvragen bij", "doorsturen naar", "bespreken met")),
                 rng.choice((_org(rng), _role(rng), "de rechtbank " + rng.choice(_PLACES))))


def _c_service(rng: random.Random) -> str:
    return _join(rng.choice(("Moeder wijzen op", "Jongere wijzen op", "Ouders informeren over",
                             "Folder meegeven over", "Informatielijn:", "Doorverwijzen naar")),
                 _service_number(rng), _when(rng))


def _c_person_org(rng: random.Random) -> str:
    org = rng.choice(("Stichting Leger des Heils", "het Ronald McDonald Huis",
                      "het Pieter Baan Centrum", "het Dr. Leo Kannerhuis", "Vincent van Gogh",
                      "Reinier van Arkel", "de William Schrikker Stichting",
                      "het Prinses Máxima Centrum", "het Jeroen Bosch Ziekenhuis",
                      "het Emma Kinderziekenhuis", "de Anne Frankschool",
                      "het Titus Brandsma Lyceum", "de Jan Ligthartschool", "Mondriaan",
                      "het Sophia Kinderziekenhuis", "het Leger des Heils",
                      "het Wilhelmina Kinderziekenhuis", "het Graaf Huyn College",
                      "de Koningin Julianaschool", "de Jellinek"))
    return _join(rng.choice(("Aanmelding bij", "Intake bij", "Contact leggen met",
                             "Afstemmen met", "Terugkoppeling vragen aan",
                             "Wachttijd navragen bij", "Advies vragen aan")), org, _when(rng))


def _c_dates(rng: random.Random) -> str:
    return rng.choice((
        f"Evaluatie op {_date(rng)} om {_time(rng)}",
        f"{_date(rng)} {rng.choice(('OM', 'GI', 'VT', 'RvdK', 'JB'))} vragen om advies",
        f"Volgende bijeenkomst {_date(rng)}, {_time(rng)}",
        f"Zitting is verplaatst naar {_date(rng)}",
        f"Deadline rapportage {_date(rng)}",
        f"{_cap(_date(rng))}: {rng.choice(_ACTIONS).lower()}",
        f"Vanaf {_date(rng)} geldt het nieuwe rooster",
        f"Vakantie school van {_date(rng)} tot {_date(rng)}",
        "Nagaan of de baby al geboren is",
        "Geboorteplan bespreken met de verloskundige",
        f"Uitgestelde zitting: nieuwe datum volgt na {_date(rng)}",
    ))


def _c_roles(rng: random.Random) -> str:
    return rng.choice((
        f"{_cap(_role(rng))} en {_role(rng)} samen uitnodigen {_when(rng)}",
        f"{_cap(_role(rng))} vragen {rng.choice(_TOPICS)} toe te lichten",
        f"Moeder van de jeugdige informeren over {rng.choice(_TOPICS)}",
        f"Vader van het kind bellen {_when(rng)}",
        f"{_cap(rng.choice(_PRO_ROLES))} is afwezig, {rng.choice(_PRO_ROLES)} neemt het over",
        f"Meneer van de woningcorporatie uitnodigen voor {rng.choice(_TOPICS)}",
        f"Mevrouw van het CJG vragen om {rng.choice(_TOPICS)} te bespreken",
        f"Wie van {_org(rng)} sluit aan? Navragen bij {_role(rng)}",
    ))


def _c_wordnames(rng: random.Random) -> str:
    return _join(_wordnames(rng), _when(rng) if rng.random() < 0.5 else "")


def _wordnames(rng: random.Random) -> str:
    return rng.choice((
        "Stageplek bij de bakker op de hoek regelen",
        "Bakker op de hoek vragen of de jongere daar kan werken",
        "Boer in de buurt vragen om dagbesteding op de boerderij",
        "Timmerman inschakelen voor reparatie van de voordeur",
        "Koster van de kerk vragen om ruimte voor het gesprek",
        "Groen licht van de gemeente afwachten",
        "Post van de deurwaarder doornemen met moeder",
        "Kok van de buurtkeuken vragen om een werkervaringsplek",
        "De visser in de haven heeft de jongere gezien, wijkagent informeren",
        "Schilder regelen voor de woning na de brandschade",
        "Winter: nagaan of de verwarming werkt",
        "Bos achter de school meenemen in de buurtschouw",
        "Molenaar van de molen vragen om een stageplek",
        "Brouwer van de lokale brouwerij als werkgever benaderen",
        f"Beek bij {rng.choice(_PLACES)} meenemen in de schouw",
        "Vink zetten in het registratiesysteem na afronding",
        "Koning van de kermis? Nee: kermisexploitant vragen naar overlast",
        "Grote zorgen over de veiligheid, opschalen naar de stuurgroep",
        "Smit van de smederij in de buurt als leerwerkplek vragen",
    ))


def _c_places(rng: random.Random) -> str:
    return _join(rng.choice(("Opvangplek zoeken in", "Crisisplek navragen in",
                             "Woning aanvragen in", "Verhuizing naar", "Overdracht aan de regio",
                             "Netwerkberaad in", "Zitting bij de rechtbank in")),
                 rng.choice(_PLACES), _when(rng))


def _c_media(rng: random.Random) -> str:
    return _join(_media(rng), _when(rng) if rng.random() < 0.5 else "")


def _media(rng: random.Random) -> str:
    return rng.choice((
        "Voorlichting over Instagram en TikTok op school organiseren",
        "Ouders informeren over de risico's van Snapchat",
        "Informatie staat op www." + rng.choice(("veiligthuis", "kindertelefoon", "rijksoverheid",
                                                 "huiselijkgeweld", "jeugdbescherming")) + ".nl",
        "Verslag mailen naar het wijkteam via Zivver",
        "Beveiligd mailen via de beveiligde mailomgeving van de gemeente",
        "Voorlichting sexting en grooming in groep 8",
        "Ouderavond over WhatsApp-groepen en pesten",
        "Jongere is actief op sociale media, zorgen bespreken met de mentor",
    ))


def _c_misc(rng: random.Random) -> str:
    return rng.choice((
        f"Klas {rng.randint(1, 6)}{rng.choice('ABCD')} bespreken met de mentor",
        f"Groep {rng.randint(1, 8)} van basisschool Het Kompas informeren",
        f"{rng.randint(1, 6)} havo: overstap naar het mbo bespreken",
        f"Aanbod voor jongeren van {rng.randint(10, 14)} tot 18 jaar uitzoeken",
        f"Hulp {rng.randint(2, 5)} keer per week inzetten",
        f"Q{rng.randint(1, 4)} {_THIS_YEAR} evalueren",
        f"Inzet {rng.randint(2, 40)} uur per week ambulante hulp",
        "Overgang 18-/18+ voorbereiden met de jeugdige",
        f"Onderzoek duurt {rng.randint(6, 16)} weken, daarna opnieuw agenderen",
        f"Wachtlijst {rng.randint(3, 30)} weken, overbrugging regelen",
        f"Afstand {rng.randint(2, 60)} km, vervoer regelen",
        "Gezinsvoogd wisselt, overdracht plannen",
        "Jongere blijft tot de zitting in de crisisopvang",
        "Besluit over uithuisplaatsing aanhouden tot het rapport er is",
    ))


def _c_codes(rng: random.Random) -> str:
    """Codes whose digits can read as a phone number: an invoice or zaak code (capitals and
    a zero-led run of digits, glued), a short commit hash, a UUID."""
    def capitals() -> str:
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(rng.randint(1, 4)))

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    code = rng.choice((
        lambda: f"{capitals()}0{digits(9)}",
        lambda: "".join(rng.choice("0123456789abcdef") for _ in range(12)),
        lambda: str(uuid.UUID(int=rng.getrandbits(128))),
    ))()
    return _join(rng.choice(("Factuur", "Kenmerk", "Referentie", "Object", "Versie")), code,
                 rng.choice(("nakijken", "is betaald", "doorsturen naar " + _org(rng))))


_CLEAN_BUILDERS: dict[str, Callable[[random.Random], str]] = {
    "huisbezoek": _c_housevisit,
    "school": _c_school,
    "verwijzing": _c_referral,
    "terugkoppeling": _c_feedback,
    "bedragen": _c_money,
    "artikelen": _c_legal,
    "ids": _c_ids,
    "zaaknummers": _c_zaak,
    "servicenummers": _c_service,
    "codes met cijfers": _c_codes,
    "organisatie naar persoon": _c_person_org,
    "datums en tijden": _c_dates,
    "rollen zonder naam": _c_roles,
    "woorden die ook achternamen zijn": _c_wordnames,
    "plaatsnamen": _c_places,
    "media zonder account": _c_media,
    "overig": _c_misc,
}


_DIGIT_RUN = re.compile(r"\d+(?:[ .\-/]\d+)*")


def _looks_like_bsn(text: str) -> bool:
    """A run of 9 digits (separators allowed) that passes the 11-proef is a BSN by chance; a
    clean text should not contain one (zaaknummers are drawn again)."""
    return any(bsn_valid(re.sub(r"\D", "", m.group(0))) for m in _DIGIT_RUN.finditer(text))


def clean_tagged(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n identifier-free descriptions as (text, builder name); builders take turns."""
    rng = random.Random(f"pii-generated:clean:{seed}")
    names = list(_CLEAN_BUILDERS)
    out: list[tuple[str, str]] = []
    for i in range(n):
        name = names[i % len(names)]
        text = _CLEAN_BUILDERS[name](rng)
        while _looks_like_bsn(text):
            text = _CLEAN_BUILDERS[name](rng)
        r = rng.random()
        if r < 0.08:
            text = text[:1].lower() + text[1:]
        elif r < 0.2 and not text.endswith((".", "?", "!")):
            text += "."
        out.append((text, name))
    return out


def clean(n: int, seed: int = 0) -> list[str]:
    """n realistic action descriptions without any identifier of a person."""
    return [text for text, _ in clean_tagged(n, seed)]


# --------------------------------------------------------------------------------------------

def _self_check() -> None:
    """Checksums of the generated identifiers (not needed by callers; run with __main__)."""
    rng = random.Random(1)
    for _ in range(2000):
        assert bsn_valid(_bsn(rng))
        assert iban_valid(_iban_nl(rng)) and iban_valid(_iban_foreign(rng))
        assert phone_valid("0" + _mobile_nsn(rng))
        area, sub = _landline(rng)
        assert phone_valid(f"0{area}{sub}")


if __name__ == "__main__":
    _self_check()
    for kind, form_names in KINDS.items():
        print(f"=== {kind} ({len(form_names)} forms)")
        samples = positives(kind, 5 * len(form_names), seed=1)
        for form_name in form_names:
            print(f"  -- {form_name}")
            for text, f in samples:
                if f == form_name:
                    print(f"     {text!r}")
    print("=== clean")
    for text in clean(20, seed=1):
        print(f"  {text!r}")
    print(f"distinct clean texts in clean(2000): {len(set(clean(2000)))}")
