"""Argument parsers. Each is ``(text, ctx) -> (value, rest)``; bad input raises ``ParseError``.

Parsers read ``ctx.now`` and ``ctx.tz`` only: never the clock, never the database. Dates are
read in the overleg's time zone and returned as aware UTC datetimes. A small hand-written
grammar (not dateparser) on purpose: it accepts exactly the forms the command contract lists,
in Dutch and English, and never guesses, so "8-12" can't silently become 12 August.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from commands import caseid, pii
from commands.registry import Absent, Choice, Ctx, ParseError, PersonalData, choice
from commands.text import MATRIX_USER, tidy

MONTHS = {
    "jan": 1, "januari": 1, "january": 1,
    "feb": 2, "februari": 2, "february": 2,
    "mrt": 3, "maart": 3, "mar": 3, "march": 3,
    "apr": 4, "april": 4,
    "mei": 5, "may": 5,
    "jun": 6, "juni": 6, "june": 6,
    "jul": 7, "juli": 7, "july": 7,
    "aug": 8, "augustus": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9,
    "okt": 10, "oktober": 10, "oct": 10, "october": 10,
    "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
WEEKDAYS = {
    "maandag": 0, "ma": 0, "monday": 0, "mon": 0,
    "dinsdag": 1, "di": 1, "tuesday": 1, "tue": 1,
    "woensdag": 2, "wo": 2, "wednesday": 2, "wed": 2,
    "donderdag": 3, "do": 3, "thursday": 3, "thu": 3,
    "vrijdag": 4, "vr": 4, "friday": 4, "fri": 4,
    "zaterdag": 5, "za": 5, "saturday": 5, "sat": 5,
    "zondag": 6, "zo": 6, "sunday": 6, "sun": 6,
}
RELATIVE = {"vandaag": 0, "today": 0, "morgen": 1, "tomorrow": 1, "overmorgen": 2}
NUMBERS = {"een": 1, "één": 1, "a": 1, "one": 1, "twee": 2, "two": 2, "drie": 3, "three": 3,
           "vier": 4, "four": 4, "vijf": 5, "five": 5, "zes": 6, "six": 6, "zeven": 7,
           "seven": 7, "acht": 8, "eight": 8}
UNITS = {"dag": "day", "dagen": "day", "day": "day", "days": "day",
         "week": "week", "weken": "week", "weeks": "week",
         "maand": "month", "maanden": "month", "month": "month", "months": "month"}
NEXT = ("volgende", "next", "komende")  # "volgende dinsdag", "next tuesday"
IN = ("over", "in")  # "over twee weken", "in two weeks"
_DATE_SHAPE = re.compile(r"^\d{1,4}[-/.]\d{1,2}(?:[-/.]\d{0,4})?$", re.ASCII)
PLACE_WORDS = ("at", "op", "in", "bij", "te", "@")
ROLES = (Choice("chair", "voorzitter", "chair"),
         Choice("coordinator", "coördinator", "coordinator", ("coordinatoren",)),
         Choice("partner", "partner", "partner", ("lid", "member")))
KINDS = (Choice("core", "kern", "core", ("kernpartner",)),
         Choice("case", "casus", "case", ("casuspartij", "casuspartner")),
         Choice("external", "extern", "external", ("externe",)))
MEETING_KINDS = (Choice("casusoverleg", "casusoverleg", "case-meeting"),
                 Choice("weging", "weging", "assessment", ("weegoverleg",)))


def _words(choices: tuple[Choice, ...]) -> dict[str, str]:
    return {w.casefold(): c.value for c in choices for w in c.words()}


ROLE_WORDS = _words(ROLES)
KIND_WORDS = _words(KINDS)
MAX_TEXT = 120
MAX_DESCRIPTION = 300

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)
_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})(?:[-/.](\d{4}))?$", re.ASCII)
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$", re.ASCII)
_DURATION = re.compile(r"^(?:(\d{1,2})[hu])?(?:(\d{1,3})(?:m|min)?)?$", re.ASCII)
# A Teams user as the Bot Connector names it: "29:1AbC…" from Teams, "user-id-0" from the
# Agents Playground's default tenant. The Teams transport turns an @mention in a command into
# this ID before the core sees the text; a typed word (a name) never matches.
TEAMS_USER_FORM = r"29:[A-Za-z0-9._\-]{1,200}|user-id-\d{1,6}"
TEAMS_USER = re.compile(rf"^(?:{TEAMS_USER_FORM})$", re.ASCII)
_MEETING = re.compile(r"^[mM](\d{1,6})$", re.ASCII)


def _head(text: str) -> tuple[str, str]:
    parts = text.split(maxsplit=1)
    return (parts[0], parts[1] if len(parts) > 1 else "") if parts else ("", "")


def _today(ctx: Ctx) -> date:
    return ctx.now.astimezone(ctx.tz).date()


def _make_date(y: int, m: int, d: int, given: str) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise ParseError("error/bad_date", given=given) from None


DATE_MEANT = ("error/weekday_mismatch", "error/date_past")
"""Refusals of a text that is a date, but not one that will do (named as such, never read
as something else)."""
RECENTLY_PAST = timedelta(days=92)
"""A date without a year up to this long ago is a date that has passed (``error/date_past``),
not one a year ahead: "30-11" typed on 1 December means last week, not next November."""


def _without_year(ctx: Ctx, month: int, day: int, given: str) -> date:
    """The first such day on or after today (so "8 dec" in December 2026 is 2026-12-08);
    one that passed less than ``RECENTLY_PAST`` ago is ``error/date_past``. 29 February
    is only read in a year that has one."""
    today = _today(ctx)
    try:
        this_year = date(today.year, month, day)
    except ValueError:
        this_year = None
    if this_year is not None and today - RECENTLY_PAST <= this_year < today:
        raise ParseError("error/date_past", day=this_year)
    for year in (today.year, today.year + 1, today.year + 2, today.year + 3, today.year + 4):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue  # 29 feb: try the next leap year
        if candidate >= today:
            return candidate
    raise ParseError("error/bad_date", given=given)


def _weekday_ahead(today: date, weekday: int) -> date:
    """The first such weekday after today ("dinsdag" on a Tuesday: a week on)."""
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


def _add_months(d: date, months: int) -> date:
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    for last in (31, 30, 29, 28):  # 31 January + 1 month: the last day of February
        try:
            return date(year, month, min(d.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _relative(words: list[str], ctx: Ctx) -> tuple[date, int] | None:
    """A date said in words, and how many words it took: "volgende dinsdag" and "next
    tuesday" (the first Tuesday after today, as "dinsdag"), "volgende week dinsdag" (the
    Tuesday of next week, Monday to Sunday), "over twee weken", "in 2 weeks", "over een
    maand"; None if ``words`` do not start with one."""
    low = [w.casefold() for w in words[:4]]
    today = _today(ctx)
    if len(low) >= 2 and low[0] in NEXT:
        if low[1] in WEEKDAYS:
            return _weekday_ahead(today, WEEKDAYS[low[1]]), 2
        if low[1] == "week" and len(low) >= 3 and low[2] in WEEKDAYS:
            monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
            return monday + timedelta(days=WEEKDAYS[low[2]]), 3
    if len(low) >= 3 and low[0] in IN and low[2] in UNITS:
        n = count_word(low[1]) or 0
        if not n:
            return None
        unit = UNITS[low[2]]
        if unit == "month":
            return _add_months(today, n), 3
        return today + timedelta(days=n * (7 if unit == "week" else 1)), 3
    return None


