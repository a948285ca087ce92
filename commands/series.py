"""Meeting series (issue 24): an overleg's year of meetings in one command.

``!overleg reeks elke 2e dinsdag 14:00 90m op Veiligheidshuis vanaf 12-1-2027 tot
21-12-2027`` (``!meeting series every 2nd tuesday …``). The cadence is read into an RFC 5545
recurrence rule (``Recurrence.rule``) and its days are computed by ``dateutil.rrule`` on the
wall clock of the overleg's time zone, so 14:00 stays 14:00 across DST. Each occurrence is an
ordinary ``Meeting`` (its own M-ID; agenda and nudge timers planned by
``agenda.schedule_meeting``, as for ``!overleg plannen``), moved or cancelled on its own
with the meeting commands. An occurrence on a day that is not one of the overleg's working
days (its weekdays and public holidays, ``commands.workdays``) is never planned silently:
without ``feestdagen verschuiven|overslaan`` nothing is planned and the reply lists those
days with the next working day. ``!overleg reeks stop S1 vanaf <datum>`` cancels the
series' meetings from that day on and ends its rule there; earlier meetings stay.
``!overleg reeks wijzig S1 vanaf <datum> …`` is that stop and a new series from the same day
with what was said changed.

The series' calendar file (``calendar``) is one VEVENT with the rule (RRULE, UNTIL), an
EXDATE for each of the rule's moments without a planned meeting (skipped, cancelled) and a
RECURRENCE-ID override for each meeting that was shifted or moved (RFC 5545, 3.8.4.4 and
3.8.5); ``bot.render`` writes it with ``icalendar``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from sqlmodel import Session

from commands import agenda, meeting, parse, presence, workdays
from commands.auditing import audit_change
from commands.registry import Absent, Choice, Ctx, Outgoing, ParseError, arg, choose, command
from storage import meetings
from storage.models import Meeting, MeetingSeries, Overleg

EVERY = ("elke", "iedere", "every", "each")
ORDINALS = {
    "1e": 1, "1ste": 1, "eerste": 1, "1st": 1, "first": 1,
    "2e": 2, "2de": 2, "tweede": 2, "2nd": 2, "second": 2,
    "3e": 3, "3de": 3, "derde": 3, "3rd": 3, "third": 3,
    "4e": 4, "4de": 4, "vierde": 4, "4th": 4, "fourth": 4,
    "laatste": -1, "last": -1,
}
OF_MONTH = (("van", "de", "maand"), ("in", "de", "maand"), ("of", "the", "month"),
            ("in", "the", "month"))
WEEK, WEEKS = ("week",), ("weken", "weeks")
MONTH, MONTHS = ("maand", "month"), ("maanden", "months")
ON = ("op", "on")
THE = ("de", "the")
_MONTHDAY = re.compile(r"^(\d{1,2})(?:e|de|ste|st|nd|rd|th)?$", re.ASCII)
_SERIES = re.compile(r"^[sS](\d{1,6})$", re.ASCII)
_CLOCK = re.compile(r"^\d{1,2}[:.]\d{2}$", re.ASCII)  # a time, valid or not
_NOT_A_CADENCE = re.compile(r"^\d{1,2}[:.]\d{2}$|^\d+(?:h|u|m|min)\d*m?$", re.ASCII)
ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FROM = ("vanaf", "from", "per")
UNTIL = ("tot", "until", "t/m", "tm", "to")
DAYS_OFF = ("feestdagen", "holidays", "feestdag", "holiday")
HOLIDAYS = (Choice("shift", "verschuiven", "shift", ("verschuif", "move")),
            Choice("skip", "overslaan", "skip", ("sla-over",)))
MAX_YEARS = 2  # a series spans at most two years (weekly: about a hundred meetings)
AHEAD_YEARS = 5  # a series starts at most five years ahead (and no date overflows)


@dataclass(frozen=True)
class Recurrence:
    """A cadence as typed: weekly or monthly, every ``interval``; on ``weekday`` (0 is
    Monday), the ``nth`` such weekday of the month (1-4, -1 the last) or day ``monthday``
    (1-28) of the month. What is not said is taken from the series' first day."""

    freq: str  # "WEEKLY" | "MONTHLY"
    interval: int = 1
    weekday: int | None = None
    nth: int | None = None
    monthday: int | None = None

    def completed(self, first: date) -> Recurrence:
        """The weekday or day of the month that was not said, taken from ``first``."""
        if self.freq == "WEEKLY" and self.weekday is None:
            return replace(self, weekday=first.weekday())
        if self.freq == "MONTHLY" and self.weekday is None and self.monthday is None:
            return replace(self, monthday=min(first.day, 28))
        return self

    def rule(self) -> str:
        """The RFC 5545 RRULE value without DTSTART and UNTIL, e.g. ``FREQ=MONTHLY;BYDAY=+2TU``."""
        parts = [f"FREQ={self.freq}"]
        if self.interval > 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.weekday is not None:
            prefix = f"{self.nth:+d}" if self.nth is not None else ""
            parts.append(f"BYDAY={prefix}{ICAL_DAYS[self.weekday]}")
        elif self.monthday is not None:
            parts.append(f"BYMONTHDAY={self.monthday}")
        return ";".join(parts)

    def shown(self) -> dict[str, Any]:
        """Plain values for the templates (``m.cadence``)."""
        return {"freq": self.freq, "interval": self.interval, "weekday": self.weekday,
                "nth": self.nth, "monthday": self.monthday}

    @classmethod
    def of(cls, rule: str) -> Recurrence:
        """The cadence of a stored rule (the inverse of ``rule``)."""
        fields = dict(p.split("=", 1) for p in rule.split(";"))
        weekday = nth = monthday = None
        if "BYDAY" in fields:
            day = fields["BYDAY"]
            weekday = ICAL_DAYS.index(day[-2:])
            nth = int(day[:-2]) if day[:-2] else None
        if "BYMONTHDAY" in fields:
            monthday = int(fields["BYMONTHDAY"])
        return cls(fields["FREQ"], int(fields.get("INTERVAL", 1)), weekday, nth, monthday)


