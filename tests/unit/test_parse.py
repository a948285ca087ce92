"""Dates, times, durations and IDs, read in the overleg's zone with a fake clock."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands import parse, pii
from commands.registry import Absent, Ctx, ParseError, Settings

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # Tuesday 1 December 2026, 09:00 local


def ctx(now: datetime = NOW) -> Ctx:
    c = Ctx(room="!r:x", sender="@s:x", now=now, session=None,  # type: ignore[arg-type]
            settings=Settings())
    # No database here: the PII guard without an overleg's words (Ctx.guard is a
    # functools.cached_property, kept in the instance's __dict__).
    c.__dict__["guard"] = pii.Guard()
    return c


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-08", date(2026, 12, 8)),
    ("8-12-2026", date(2026, 12, 8)),
    ("08/12/2026", date(2026, 12, 8)),
    ("8.12.2026", date(2026, 12, 8)),
    ("8-12", date(2026, 12, 8)),
    ("8 dec", date(2026, 12, 8)),
    ("8 december", date(2026, 12, 8)),
    ("8 Dec 2027", date(2027, 12, 8)),
    ("3 jan", date(2027, 1, 3)),        # no year: the next such day
    ("1 dec", date(2026, 12, 1)),       # today counts
    ("dinsdag", date(2026, 12, 8)),     # on a Tuesday, "dinsdag" is next week
    ("woensdag", date(2026, 12, 2)),
    ("friday", date(2026, 12, 4)),
    ("morgen", date(2026, 12, 2)),
    ("vandaag", date(2026, 12, 1)),
])
def test_dates(text: str, expected: date) -> None:
    value, rest = parse.day(text + " 14:00", ctx())
    assert value == expected
    assert rest == "14:00"


@pytest.mark.parametrize("text", ["31-13-2026", "32-1-2026", "30-2-2026", "8 smarch", "gisteren",
                                  "2026-13-01", "0-1-2026", "14:00", "", "8"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(ParseError) as err:
        parse.day(text, ctx())
    assert err.value.template == "error/bad_date"


def test_local_time_is_kept_across_dst() -> None:
    # 14:00 in Amsterdam is 12:00 UTC in summer and 13:00 UTC in winter.
    summer, _ = parse.when("23-10-2026 14:00", ctx(datetime(2026, 10, 1, tzinfo=UTC)))
    winter, _ = parse.when("26-10-2026 14:00", ctx(datetime(2026, 10, 1, tzinfo=UTC)))
    assert summer == datetime(2026, 10, 23, 12, 0, tzinfo=UTC)
    assert winter == datetime(2026, 10, 26, 13, 0, tzinfo=UTC)
    assert summer.astimezone(AMS).hour == winter.astimezone(AMS).hour == 14


def test_a_dst_week_of_weekday_names_keeps_14_00_local() -> None:
    # Walk the fake clock through the week of the October 2026 change (25 October).
    start = datetime(2026, 10, 21, 7, 0, tzinfo=UTC)
    for days in range(8):
        now = start + timedelta(days=days)
        for name in parse.WEEKDAYS:
            value, _ = parse.when(f"{name} 14:00", ctx(now))
            local = value.astimezone(AMS)
            assert (local.hour, local.minute) == (14, 0)
            assert local.date() > now.astimezone(AMS).date()


def test_a_time_skipped_by_dst_is_refused() -> None:
    with pytest.raises(ParseError) as err:
        parse.when("29-3-2026 02:30", ctx(datetime(2026, 3, 1, tzinfo=UTC)))
    assert err.value.template == "error/time_skipped"


@pytest.mark.parametrize(("text", "minutes"), [("90m", 90), ("90min", 90), ("1h", 60),
                                                ("1u30", 90), ("1h30m", 90), ("2u", 120)])
def test_durations(text: str, minutes: int) -> None:
    assert parse.duration(text, ctx()) == (minutes, "")


def test_duration_absent_or_out_of_range() -> None:
    with pytest.raises(Absent):
        parse.duration("op Venlo", ctx())
    with pytest.raises(ParseError):  # a length without its unit: meant as one, named
        parse.duration("90", ctx())
    with pytest.raises(Absent):  # a year or a house number is no length
        parse.duration("2026", ctx())
    with pytest.raises(ParseError):
        parse.duration("13h", ctx())
    with pytest.raises(ParseError):
        parse.duration("2m", ctx())


def test_times() -> None:
    assert parse.clock_time("14:00", ctx())[0].hour == 14
    assert parse.clock_time("9.30", ctx())[0].minute == 30
    for bad in ("24:00", "14:60", "14", "2pm"):
        with pytest.raises(ParseError):
            parse.clock_time(bad, ctx())


def test_ids() -> None:
    assert parse.meeting_number("M12 rest", ctx()) == (12, "rest")
    assert parse.meeting_number("m3", ctx()) == (3, "")
    with pytest.raises(ParseError):
        parse.meeting_number("12", ctx())
    assert parse.user_id("@chair:localhost x", ctx()) == ("@chair:localhost", "x")
    with pytest.raises(ParseError):
        parse.user_id("chair", ctx())


def test_partner_names_with_spaces_and_trailing_keyword() -> None:
    assert parse.partner_name("Gemeente Gennep core", ctx()) == ("Gemeente Gennep", "core")
    assert parse.partner_name("Gemeente Gennep", ctx()) == ("Gemeente Gennep", "")
    assert parse.partner_name_before_role("Politie coordinator", ctx()) == ("Politie",
                                                                            "coordinator")


@given(st.text(max_size=80))
def test_parsers_only_raise_their_own_errors(text: str) -> None:
    c = ctx()
    for parser in (parse.day, parse.when, parse.clock_time, parse.duration, parse.place,
                   parse.meeting_number, parse.case_code, parse.user_id, parse.partner_name,
                   parse.partner_name_before_role, parse.role, parse.partner_kind,
                   parse.reference, parse.name):
        with contextlib.suppress(ParseError, Absent):
            parser(text, c)