def _near(word: str, target: str) -> bool:
    """Whether ``word`` is ``target`` with one letter left out, added, changed or two
    neighbours swapped (a typo: "vrijdg", "dinsdga")."""
    if word == target or abs(len(word) - len(target)) > 1:
        return word == target
    if len(word) == len(target):
        diff = [i for i, (a, b) in enumerate(zip(word, target, strict=True)) if a != b]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and word[diff[0]] == target[diff[1]]
                                  and word[diff[1]] == target[diff[0]])
    short, long_ = sorted((word, target), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


_DATE_WORDS = tuple(w for w in (*WEEKDAYS, *RELATIVE, *NEXT) if len(w) >= 5)


def looks_like_date(words: list[str]) -> bool:
    """Whether ``words`` start with what is meant as a date, valid or not: a number with
    date separators (31-11, 2026-13-01), a day and a month word, a date word in words, or
    a typo of a weekday or of "morgen" (so "vrijdg" is a wrong date, not a name)."""
    if not words:
        return False
    low = words[0].casefold()
    if _DATE_SHAPE.match(low) or low in RELATIVE or low in WEEKDAYS:
        return True
    if re.fullmatch(r"[0-9]{1,2}", low) and len(words) > 1 \
            and words[1].casefold().rstrip(".") in MONTHS:
        return True
    if low in NEXT and len(words) > 1:
        return True
    if low in IN and len(words) > 2 and words[2].casefold() in UNITS:
        return True
    return len(low) >= 5 and any(_near(low, w) for w in _DATE_WORDS)


def day(text: str, ctx: Ctx) -> tuple[date, str]:
    """A date: 2026-12-08, 8-12-2026, 8-12, 8 dec [2026], dinsdag, morgen, volgende
    dinsdag, volgende week dinsdag, over twee weken (and next tuesday, in two weeks); a
    weekday before a date (maandag 14 dec, di 15-12) must be that date's
    (``error/weekday_mismatch``). Not a date: ``error/bad_date`` (the caller names the
    argument; the input is not repeated, docs/privacy.md)."""
    word, rest = _head(text)
    low = word.casefold()
    if said := _relative(text.split(), ctx):
        found, used = said
        return found, " ".join(text.split()[used:])
    if m := _ISO.match(low):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), word), rest
    if m := _DMY.match(low):
        if m[3]:
            return _make_date(int(m[3]), int(m[2]), int(m[1]), word), rest
        if not 1 <= int(m[2]) <= 12:
            raise ParseError("error/bad_date", given=word)
        return _without_year(ctx, int(m[2]), int(m[1]), word), rest
    if low in RELATIVE:
        return _today(ctx) + timedelta(days=RELATIVE[low]), rest
    if low.rstrip(",") in WEEKDAYS:
        weekday = WEEKDAYS[low.rstrip(",")]
        following = _head(rest)[0].casefold()
        if _ISO.match(following) or _DMY.match(following) \
                or re.fullmatch(r"[0-9]{1,2}", following):
            # "maandag 14 dec", "di 15-12": the date, and the weekday must be its own
            found, after = day(rest, ctx)
            if found.weekday() != weekday:
                raise ParseError("error/weekday_mismatch", day=found, weekday=weekday)
            return found, after
        return _weekday_ahead(_today(ctx), weekday), rest
    if re.fullmatch(r"[0-9]{1,2}", low) and 1 <= int(low) <= 31:
        month_word, after = _head(rest)
        month = MONTHS.get(month_word.casefold().rstrip("."))
        if month is None:
            raise ParseError("error/bad_date", given=f"{word} {month_word}".strip())
        year_word, after_year = _head(after)
        if re.fullmatch(r"[0-9]{4}", year_word):
            given = f"{word} {month_word} {year_word}"
            return _make_date(int(year_word), month, int(low), given), after_year
        return _without_year(ctx, month, int(low), f"{word} {month_word}"), after
    raise ParseError("error/bad_date", given=word[:40])