# ---- parsers --------------------------------------------------------------------------------
def _starts(words: list[str], i: int, phrase: tuple[str, ...]) -> bool:
    return tuple(words[i:i + len(phrase)]) == phrase


def _of_month(words: list[str], i: int) -> int:
    """``i`` past a trailing "van de maand" / "of the month", if there is one."""
    for phrase in OF_MONTH:
        if _starts(words, i, phrase):
            return i + len(phrase)
    return i


def _on_weekday(words: list[str], i: int) -> tuple[int | None, int]:
    """An optional "op dinsdag" / "on tuesday" after a weekly cadence."""
    if i + 1 < len(words) and words[i] in ON and words[i + 1] in parse.WEEKDAYS:
        return parse.WEEKDAYS[words[i + 1]], i + 2
    return None, i


def _monthly_on(words: list[str], i: int, interval: int) -> tuple[Recurrence, int]:
    """What may follow "elke maand": "op de 15e", "op de 2e dinsdag", "on the last friday"."""
    j = i + 1 if i < len(words) and words[i] in ON else i
    j = j + 1 if j < len(words) and words[j] in THE else j
    if j == i:
        return Recurrence("MONTHLY", interval), i
    if j + 1 < len(words) and words[j] in ORDINALS and words[j + 1] in parse.WEEKDAYS:
        return Recurrence("MONTHLY", interval, parse.WEEKDAYS[words[j + 1]],
                          ORDINALS[words[j]]), j + 2
    m = _MONTHDAY.match(words[j]) if j < len(words) else None
    if m is None:
        raise ParseError("series/bad_rule")
    if not 1 <= int(m[1]) <= 28:
        raise ParseError("series/bad_monthday")
    return Recurrence("MONTHLY", interval, monthday=int(m[1])), j + 1


def recurrence(text: str, ctx: Ctx) -> tuple[Recurrence, str]:
    """A cadence: "elke 2e dinsdag [van de maand]", "laatste donderdag van de maand", "elke
    dinsdag", "elke week [op dinsdag]", "elke 2 weken [op dinsdag]", "elke maand [op de
    15e]", "elke 2 maanden …" (and every 2nd tuesday, last thursday of the month, every week,
    every 2 weeks, every month on the 15th). Else ``series/bad_rule``."""
    typed = text.split()
    words = [w.casefold() for w in typed]
    i = 1 if words and words[0] in EVERY else 0
    rec: Recurrence | None = None
    if i + 1 < len(words) and words[i] in ORDINALS and words[i + 1] in parse.WEEKDAYS:
        rec = Recurrence("MONTHLY", 1, parse.WEEKDAYS[words[i + 1]], ORDINALS[words[i]])
        i = _of_month(words, i + 2)
    elif i < len(words) and words[i] in parse.WEEKDAYS:
        rec, i = Recurrence("WEEKLY", 1, parse.WEEKDAYS[words[i]]), i + 1
    elif i < len(words) and words[i] in WEEK:
        weekday, i = _on_weekday(words, i + 1)
        rec = Recurrence("WEEKLY", 1, weekday)
    elif i < len(words) and words[i] in MONTH:
        rec, i = _monthly_on(words, i + 1, 1)
    elif i + 1 < len(words) and (n := parse.count_word(words[i])) is not None \
            and words[i + 1] in (*WEEKS, *MONTHS):
        if not 1 <= n <= 12:
            raise ParseError("series/bad_rule")
        if words[i + 1] in WEEKS:
            weekday, i = _on_weekday(words, i + 2)
            rec = Recurrence("WEEKLY", n, weekday)
        else:
            rec, i = _monthly_on(words, i + 2, n)
    if rec is None:
        raise ParseError("series/bad_rule")
    return rec, " ".join(typed[i:])


