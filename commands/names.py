"""Likely person names in Dutch text, for the PII guard (``commands.pii``).

The lexicons are those the ``deduce`` package ships (its ``data/lookup/src`` lists: Dutch
first names, surnames, surnames after a tussenvoegsel, tussenvoegsels, titles, common words,
stop words and place names; LGPL-3.0). deduce is the de-identification method for Dutch
text of UMC Utrecht, kept up to date and used in Dutch healthcare; its lists are plain text
files, read here once, lazily, on the first scan (about 40,000 words, a few MB), without
loading deduce's own pipeline. Each list's ``exceptions.txt`` (names that are also common
words, such as "Mei" or "Groot") is taken out, as deduce does.

A name is found when (rules in ``find``):
1. a title (``dhr.``, ``mw.``, ``mevrouw``, ``de heer``…) precedes a capitalised word;
2. initials (``K.``, ``J.P.``) precede a capitalised word or a known surname;
3. a known first name is capitalised (not a common word, a place or a month), or it is
   followed by a known surname (then also in lower case);
4. a relation (``moeder van``, ``oom``…) precedes a capitalised word that is no common word;
5. a tussenvoegsel and a known surname after it are capitalised ("De Vries", "van Dijk");
6. a known surname follows "met", "aan", "bij", "voor" or "namens" capitalised.
Words of organisations that are registered (``pii.Guard.organisations``) are removed by the
caller before this runs.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from commands.text import without_marks

_TOKEN = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*\.?|[.!?;:(),\"]|\d+")
_INITIALS = re.compile(r"(?:[A-Z]\.){1,4}|[A-Z]\.?[A-Z]\.")
TITLES = frozenset({
    "dhr", "mw", "mevr", "mevrouw", "meneer", "mijnheer", "mej", "juffrouw", "juf", "heer",
    "dr", "mr", "ir", "ing", "drs", "prof", "ds", "fam", "familie", "mrs", "mrs.", "ms",
    "miss", "sir", "meester", "zuster", "broeder", "pastoor", "imam", "dominee", "agent",
    "wijkagent", "rechercheur", "officier",
})
RELATIONS = frozenset({
    "moeder", "vader", "zoon", "dochter", "broer", "broertje", "zus", "zusje", "zuster", "oom",
    "tante", "opa", "oma", "neef", "nicht", "nichtje", "neefje", "stiefvader", "stiefmoeder",
    "pleegvader", "pleegmoeder", "pleegouder", "echtgenoot", "echtgenote", "partner",
    "vriend", "vriendin", "ex", "ex-partner", "buurman", "buurvrouw", "klasgenoot", "kind",
    "grootmoeder", "grootvader", "schoonmoeder", "schoonvader", "halfbroer", "halfzus",
})
TRIGGERS = frozenset({"met", "aan", "bij", "voor", "namens", "door", "en", "of", "over",
                      "bel", "bellen", "mail", "mailen", "spreek", "spreken", "bezoek",
                      "bezoeken", "informeer", "informeren", "vraag", "vragen", "zie", "zien"})
_CALENDAR = ("januari februari maart april mei juni juli augustus september oktober november "
             "december maandag dinsdag woensdag donderdag vrijdag zaterdag zondag")
_CLAUSE = ("de het een en of maar dan daarna daarom want zodat als die dat dit deze wie wat "
           "waar wanneer hoe zie graag ook nog niet wel met voor na bij in op te tot om")
_EXTRA_COMMON = _CALENDAR + (
    # The words of this domain and of Dutch agendas that the lexicons hold as names.
    " politie reclassering "
    "jeugdbescherming veilig thuis raad kinderbescherming gemeente wijkteam wijkagent school "
    "zorg jeugdhulp leger heils ggd om openbaar ministerie dji casus actie overleg agenda "
    "partner kern kernpartner casusregisseur mentor huisarts leerplicht leerplichtambtenaar "
    "team plan aanpak veiligheidshuis sociaal stichting centrum huis"
)
_EXTRA_PLACES = ("den bosch",)
_NOT_STREETS = (
    # Single words that name a street somewhere but, before a number, mostly mean something
    # else in an agenda ("kamer 12", "groep 8", "sprint 3", "fase 2").
    "kamer groep sprint fase ronde week stap versie deel punt zaal lokaal klas niveau bijlage "
    "artikel hoofdstuk plan station centrum zuid noord oost west stad park bos veld straat "
    "laan weg plein markt haven dijk kade ring hof brink poort dorp wijk route lijn bus tram "
    "trein team blok unit afdeling verdieping etage gebouw toren vleugel paviljoen poli "
    "kantoor school locatie ingang nummer dag jaar maand uur kwartaal periode toets les "
    "pagina regel bladzijde hoofdstuk paragraaf lid sub onderdeel bijlagen module fase"
)
_NOT_STREETS_SET = frozenset(_NOT_STREETS.split())  # what people call 's-Hertogenbosch


@dataclass(frozen=True)
class Lexicon:
    first: frozenset[str]
    surnames: frozenset[str]
    after_interfix: frozenset[str]
    interfixes: frozenset[str]  # one to three words, "van der"
    interfix_starts: frozenset[str]  # their first words
    common: frozenset[str]  # common words, stop words, place names: never a name alone
    stop: frozenset[str]  # stop words, weekdays, months: never a name after a title


def _deduce_lookup() -> Path:
    """deduce's list folder, found without importing deduce (its pipeline is not used)."""
    spec = importlib.util.find_spec("deduce")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the deduce package (person-name lexicons) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "lookup" / "src"


