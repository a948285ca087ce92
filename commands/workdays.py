"""Working days: the overleg's weekdays minus its public holidays (the `holidays` package)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from storage.models import Overleg


@lru_cache(maxsize=32)
def _calendar(calendar: str, year: int) -> Any:
    """The country's (or subdivision's) holidays of ``year``; the package loads on first use."""
    return _holidays_package().country_holidays(calendar, years=year)


def _holidays_package() -> Any:
    """The ``holidays`` package, loading only the countries asked for.

    ``holidays`` finds a country's module lazily, but importing any module of its
    ``holidays.countries`` package runs that package's ``__init__``, which imports all 250
    countries: ~7 MB of memory for calendars an overleg never uses (measured). The package
    is registered here as a plain namespace of its folder, so ``country_holidays("NL")``
    imports the Netherlands' module alone (a test checks the dates are the same).
    """
    if "holidays" not in sys.modules and "holidays.countries" not in sys.modules:
        spec = importlib.util.find_spec("holidays")  # finds it without importing it
        if spec is not None and spec.origin is not None:
            countries = types.ModuleType("holidays.countries")
            countries.__path__ = [str(Path(spec.origin).parent / "countries")]
            sys.modules["holidays.countries"] = countries
    return importlib.import_module("holidays")


@lru_cache(maxsize=32)
def _holidays(calendar: str, year: int) -> frozenset[date]:
    if not calendar:
        return frozenset()
    return frozenset(_calendar(calendar, year).keys())


def is_working_day(overleg: Overleg, day: date) -> bool:
    return _is_working_day(overleg.working_days, overleg.holiday_calendar, day)


@lru_cache(maxsize=8192)
def _is_working_day(working_days: str, calendar: str, day: date) -> bool:
    return str(day.isoweekday()) in working_days and day not in _holidays(calendar, day.year)


def next_working_day(overleg: Overleg, day: date) -> date:
    """The first working day strictly after ``day``."""
    d = day + timedelta(days=1)
    for _ in range(400):
        if is_working_day(overleg, d):
            return d
        d += timedelta(days=1)
    raise ValueError("no working day within a year; check the overleg's working days")


def working_days_before(overleg: Overleg, day: date, n: int) -> date:
    """The working day ``n`` working days before ``day`` (``day`` itself need not be one)."""
    d = day
    counted = 0
    for _ in range(400):
        if counted == n:
            return d
        d -= timedelta(days=1)
        if is_working_day(overleg, d):
            counted += 1
    raise ValueError("no working day within a year; check the overleg's working days")


def working_days_between(overleg: Overleg, after: date, until: date) -> int:
    """How many working days lie in (after, until]."""
    return _working_days_between(overleg.working_days, overleg.holiday_calendar, after, until)


@lru_cache(maxsize=8192)
def _working_days_between(working_days: str, calendar: str, after: date, until: date) -> int:
    count, d = 0, after
    while d < until:
        d += timedelta(days=1)
        if _is_working_day(working_days, calendar, d):
            count += 1
    return count


def at_local(overleg: Overleg, day: date, hour: int, minute: int = 0) -> datetime:
    """``day`` at a wall-clock time in the overleg's zone, as an aware datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(overleg.timezone))


def local_today(overleg: Overleg, now: datetime) -> date:
    return now.astimezone(ZoneInfo(overleg.timezone)).date()