OPTIONS = (*FROM, *UNTIL, *DAYS_OFF)
"""The words that open the options at the end of a series command ("vanaf", "tot",
"feestdagen"); they may come in any order, each once."""


def _option(text: str, keywords: tuple[str, ...], metavar: str,
            read: Any) -> tuple[Any, str]:
    """The option opened by one of ``keywords`` among the options that end ``text`` (in any
    order): its value as ``read`` (a parser) gives it, and the text without it. Absent when
    it is not there; ``series/doubled`` (naming ``metavar``) when it is there twice."""
    words = text.split()
    if not words or words[0].casefold() not in OPTIONS:
        raise Absent
    at = next((i for i, w in enumerate(words) if w.casefold() in keywords), None)
    if at is None:
        raise Absent
    value, rest = read(" ".join(words[at:]), keywords)
    left = " ".join(words[:at] + rest.split())
    if any(w.casefold() in keywords for w in left.split()):
        raise ParseError("series/doubled", metavar=metavar)
    return value, left


def _keyword_date(text: str, keywords: tuple[str, ...], ctx: Ctx,
                  optional_keyword: bool = False) -> tuple[date, str]:
    word, _, rest = text.strip().partition(" ")
    if word.casefold() in keywords:
        if not rest.strip():
            raise ParseError("error/missing_arg")
        return parse.day(rest, ctx)
    if optional_keyword:
        return parse.day(text, ctx)
    raise Absent


def since(text: str, ctx: Ctx) -> tuple[date, str]:
    """Optional "vanaf 12-1-2027" / "from 12-1-2027": the series' first day (among the
    options in any order, ``_option``)."""
    return _option(text, FROM, "from", lambda t, k: _keyword_date(t, k, ctx))


def until(text: str, ctx: Ctx) -> tuple[date, str]:
    """Optional "tot 21-12-2027" / "until 21-12-2027": the series' last day (included;
    among the options in any order, ``_option``)."""
    return _option(text, UNTIL, "until", lambda t, k: _keyword_date(t, k, ctx))


def from_day(text: str, ctx: Ctx) -> tuple[date, str]:
    """"vanaf 1-6-2027" (the word may be left out): the day a change takes effect."""
    return _keyword_date(text, FROM, ctx, optional_keyword=True)


def place(text: str, ctx: Ctx) -> tuple[str, str]:
    """Optional place, "op Veiligheidshuis": the words up to "vanaf", "tot" or "feestdagen"."""
    words = text.split()
    if not words or words[0].casefold() not in parse.PLACE_WORDS:
        raise Absent
    end = next((i for i, w in enumerate(words[1:], 1)
                if w.casefold() in (*FROM, *UNTIL, *DAYS_OFF)), len(words))
    if end == 1:
        raise ParseError("error/missing_arg", metavar="place")
    return parse.free_text(" ".join(words[1:end]), ctx, "place"), " ".join(words[end:])


def days_off(text: str, ctx: Ctx) -> tuple[str, str]:
    """Optional "feestdagen verschuiven|overslaan" (holidays shift|skip): what becomes of an
    occurrence on a day that is not a working day of the overleg (among the options in any
    order, ``_option``)."""
    def read(t: str, keywords: tuple[str, ...]) -> tuple[str, str]:
        words = t.split(maxsplit=2)
        value = choose(HOLIDAYS, words[1]) if len(words) > 1 else None
        if value is None:
            raise ParseError("error/bad_choice", choices=[c.shown() for c in HOLIDAYS])
        return value, words[2] if len(words) > 2 else ""
    return _option(text, DAYS_OFF, "holidays", read)


def series_number(text: str, ctx: Ctx) -> tuple[int, str]:
    """A series ID: S1 (or s1)."""
    word, _, rest = text.strip().partition(" ")
    m = _SERIES.match(word)
    if m is None:
        raise ParseError("series/bad_id")
    return int(m[1]), rest