def fold(word: str) -> str:
    """A lexicon entry as the guard reads text (``commands.text.skeleton``): case folded,
    accents dropped ("Öztürk" and "Ozturk" are one name)."""
    word = word.strip().casefold()
    return word if word.isascii() else without_marks(word)


def _lines(folder: Path, name: str = "items.txt") -> set[str]:
    return {fold(w) for w in (folder / name).read_text("utf-8").split("\n")}


def _words(folder: Path) -> set[str]:
    items = _lines(folder)
    if (folder / "exceptions.txt").exists():
        items -= _lines(folder, "exceptions.txt")
    return {w for w in items if w}


class HashedNames:
    """A large word list kept as the sorted 64-bit hashes of its words (this process's
    ``hash``), looked up by bisection: 150,000 street names take 1.2 MB this way against
    about 17 MB as a set of strings. A false match needs a 64-bit collision."""

    def __init__(self, lines: Iterable[str]) -> None:
        """``lines``: the words, read one at a time (never all held as strings)."""
        hashes = array("q")
        for line in lines:
            hashes.append(hash(line))
        self._hashes = array("q", sorted(set(hashes)))

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        key = hash(word)
        i = bisect_left(self._hashes, key)
        return i < len(self._hashes) and self._hashes[i] == key


@cache
def streets() -> HashedNames:
    """The street names of the Netherlands as deduce ships them (its ``lst_street``, from
    the BAG, the national register of addresses), folded as ``fold`` does; read on the first
    text with a word before a house number (about 150,000 names, 1.2 MB, 0.15 s). Some are
    common words too ("Heuvel", "Kamer"): see ``common_street``."""
    root = _deduce_lookup() / "locations" / "lst_street"

    def names() -> Iterator[str]:
        with (root / "items.txt").open(encoding="utf-8") as lines:
            for line in lines:
                if word := fold(line):
                    yield word

    return HashedNames(names())


def common_street(name: str) -> bool:
    """A street's name (folded) that is also a word with another meaning before a number:
    a common word ("heuvel"), a word of agendas ("kamer 12", "groep 8", "fase 2") or one of
    deduce's street exceptions. Such a name is an address only where a place is expected
    ("op Heuvel 11")."""
    return " " not in name and (len(name) <= 3 or name in lexicon().common
                                or name in _street_exceptions())


def agenda_word(name: str) -> bool:
    """A word of agendas that names a street somewhere but before a number never means
    one in a casusoverleg's text ("groep 8", "fase 2", "kamer 12", "station 2")."""
    return name in _NOT_STREETS_SET


@cache
def _street_exceptions() -> frozenset[str]:
    return frozenset(_lines(_deduce_lookup() / "locations" / "lst_street", "exceptions.txt"))


@cache
def lexicon() -> Lexicon:
    """The lexicons, read on first use (module docstring)."""
    root = _deduce_lookup()
    common = _words(root / "whitelist" / "lst_common_word") \
        | _words(root / "whitelist" / "lst_stop_word") | set(_EXTRA_COMMON.split())
    places = set()
    for sub in ("lst_residence", "lst_municipality", "lst_province", "lst_region"):
        places |= _words(root / "locations" / "lst_placename" / sub)
    never = common | places | set(_EXTRA_PLACES)
    interfixes = _words(root / "names" / "lst_interfix") - {"v", "v.", "vd", "vd.", "v/d", "v.d."}
    return Lexicon(
        first=frozenset(_words(root / "names" / "lst_first_name") - never),
        surnames=frozenset(_words(root / "names" / "lst_surname") - never),
        after_interfix=frozenset(_words(root / "names" / "lst_interfix_surname")
                                 - common - {"meer", "hoop"}),
        interfixes=frozenset(interfixes),
        interfix_starts=frozenset(i.split()[0] for i in interfixes),
        common=frozenset(never),
        stop=frozenset(set(_CALENDAR.split()) | set(_CLAUSE.split())),
    )