def count_word(word: str) -> int | None:
    """A small count as typed: a number word ("twee", "three") or one or two digits."""
    if word in NUMBERS:
        return NUMBERS[word]
    return int(word) if word.isascii() and word.isdigit() and len(word) <= 2 else None


def clock_time(text: str, ctx: Ctx) -> tuple[time, str]:
    """A time of day: 14:00 or 14.00."""
    word, rest = _head(text)
    m = _TIME.match(word)
    if m is None:
        raise ParseError("error/bad_time", metavar="time")
    return time(int(m[1]), int(m[2])), rest


def wall_to_utc(local: datetime, tz: tzinfo) -> datetime | None:
    """A wall-clock time (naive) in ``tz`` as UTC; None for a time that DST skips."""
    utc = local.replace(tzinfo=tz).astimezone(UTC)
    return utc if utc.astimezone(tz).replace(tzinfo=None) == local else None


def local_to_utc(d: date, t: time, ctx: Ctx) -> datetime:
    """Local wall time in the overleg's zone to UTC; a time that DST skips is refused."""
    utc = wall_to_utc(datetime.combine(d, t), ctx.tz)
    if utc is None:
        raise ParseError("error/time_skipped", given=f"{d.isoformat()} {t:%H:%M}")
    return utc


def when(text: str, ctx: Ctx) -> tuple[datetime, str]:
    """A date and a time: "8-12-2026 14:00", "dinsdag 14:00"; aware UTC."""
    d, rest = day(text, ctx)
    if not rest.strip():
        raise ParseError("error/missing_arg", metavar="time")
    t, rest = clock_time(rest, ctx)
    return local_to_utc(d, t, ctx), rest


def duration(text: str, ctx: Ctx) -> tuple[int, str]:
    """Optional length in minutes: 90m, 90min, 1h, 1u30, 1h30m."""
    word, rest = _head(text)
    low = word.casefold()
    m = _DURATION.match(low)
    if low.isascii() and low.isdigit() and len(low) <= 3:
        # "90" where the length belongs (after the time): meant as one, without its unit
        raise ParseError("error/bad_duration")
    if not low or m is None or not (m[1] or m[2]) or (low.isascii() and low.isdigit()):
        raise Absent
    minutes = int(m[1] or 0) * 60 + int(m[2] or 0)
    if not 5 <= minutes <= 12 * 60:
        raise ParseError("error/bad_duration", given=word)
    return minutes, rest