# ---- the rule's days ------------------------------------------------------------------------
def _local_days(rule: str, first: date, last: date, at: time) -> list[datetime]:
    """The rule's moments from ``first`` through ``last`` at ``at``, naive wall-clock times.
    A rule with an INTERVAL counts its weeks or months from the first day on or after
    ``first`` that matches it ("elke 2 weken op maandag vanaf" a Tuesday: the next Monday,
    not the Monday after), as RFC 5545 counts from a DTSTART that is itself an occurrence."""
    start = datetime.combine(first, at)
    every = ";".join(p for p in rule.split(";") if not p.startswith("INTERVAL="))
    if every != rule:
        first_match = rrulestr(every, dtstart=start).after(start, inc=True)
        if first_match is not None:
            start = first_match
    return list(rrulestr(rule, dtstart=start).between(start, datetime.combine(last, time.max),
                                                      inc=True))


def _last_moment(series: MeetingSeries) -> datetime:
    """The end of the series' last day, in UTC (the RRULE's UNTIL)."""
    return datetime.combine(series.last_day, time(23, 59, 59),
                            tzinfo=ZoneInfo(series.timezone)).astimezone(UTC)


def moments(series: MeetingSeries) -> list[datetime]:
    """The series' rule moments (aware, UTC), its first day through its last."""
    tz = ZoneInfo(series.timezone)
    days = _local_days(series.rule, series.first_day, series.last_day,
                       time(series.hour, series.minute))
    return [u for d in days if (u := parse.wall_to_utc(d, tz)) is not None]


@dataclass(frozen=True)
class DayOff:
    """A moment of the rule on a day off: ``reason`` "holiday" (a public holiday on a working
    weekday) or "day_off" (not one of the overleg's weekdays); ``to`` the same time on the
    next working day, None when that is not before the series' next moment."""

    at: datetime
    reason: str
    to: datetime | None


def days_off_of(overleg: Overleg, local: list[datetime], tz: ZoneInfo) -> dict[int, DayOff]:
    """Per index into ``local`` (naive wall-clock moments), the ones on a day off."""
    out: dict[int, DayOff] = {}
    for i, moment in enumerate(local):
        day = moment.date()
        if workdays.is_working_day(overleg, day):
            continue
        reason = "holiday" if str(day.isoweekday()) in overleg.working_days else "day_off"
        to_day = workdays.next_working_day(overleg, day)
        following = local[i + 1].date() if i + 1 < len(local) else None
        to = None
        if following is None or to_day < following:
            to = parse.wall_to_utc(datetime.combine(to_day, moment.time()), tz)
        at = parse.wall_to_utc(moment, tz)
        assert at is not None  # the caller refused skipped times
        out[i] = DayOff(at, reason, to)
    return out


# ---- commands -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proposal:
    """A series as it would be planned: its settings, the rule's wall-clock moments still to
    come (``local``), those on a day off (``off``, by index) and the indexes planned."""

    rec: Recurrence
    at: time
    minutes: int
    kind: str
    place: str | None
    last: date
    holidays: str | None
    local: list[datetime]
    off: dict[int, DayOff]
    kept: list[int]


def _propose(ctx: Ctx, *, rule: Recurrence, at: time, minutes: int, kind: str,
             place: str | None, first: date | None, last: date | None,
             holidays: str | None) -> Proposal:
    """The series from ``first`` (default today, at most ``AHEAD_YEARS`` ahead) through
    ``last`` (default a year on; at most two years). Raises ``ParseError`` naming the
    argument that is wrong."""
    overleg = ctx.overleg
    assert overleg is not None
    tz = ZoneInfo(overleg.timezone)
    today = workdays.local_today(overleg, ctx.now)
    first = first or today
    if first < today:
        raise ParseError("series/from_past", metavar="from")
    if first > today + relativedelta(years=AHEAD_YEARS):
        raise ParseError("series/too_far", metavar="from", years=AHEAD_YEARS,
                         latest=today + relativedelta(years=AHEAD_YEARS))
    last = last or first + relativedelta(years=1) - timedelta(days=1)
    if last < first:
        raise ParseError("series/until_before_from", metavar="until")
    if last > first + relativedelta(years=MAX_YEARS):
        raise ParseError("series/too_long", metavar="until", years=MAX_YEARS)
    rec = rule.completed(first)
    local = _local_days(rec.rule(), first, last, at)
    if any(parse.wall_to_utc(d, tz) is None for d in local):
        raise ParseError("error/time_skipped", metavar="time", given=f"{at:%H:%M}")
    local = [d for d in local if (u := parse.wall_to_utc(d, tz)) is not None and u > ctx.now]
    off = days_off_of(overleg, local, tz)
    kept = [i for i in range(len(local))
            if i not in off or (holidays == "shift" and off[i].to is not None)]
    if not kept and not (off and holidays is None):
        raise ParseError("series/none", metavar="recurrence")
    return Proposal(rec, at, minutes, kind, place, last, holidays, local, off, kept)