def _is_cap(word: str) -> bool:
    return (word[:1].isupper() and not word.isupper()) or (len(word) > 1 and word.istitle())


def _key(word: str) -> str:
    return word.rstrip(".").casefold()


def _interfix_len(words: list[str], i: int, lex: Lexicon) -> int:
    """How many words from ``i`` form a tussenvoegsel ("van der": 2), 0 if none."""
    if i >= len(words) or _key(words[i]) not in lex.interfix_starts:
        return 0
    for n in (3, 2, 1):
        if i + n <= len(words) and " ".join(_key(w) for w in words[i:i + n]) in lex.interfixes:
            return n
    return 0


def _surname_at(words: list[str], i: int, lex: Lexicon, *, lower_ok: bool) -> bool:
    """A surname starts at ``i``: a known one, with or without its tussenvoegsel, or a
    hyphenated double name of which a part is known ("Jansen-de Boer")."""
    if i >= len(words):
        return False
    n = _interfix_len(words, i, lex)
    if n and i + n < len(words):
        word = words[i + n]
        return (_is_cap(word) or lower_ok) and (_key(word) in lex.after_interfix
                                                or _key(word) in lex.surnames)
    word = words[i]
    if not (_is_cap(word) or lower_ok):
        return False
    parts = _key(word).split("-")
    return any(p in lex.surnames or (p in lex.after_interfix and len(parts) > 1) for p in parts)


def _name_like(word: str, lex: Lexicon) -> bool:
    """A capitalised word that is no common word or place (after a relation...)."""
    return _is_cap(word) and len(word.rstrip(".")) > 1 and _key(word) not in lex.common


def _after_title(word: str, lex: Lexicon) -> bool:
    """After a title or initials anything capitalised is a name ("mw. Vink", "S. Bos",
    "mevr Meer"), except a weekday, a month or a word that starts a clause."""
    return _is_cap(word) and len(word.rstrip(".")) > 1 and _key(word) not in lex.stop


ORGANISATION_WORDS = (
    "centrum", "huis", "stichting", "ziekenhuis", "kinderziekenhuis", "gasthuis", "lyceum",
    "college", "school", "kliniek", "instituut", "fonds", "groep", "mc", "umc", "academie",
    "hogeschool", "paviljoen", "kerk", "moskee", "vereniging", "praktijk", "foundation",
    "zorg", "jeugdzorg", "ggz", "kliniek", "kindcentrum", "campus", "gymnasium", "atheneum",
    "schule", "museum", "bibliotheek", "theater", "hof", "huize", "hospice", "zorgcentrum")
"""A name directly before one of these (or glued to it: "Anne Frankschool") is an
organisation's: "het Pieter Baan Centrum", "de William Schrikker Stichting"."""
KNOWN_ORGANISATIONS = (
    "reinier van arkel", "vincent van gogh", "pieter baan", "william schrikker",
    "ronald mcdonald", "jeroen bosch", "prinses maxima", "leo kanner", "anne frank",
    "titus brandsma", "jan ligthart", "antoni van leeuwenhoek", "willem arntsz",
    "florence nightingale", "johannes wier", "bartimeus", "herman dijkstra",
    "sint maartenskliniek")
"""Institutions of Dutch (youth) care, health care and justice named after a person, known
nationally; a local one is registered as a partner or on annex 1 (``pii.Guard``)."""
_PERSON_LIKE = ("anne frank", "herman dijkstra", "jan ligthart", "titus brandsma",
                "florence nightingale", "willem arntsz")
"""Of those, the ones a person may well be called: an institution only before an
organisation's word ("Anne Frankschool") or after "het"/"de"."""
_ANY = "|".join(re.escape(o) for o in KNOWN_ORGANISATIONS)
_BARE = "|".join(re.escape(o) for o in KNOWN_ORGANISATIONS if o not in _PERSON_LIKE)
_KNOWN = re.compile(
    rf"\b(?:(?:het|de)\s+(?:{_ANY})\b|(?:{_BARE})\b(?!-)"
    rf"|(?:{_ANY})(?:\s?(?:" + "|".join(ORGANISATION_WORDS) + r")\w*))", re.I)