def free_text(text: str, ctx: Ctx, what: str = "text", limit: int = MAX_TEXT,
              names: str = "all") -> str:
    """Free text to store or send: one line, printable, bounded, Unicode NFKC
    (``commands.text.tidy``), and passed by the PII guard (``Ctx.check``: PersonalData,
    naming ``what``, when it holds an identifier; ``names``: see ``pii.scan_all``)."""
    cleaned = tidy(text)
    if len(cleaned) > limit:
        raise ParseError("error/too_long", what=what, limit=limit)
    if any(not c.isprintable() for c in cleaned):
        raise ParseError("error/unprintable", what=what)
    return ctx.check(cleaned, what, names=names)


meeting_kind = choice(*MEETING_KINDS, optional=True)
"""Optional kind of meeting: casusoverleg (default) or weging."""


def place(text: str, ctx: Ctx) -> tuple[str, str]:
    """Optional place: "at Veiligheidshuis Venlo" (or op/in/bij/te), the rest of the line."""
    word, rest = _head(text)
    if word.casefold() not in PLACE_WORDS:
        raise Absent
    if not rest.strip():
        raise ParseError("error/missing_arg", metavar="place")
    return free_text(rest, ctx, "place"), ""


def meeting_number(text: str, ctx: Ctx) -> tuple[int, str]:
    """A meeting ID: M1 (or m1)."""
    word, rest = _head(text)
    m = _MEETING.match(word)
    if m is None:
        raise ParseError("error/bad_meeting_id", given=word[:40])
    return int(m[1]), rest


def typed_case_code(word: str) -> str | None:
    """The canonical code of a case ID as people type it: "C-7K2FJ7", "C7K2FJ7" (the hyphen
    left out) or "7K2FJ" (the prefix left out); None if the check character fails."""
    code = caseid.normalise(word)
    if code is None and word[:1] in ("c", "C"):
        code = caseid.normalise(f"C-{word[1:]}")
    return code if code is not None else caseid.normalise(f"C-{word}")


def case_code(text: str, ctx: Ctx) -> tuple[str, str]:
    """A case ID, C-7K2FJ7, also typed as 7K2FJ7 or C7K2FJ7; typos are caught by the check
    character."""
    word, rest = _head(text)
    code = typed_case_code(word)
    if code is None:
        raise ParseError("error/bad_case_id", given=word[:20])
    return code, rest


def user_id(text: str, ctx: Ctx) -> tuple[str, str]:
    """A Matrix user ID (@someone:server), or on Teams the Teams user ID of a mention."""
    word, rest = _head(text)
    pattern = TEAMS_USER if ctx.settings.platform == "teams" else MATRIX_USER
    if not pattern.match(word) or len(word) > 255:
        raise ParseError("error/bad_user_id", given=word[:60],
                         platform=ctx.settings.platform)
    return word, rest


def _name_then(words: dict[str, str], text: str, what: str, ctx: Ctx,
               names: str = "all") -> tuple[str, str]:
    """A name of one or more words, leaving a trailing keyword from ``words`` as the rest."""
    parts = text.split()
    if len(parts) > 1 and parts[-1].casefold() in words:
        name, rest = " ".join(parts[:-1]), parts[-1]
    else:
        name, rest = " ".join(parts), ""
    if parts and parts[0].casefold() in words and len(parts) == 1:
        raise ParseError("error/missing_arg", metavar=what)
    return free_text(name, ctx, what, names=names), rest


def partner_name(text: str, ctx: Ctx) -> tuple[str, str]:
    """A partner's name (may have spaces), before an optional core/external word."""
    return _name_then(KIND_WORDS, text, "partner", ctx)


def new_partner_name(text: str, ctx: Ctx) -> tuple[str, str]:
    """The name of a partner to register: an organisation's, never a person's as a whole
    ("Bakker" is refused even without a first name before it)."""
    return _name_then(KIND_WORDS, text, "partner", ctx, names="organisation")


def partner_name_before_role(text: str, ctx: Ctx) -> tuple[str, str]:
    """A partner's name before an optional role word."""
    return _name_then(ROLE_WORDS, text, "partner", ctx)


partner_kind = choice(*KINDS)
"""A partner's kind: core (kern), case (casus: a party for single cases) or external."""
role = choice(*ROLES)
"""A member's role: chair, coordinator or partner."""