def _days_off_reply(ctx: Ctx, p: Proposal) -> Outgoing:
    """Nothing planned: the moments on a day off, each with the next working day."""
    return ctx.reply("series/days_off", pages_over="days", days=list(p.off.values()),
                     count=len(p.local), cadence=p.rec.shown())


def _create(ctx: Ctx, p: Proposal) -> tuple[MeetingSeries, list[Meeting]]:
    """Store the series and one meeting per planned moment, each with its agenda and nudge
    timers (``agenda.schedule_meeting``); audited as ``series.plan``."""
    overleg = ctx.overleg
    assert overleg is not None
    tz = ZoneInfo(overleg.timezone)
    series = _new_series(ctx, p, p.local[0].date())
    planned: list[Meeting] = []
    for i in p.kept:
        moment = parse.wall_to_utc(p.local[i], tz)
        starts_at = p.off[i].to if i in p.off else moment
        assert moment is not None and starts_at is not None
        row = meetings.add(ctx.session, overleg_id=ctx.overleg_id, starts_at=starts_at,
                           minutes=p.minutes, place=p.place, now=ctx.now, kind=p.kind,
                           series_id=series.id, series_start=moment)
        agenda.schedule_meeting(ctx.session, overleg, row, ctx.now)
        planned.append(row)
    audit_change(ctx, action="series.plan",
                 subject=f"S{series.number} M{planned[0].number}-M{planned[-1].number}")
    return series, planned


def _new_series(ctx: Ctx, p: Proposal, first_day: date) -> MeetingSeries:
    """Store the series ``p`` proposes, from ``first_day`` (numbered S1, S2…)."""
    assert ctx.overleg is not None
    return meetings.add_series(ctx.session, MeetingSeries(
        overleg_id=ctx.overleg_id, number=0, rule=p.rec.rule(), first_day=first_day,
        last_day=p.last, hour=p.at.hour, minute=p.at.minute, timezone=ctx.overleg.timezone,
        minutes=p.minutes, place=p.place, kind=p.kind, holidays=p.holidays or "",
        created_at=ctx.now))


def _from_on(ctx: Ctx, series: MeetingSeries, first: date, tz: ZoneInfo) -> list[Meeting]:
    """The series' planned meetings on ``first`` (a day in ``tz``) or later, not begun."""
    return [m for m in meetings.of_series(ctx.session, series.id or 0)
            if m.status == "planned" and m.starts_at.astimezone(tz).date() >= first
            and m.starts_at > ctx.now]


def _close(ctx: Ctx, series: MeetingSeries, first: date) -> None:
    """End the series' rule the day before ``first`` (not before its first day)."""
    series.last_day = max(first - timedelta(days=1), series.first_day)
    meetings.save_series(ctx.session, series)


def _planned_reply(ctx: Ctx, p: Proposal, series: MeetingSeries,
                   planned: list[Meeting]) -> Outgoing:
    return ctx.reply("series/planned", pages_over="meetings", series=series,
                     cadence=p.rec.shown(), meetings=[_line(m) for m in planned],
                     skipped=[d for i, d in p.off.items() if i not in p.kept])