"""A national institution named after a person, where it reads as the institution: its
exact name ("Reinier van Arkel", not "Anne Franken"), after "het"/"de", or before an
organisation's word ("Pieter Baan Centrum", "Anne Frankschool")."""


def _organisation(words: list[str], i: int, j: int, lex: Lexicon) -> bool:
    """words[i:j] is (part of) an organisation's name, not a person's."""
    last = _key(words[j - 1])
    if last.endswith(ORGANISATION_WORDS[:8]) and last not in lex.surnames \
            and not any(_key(w) in TITLES for w in words[max(0, i - 1):i]):
        return True  # "Anne Frankschool"; not "mevrouw Kamphuis", "Jan Nijhuis"
    # "het Pieter Baan Centrum", "Christiaan Huygens College": an organisation's word,
    # capitalised, within the next capitalised words ("Jan de Vries groep 7" is a person).
    for k in range(j, min(j + 3, len(words))):
        if not _is_cap(words[k]) and not _INITIALS.fullmatch(words[k]):
            break
        if _key(words[k]) in ORGANISATION_WORDS:
            return True
    before = _key(words[i - 1]) if i > 0 else ""
    # "het Reinier van Arkel", "de Anne Frankschool": an article before a full name.
    return before == "het" or (before == "de" and j - i > 1 and _key(words[i]) not in TITLES)


def find(text: str) -> str | None:
    """The first likely person name in ``text`` (a skeleton, ``commands.text``), or None."""
    text = _KNOWN.sub(" ", text)
    words = ["#" if w[0].isdigit() else w for w in _TOKEN.findall(text)]  # "#": a number
    if not words:
        return None
    lex = lexicon()
    initials_end = _initials_ends(words)
    for i in range(len(words)):
        j = _name_at(words, i, lex, initials_end)
        if j and not _organisation(words, i, j, lex):
            return " ".join(words[i:j])
    return None


def _past_interfix(words: list[str], j: int, lex: Lexicon) -> int:
    while j < len(words) and _key(words[j]) in lex.interfix_starts and not _is_cap(words[j]):
        j += 1
    return j


def _initials_ends(words: list[str]) -> list[int]:
    """For each index, the first index from there that holds no initials (one pass from
    the end: a long run of "J. J. J." costs linear time, not quadratic)."""
    ends = [len(words)] * (len(words) + 1)
    for j in range(len(words) - 1, -1, -1):
        ends[j] = ends[j + 1] if _INITIALS.fullmatch(words[j]) else j
    return ends


_ENGLISH = frozenset({"as", "the", "to", "for", "of", "and", "all", "up", "down", "on",
                      "this", "that", "with", "an", "it"})


def _sentence_word(words: list[str], i: int) -> bool:
    """A first name alone as a text's first word, before an English word ("Mark as done"),
    or "Max"/"Min" before a number ("Max 2 personen": maximum), is that word, not a
    person ("Daan 2x per week", "Noor is bang" are)."""
    if i > 0:
        return False
    nxt = words[i + 1] if i + 1 < len(words) else ""
    return nxt.casefold() in _ENGLISH or (nxt == "#" and _key(words[i]) in ("max", "min"))


def _other_script(word: str) -> bool:
    """A word in a script other than Latin (after look-alikes were folded to Latin): in a
    Dutch or English text, a name ("محمد", "Ярина")."""
    return not word.isascii() and len(word) > 1 and any(c.isalpha() and not c.isascii()
                                 and not unicodedata.name(c, "LATIN").startswith("LATIN")
                                 for c in word)