def partner_before_date(text: str, ctx: Ctx) -> tuple[str, str]:
    """A partner's name (may have spaces) up to the first words meant as a date: the due
    date is always that first date, never a date word later in the description. A date
    that is meant but wrong ("31-11", "vrijdg") is ``error/bad_date`` for the due date;
    no date at all is ``error/missing_arg`` for it."""
    parts = text.split()
    known = _known_partner_words(parts, ctx)
    if known:  # a registered partner's name: the due date comes right after it
        rest = " ".join(parts[known:])
        if not rest:
            raise ParseError("error/missing_arg", metavar="due")
        try:
            day(rest, ctx)
        except ParseError as e:
            if e.template in DATE_MEANT:  # a date, but not one that will do
                raise ParseError(e.template, **(e.values | {"metavar": "due"})) from None
            # Text where the due date belongs: a wrong due date when it is meant as one or a
            # date comes later ("Huisbezoek dinsdag"), else a missing one ("Iets").
            later = any(_is_day(" ".join(parts[i:]), ctx) for i in range(known + 1, len(parts)))
            if later or looks_like_date(parts[known:]):
                raise ParseError("error/bad_date", metavar="due") from None
            raise ParseError("error/missing_arg", metavar="due") from None
        return free_text(" ".join(parts[:known]), ctx, "partner"), rest
    for i in range(1, len(parts)):
        rest = " ".join(parts[i:])
        try:
            day(rest, ctx)
        except ParseError as e:
            if e.template in DATE_MEANT:
                raise ParseError(e.template, **(e.values | {"metavar": "due"})) from None
            if looks_like_date(parts[i:]):
                raise ParseError("error/bad_date", metavar="due") from None
            continue
        return free_text(" ".join(parts[:i]), ctx, "partner"), rest
    raise ParseError("error/missing_arg", metavar="due")


def _is_day(text: str, ctx: Ctx) -> bool:
    try:
        day(text, ctx)
    except ParseError:
        return False
    return True


def _known_partner_words(parts: list[str], ctx: Ctx) -> int:
    """How many of the first ``parts`` are the name of one of the overleg's partners (the
    longest such name), 0 if none is."""
    if ctx.overleg is None or ctx.overleg.id is None:
        return 0
    from storage import overlegs

    names = {" ".join(n.casefold().split()) for n in
             overlegs.partner_names(ctx.session, ctx.overleg.id).values()}
    for size in range(min(len(parts), 8), 0, -1):
        if " ".join(parts[:size]).casefold() in names:
            return size
    return 0


def description(text: str, ctx: Ctx) -> tuple[str, str]:
    """An action's description: the rest of the line."""
    return free_text(text, ctx, "description", limit=MAX_DESCRIPTION), ""


def name(text: str, ctx: Ctx) -> tuple[str, str]:
    """An overleg's name: the rest of the line."""
    return free_text(text, ctx, "name"), ""


def reference(text: str, ctx: Ctx) -> tuple[str, str]:
    """``ref <reference>``: an external reference, only ever stored as a keyed hash."""
    word, rest = _head(text)
    if word.casefold() not in ("ref", "referentie"):
        raise Absent
    ref, after = _head(rest)
    if not ref:
        raise ParseError("error/missing_arg", metavar="reference")
    if len(ref) > 64:
        raise ParseError("error/too_long", what="reference", limit=64)
    # Hashed before it is stored, but the message stays in the room: a reference that is a
    # person's number (a BSN used as the reference, a phone number, an IBAN, an e-mail
    # address) is refused and removed like any other (docs/privacy.md).
    if found := [f for f in pii.scan_all(ref, ctx.guard, names="whole")
                 if f.kind in REFERENCE_KINDS]:
        raise PersonalData("reference", found)
    return ref, after


def searched_reference(text: str, ctx: Ctx) -> tuple[str, str]:
    """The reference searched for (``!casus zoeken``): with or without the word ``ref``
    (``ref ZD-2026-0042`` or ``ZD-2026-0042``); checked as ``reference``."""
    word, _ = _head(text)
    return reference(text if word.casefold() in ("ref", "referentie") else f"ref {text}", ctx)


REFERENCE_KINDS = frozenset({"bsn", "iban", "phone", "email"})
"""What a reference may not be: the identifiers that are numbers or addresses of a person
(a registration number such as ZD-2026-0042 is neither)."""


def help_topic(text: str, ctx: Ctx) -> tuple[str, str]:
    return " ".join(text.split()[:3]).casefold().lstrip(ctx.settings.prefix), ""