@command("meeting series", nl="overleg reeks", aliases=("overleg series", "meeting reeks"))
@arg("rule", recurrence, metavar="recurrence")
@arg("at", parse.clock_time, metavar="time")
@arg("minutes", parse.duration, required=False, metavar="duration")
@arg("kind", parse.meeting_kind, required=False, metavar="meeting_kind")
@arg("place", place, required=False, metavar="place")
@arg("first", since, required=False, metavar="from")
@arg("last", until, required=False, metavar="until")
@arg("holidays", days_off, required=False, metavar="holidays")
def plan(ctx: Ctx, *, rule: Recurrence, at: time, minutes: int | None, kind: str | None,
         place: str | None, first: date | None, last: date | None,
         holidays: str | None) -> list[Outgoing]:
    """Plan a series of meetings: one ``Meeting`` per moment of the cadence from ``first``
    (default today) through ``last`` (default a year on; at most two years). Refuses
    (``series/days_off``, nothing planned) when moments fall on a day off and ``holidays``
    does not say what to do with them; ``series/duplicate`` when an active series of the
    overleg has the same rule and time over overlapping days; ``series/too_many`` when the
    overleg would have more than ``commands.meeting.MAX_FUTURE`` meetings to come."""
    overleg = ctx.overleg
    assert overleg is not None
    p = _propose(ctx, rule=rule, at=at, minutes=minutes or overleg.meeting_minutes,
                 kind=kind or "casusoverleg", place=place, first=first, last=last,
                 holidays=holidays)
    if p.off and holidays is None:
        return [_days_off_reply(ctx, p)]
    today = workdays.local_today(overleg, ctx.now)
    for other in meetings.all_series(ctx.session, ctx.overleg_id):
        if (other.rule, other.hour, other.minute) == (p.rec.rule(), p.at.hour, p.at.minute) \
                and other.last_day >= max(today, p.local[0].date()) \
                and other.first_day <= p.last:
            raise ParseError("series/duplicate", metavar="recurrence", series=other)
    have = meetings.count_future(ctx.session, ctx.overleg_id, ctx.now)
    if have + len(p.kept) > meeting.MAX_FUTURE:
        raise ParseError("series/too_many", metavar="until", limit=meeting.MAX_FUTURE,
                         have=have, count=len(p.kept))
    series, planned = _create(ctx, p)
    return [_planned_reply(ctx, p, series, planned), calendar_file(ctx, overleg, series)]


def _end(ctx: Ctx, series: MeetingSeries, first: date
         ) -> tuple[list[Meeting], list[Outgoing], list[dict[str, Any]]]:
    """Cancel the series' planned meetings from ``first`` on and end its rule the day
    before (audited); the cancelled meetings, the notices of their withdrawn agendas, and
    the cases that were on their agendas (``meeting``: the M-number, ``cases``: case IDs
    as shown), for the chair to put on an agenda again."""
    ending = _from_on(ctx, series, first, ZoneInfo(series.timezone))
    orphaned = [{"meeting": m.number, "cases": [ln["case"] for ln in lines]}
                for m in ending if (lines := agenda.agenda_lines(ctx.session, m))]
    notices = [n for m in ending for n in meeting.cancel_meeting(ctx, m)]
    _close(ctx, series, first)
    audit_change(ctx, action="series.stop", subject=f"S{series.number} {first.isoformat()}")
    return ending, notices, orphaned


def _check_from(ctx: Ctx, series: MeetingSeries, first: date) -> None:
    overleg = ctx.overleg
    assert overleg is not None
    if first < workdays.local_today(overleg, ctx.now):
        raise ParseError("series/from_past", metavar="from")
    if first > series.last_day:
        raise ParseError("series/after_end", metavar="from", series=series)


@command("meeting series stop", nl="overleg reeks stop",
         aliases=("overleg reeks stoppen", "overleg series stop", "meeting reeks stop"))
@arg("number", series_number, metavar="series")
@arg("first", from_day, metavar="from")
def stop(ctx: Ctx, *, number: int, first: date) -> list[Outgoing]:
    """End series S``number`` from ``first`` on: its planned meetings on or after that day
    are cancelled (with the notices ``!overleg annuleren`` sends), its rule ends the day
    before; earlier meetings stay as they are."""
    overleg = ctx.overleg
    assert overleg is not None
    series = _find(ctx, number)
    _check_from(ctx, series, first)
    ending, notices, orphaned = _end(ctx, series, first)
    return [ctx.reply("series/stopped", series=series, first=first,
                      cancelled=[m.number for m in ending], orphaned=orphaned),
            *notices, calendar_file(ctx, overleg, series)]


def optional_recurrence(text: str, ctx: Ctx) -> tuple[Recurrence, str]:
    """A cadence (``recurrence``), or absent when the text goes on with a time, a length, a
    kind, a place, "tot" or "feestdagen" (what ``!overleg reeks wijzig`` may change)."""
    try:
        return recurrence(text, ctx)
    except ParseError:
        word = text.split()[0].casefold() if text.split() else ""
        if _NOT_A_CADENCE.match(word) or word in (*parse.PLACE_WORDS, *UNTIL, *DAYS_OFF) \
                or choose(parse.MEETING_KINDS, word):
            raise Absent from None
        raise


def optional_time(text: str, ctx: Ctx) -> tuple[time, str]:
    """A time of day (``parse.clock_time``), or absent when the text goes on otherwise."""
    word = text.split()[0] if text.split() else ""
    if not _CLOCK.match(word):
        raise Absent
    return parse.clock_time(text, ctx)