def _name_at(words: list[str], i: int, lex: Lexicon, initials_end: list[int]) -> int:
    """The end (exclusive) of a name that starts at ``i``, or 0."""
    word = words[i]
    if not word[:1].isalpha():
        return 0
    if _other_script(word):
        return i + 1
    key = _key(word)
    size = len(words)
    nxt = words[i + 1] if i + 1 < size else ""
    # 1. Titles: "dhr. Jansen", "mevrouw De Boer", "de heer van Dijk", "mw. K. Meer".
    if key in TITLES and nxt:
        j = initials_end[i + 1]
        n = _interfix_len(words, j, lex)
        if j + n < size and (_after_title(words[j + n], lex)
                            or (n and _surname_at(words, j, lex, lower_ok=True))):
            return j + n + 1
    # 2. Initials: "K. Meer", "J.P. van den Berg".
    # (only from the first of a run of initials)
    if _INITIALS.fullmatch(word) and nxt and (i == 0 or not _INITIALS.fullmatch(words[i - 1])):
        j = initials_end[i + 1]
        n = _interfix_len(words, j, lex)
        if j + n < size and _after_title(words[j + n], lex):
            return j + n + 1
    # 3. "Vos, A. de", "Willemsen, Ben": a surname, a comma, initials or a first name.
    if _is_cap(word) and nxt == "," and i + 2 < size and key not in lex.stop and (
            _INITIALS.fullmatch(words[i + 2])
            or (key in lex.surnames and _is_cap(words[i + 2])
            and _key(words[i + 2]) not in lex.stop)):
        return i + 3
    # 4. First names: "Noah", "Jan de Vries", "jan de vries", "yvonne de koning".
    if key in lex.first:
        n = _interfix_len(words, i + 1, lex)
        if n and i + n + 1 < size and words[i + n + 1][:1].isalpha():
            return i + n + 2
        if _surname_at(words, i + 1, lex, lower_ok=not _is_cap(word)):
            return i + 2
        if _is_cap(word) and not _sentence_word(words, i):
            return i + 1
        # "naomi doyle": a first name in lower case before a word that is no common one.
        if word[:1].islower() and len(key) > 3 and i + 1 < size and nxt[:1].islower() \
                and len(nxt) > 2 \
                and _key(nxt) not in lex.common and _key(nxt) not in lex.stop:
            return i + 2
    # 5. Possessive of a first name: "Barts broer", "Yasmins school", "Emma's school".
    stem = key[:-2] if key.endswith("'s") else key[:-1] if key.endswith("s") else ""
    if _is_cap(word) and len(stem) > 2 and stem in lex.first and key not in lex.surnames \
            and key not in lex.common:
        return i + 1
    # 6. Relations: "moeder van Sanne", "oom Ahmed".
    if key in RELATIONS and nxt:
        j = i + 2 if _key(nxt) == "van" else i + 1
        if j < size and _name_like(words[j], lex) and (j == i + 2 or _key(words[j]) in lex.first):
            return j + 1
    # 7. A capitalised tussenvoegsel with a known surname: "De Vries", "Van den Berg".
    n = _interfix_len(words, i, lex)
    if n and i > 0 and i + n < size and words[i + n][:1].isupper() \
            and _key(words[i + n]) in lex.after_interfix \
            and " ".join(_key(w) for w in words[i:i + n + 1]) not in lex.common \
            and _key(words[i - 1]) in TRIGGERS:  # not "Sporthal De Brink"
        return i + n + 1
    # 8. A known surname after "met", "aan"...: "gesprek met Jansen"; a double surname
    #    anywhere: "Jansen-de Boer", "Brievingh-Vermeulen".
    if i > 0 and _key(words[i - 1]) in TRIGGERS and key in lex.surnames \
            and key not in lex.common and word.isupper() and len(word) > 3:
        return i + 1  # "bellen met JANSEN"
    if _is_cap(word) and key not in lex.common:
        parts = key.split("-")
        if i > 0 and _key(words[i - 1]) in TRIGGERS and key in lex.surnames:
            return i + 1
        if len(parts) > 1 and parts[-1] in lex.interfix_starts and i + 1 < size \
                and _is_cap(nxt):  # "Serra-van Doorn", "Manne-van den Brink"
            return _past_interfix(words, i + 1, lex) + 1
        if len(parts) > 1 and any(p in lex.surnames for p in parts) \
                and all(p[:1].isupper() or p in lex.interfix_starts
                        for p in word.split("-")):  # not "Teams-link"
            return i + 1
    return 0


def is_person_name(text: str) -> bool:
    """Whether ``text`` as a whole is a person's name: every word a known first name,
    surname, tussenvoegsel or initial, one at least a name ("Bakker", "Van den Berg",
    "Sanne Bakker"; not "Politie", "Stichting Anna de Vries"). For what must be an
    organisation's name: a partner, an annex 1 entry."""
    words = [w for w in _TOKEN.findall(text) if w[:1].isalpha()]
    if not words:
        return False
    lex = lexicon()
    keys = [_key(w) for w in words]

    def known(k: str) -> bool:  # (no union of the lexicons: that took 3 ms a call)
        return k in lex.first or k in lex.surnames or k in lex.after_interfix

    def interfix(k: str) -> bool:
        return k in lex.interfix_starts or k in lex.interfixes

    if not any(known(k) or (i > 0 and interfix(keys[i - 1]) and _is_cap(words[i]))
               for i, k in enumerate(keys)):
        return False
    return all(known(k) or interfix(k) or _INITIALS.fullmatch(w)
               or (i > 0 and interfix(keys[i - 1]) and _is_cap(w))  # "Van den Berg"
               for i, (k, w) in enumerate(zip(keys, words, strict=True)))