@command("meeting series change", nl="overleg reeks wijzig",
         aliases=("overleg reeks wijzigen", "overleg series change", "meeting reeks wijzig"))
@arg("number", series_number, metavar="series")
@arg("first", from_day, metavar="from")
@arg("rule", optional_recurrence, required=False, metavar="recurrence")
@arg("at", optional_time, required=False, metavar="time")
@arg("minutes", parse.duration, required=False, metavar="duration")
@arg("kind", parse.meeting_kind, required=False, metavar="meeting_kind")
@arg("place", place, required=False, metavar="place")
@arg("last", until, required=False, metavar="until")
@arg("holidays", days_off, required=False, metavar="holidays")
def change(ctx: Ctx, *, number: int, first: date, rule: Recurrence | None, at: time | None,
           minutes: int | None, kind: str | None, place: str | None, last: date | None,
           holidays: str | None) -> list[Outgoing]:
    """Change series S``number`` from ``first`` on: it ends there (as ``stop``) and a new
    series goes on from that day with what was said changed and the rest as it was (its
    last day too). Earlier meetings stay. Refuses, changing nothing, when nothing is
    changed or the new moments fall on a day off and ``holidays`` is not said (nor was it
    for the old series)."""
    overleg = ctx.overleg
    assert overleg is not None
    old = _find(ctx, number)
    _check_from(ctx, old, first)
    if all(v is None for v in (rule, at, minutes, kind, place, last, holidays)):
        raise ParseError("series/no_change", metavar="recurrence")
    choice_ = holidays or old.holidays or None
    p = _propose(ctx, rule=rule or Recurrence.of(old.rule),
                 at=at or time(old.hour, old.minute), minutes=minutes or old.minutes,
                 kind=kind or old.kind, place=place if place is not None else old.place,
                 first=first, last=last or old.last_day, holidays=choice_)
    if p.off and choice_ is None:
        return [_days_off_reply(ctx, p)]
    if rule is None and last is None and holidays is None:
        # The days stay: the meetings move (same M-IDs, agendas and presence).
        series, kept, notices = _carry_over(ctx, old, first, p)
        return [ctx.reply("series/changed", old=old, first=first, cancelled=[],
                          moved=[m.number for m in kept], orphaned=[]),
                _planned_reply(ctx, p, series, kept), *notices,
                calendar_file(ctx, overleg, old), calendar_file(ctx, overleg, series)]
    ending, notices, orphaned = _end(ctx, old, first)
    series, planned = _create(ctx, p)
    return [ctx.reply("series/changed", old=old, first=first,
                      cancelled=[m.number for m in ending], moved=[], orphaned=orphaned),
            _planned_reply(ctx, p, series, planned), *notices,
            calendar_file(ctx, overleg, old), calendar_file(ctx, overleg, series)]


def _carry_over(ctx: Ctx, old: MeetingSeries, first: date,
                p: Proposal) -> tuple[MeetingSeries, list[Meeting], list[Outgoing]]:
    """Only the time, length, kind or place changed from ``first`` on: ``old`` ends the day
    before and a new series goes on, and the old series' planned meetings from that day
    are moved into it on their own days (each keeps its M-ID, agenda and presence; a moved
    one gets the notice ``!overleg verplaatsen`` sends), rather than cancelled and planned
    anew. Audited as ``series.change``. Raises ``error/time_skipped`` when the new time
    does not exist on one of their days (DST)."""
    overleg = ctx.overleg
    assert overleg is not None
    tz = ZoneInfo(overleg.timezone)
    carried = _from_on(ctx, old, first, tz)
    moves: list[tuple[Meeting, datetime, datetime]] = []
    for m in carried:
        day = m.starts_at.astimezone(tz).date()
        at = p.at if p.at != time(old.hour, old.minute) \
            else m.starts_at.astimezone(tz).time().replace(tzinfo=None)
        starts_at = parse.wall_to_utc(datetime.combine(day, at), tz)
        rule_day = (m.series_start or m.starts_at).astimezone(tz).date()
        moment = parse.wall_to_utc(datetime.combine(rule_day, p.at), tz)
        if starts_at is None or moment is None:
            raise ParseError("error/time_skipped", metavar="time", given=f"{p.at:%H:%M}")
        moves.append((m, starts_at, moment))
    _close(ctx, old, first)
    series = _new_series(ctx, p, p.local[0].date() if p.local else first)
    notices: list[Outgoing] = []
    for m, starts_at, moment in moves:
        old_start = m.starts_at
        if starts_at != old_start:
            notices += agenda.withdrawal_notices(ctx.session, overleg, m, moved=True,
                                                 old_start=old_start)
            m.agenda_sent_at = None  # the agenda goes out again for the new time
        m.starts_at, m.minutes, m.place, m.kind = starts_at, p.minutes, p.place, p.kind
        m.series_id, m.series_start = series.id, moment
        meetings.save(ctx.session, m)
        presence.moved(ctx, m, old_start)
        agenda.schedule_meeting(ctx.session, overleg, m, ctx.now)
    audit_change(ctx, action="series.change",
                 subject=f"S{old.number} {first.isoformat()} S{series.number} moved="
                         + " ".join(f"M{m.number}" for m, _, _ in moves))
    return series, [m for m, _, _ in moves], notices


@command("meeting series show", nl="overleg reeks toon",
         aliases=("overleg reeks tonen", "overleg series show", "meeting reeks toon"))
@arg("number", series_number, metavar="series")
def show(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Series S``number``: its cadence and every meeting of it (moved and cancelled too),
    with its current calendar file."""
    overleg = ctx.overleg
    assert overleg is not None
    series = _find(ctx, number)
    rows = meetings.of_series(ctx.session, series.id or 0)
    return [ctx.reply("series/show", pages_over="meetings", series=series,
                      cadence=Recurrence.of(series.rule).shown(),
                      meetings=[_line(m) for m in rows]),
            calendar_file(ctx, overleg, series)]


def _find(ctx: Ctx, number: int) -> MeetingSeries:
    series = meetings.series_by_number(ctx.session, ctx.overleg_id, number)
    if series is None or series.id is None:
        raise ParseError("series/unknown", number=number)
    return series


def _line(m: Meeting) -> dict[str, Any]:
    """A meeting of a series as the replies list it."""
    moved = m.series_start is not None and m.series_start != m.starts_at
    return {"number": m.number, "starts_at": m.starts_at, "minutes": m.minutes,
            "status": m.status, "moved_from": m.series_start if moved else None}


# ---- the calendar file ----------------------------------------------------------------------
def calendar(session: Session, overleg: Overleg, series: MeetingSeries) -> dict[str, Any]:
    """The series as plain values for its .ics (``bot.render``): ``start``/``end`` of the
    first moment, ``rrule`` (the rule with UNTIL in UTC), ``exdates`` (the rule's moments
    without a planned meeting), ``overrides`` (a planned meeting not at its moment, or with
    another length or place: ``recurrence_id``, ``start``, ``end``, ``place``) and
    ``singles`` (a planned meeting whose moment is no longer the rule's: its own event).
    Datetimes are aware, in the series' time zone."""
    tz = ZoneInfo(series.timezone)
    times = moments(series)
    planned = {m.series_start: m for m in meetings.of_series(session, series.id or 0)
               if m.status == "planned" and m.series_start is not None}
    length = timedelta(minutes=series.minutes)
    start = (datetime.combine(series.first_day, time(series.hour, series.minute), tzinfo=tz)
             if not times else times[0].astimezone(tz))
    overrides, singles = [], []
    for moment, m in sorted(planned.items()):
        event = {"start": m.starts_at.astimezone(tz),
                 "end": (m.starts_at + timedelta(minutes=m.minutes)).astimezone(tz),
                 "place": m.place, "uid": f"casusbot-{overleg.id}-{m.id}",
                 "recurrence_id": moment.astimezone(tz), "number": m.number}
        if moment not in times:
            singles.append(event)
        elif m.starts_at != moment or m.minutes != series.minutes or m.place != series.place:
            overrides.append(event)
    until_utc = _last_moment(series).strftime("%Y%m%dT%H%M%SZ")
    return {"uid": f"casusbot-{overleg.id}-series-{series.id}", "start": start,
            "end": start + length, "rrule": f"{series.rule};UNTIL={until_utc}",
            "exdates": [t.astimezone(tz) for t in times if t not in planned],
            "overrides": overrides, "singles": singles, "place": series.place}


def calendar_file(ctx: Ctx, overleg: Overleg, series: MeetingSeries) -> Outgoing:
    """The series' .ics as a file in the room (no form on Teams: ``bot.teams.cards``)."""
    out = ctx.reply("series/ics", series=series)
    return replace(out, extra={"kind": "ics", "series": calendar(ctx.session, overleg, series),
                               "stamp": ctx.now, "summary": "series/ics_summary",
                               "description": "series/ics_description",
                               "filename": f"reeks-S{series.number}.ics"})
