"""``!settings``: the overleg's own settings (timing of agendas and reminders, language...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from commands import action, agenda
from commands.auditing import audit_change
from commands.parse import WEEKDAYS
from commands.registry import Ctx, Outgoing, ParseError, arg, command
from storage import actions, meetings, overlegs
from storage.models import Overleg


def _days(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
            raise ParseError("settings/bad_value", low=low, high=high)
        return int(value)
    return parse


def _flag(value: str) -> bool:
    v = value.casefold()
    if v in ("on", "aan", "ja", "yes", "true"):
        return True
    if v in ("off", "uit", "nee", "no", "false"):
        return False
    raise ParseError("settings/bad_flag")


def _workdays(value: str) -> str:
    """Working days as digits (1 = Monday): "ma di wo do vr", "mon tue", a range "ma-vr" or
    "mon-sat", or the digits themselves ("12345")."""
    day = {w: str(n % 7 + 1) for n, w in ((v, k) for k, v in WEEKDAYS.items())}
    parts: set[str] = set()
    for part in value.casefold().replace(",", " ").split():
        first, dash, last = part.partition("-")
        if dash and first in day and last in day and day[first] <= day[last]:
            parts.update(str(d) for d in range(int(day[first]), int(day[last]) + 1))
        else:
            parts.update(day.get(part, part))
    days = "".join(sorted(parts))
    if not days or any(c not in "1234567" for c in days):
        raise ParseError("settings/bad_workdays")
    return days


def _holidays(value: str) -> str:
    v = value.upper()
    if v in ("NL",):
        return v
    if v in ("NONE", "GEEN"):
        return ""
    raise ParseError("settings/bad_holidays")


def _locale(value: str) -> str:
    if value.casefold() not in ("nl", "en"):
        raise ParseError("settings/bad_locale")
    return value.casefold()


def _timezone(value: str) -> str:
    """An IANA time zone, in any case ("europe/amsterdam" is Europe/Amsterdam)."""
    known = {z.casefold(): z for z in available_timezones()}
    value = known.get(value.casefold(), value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParseError("settings/bad_timezone") from None
    return value


# name (and Dutch alias) -> (attribute, parser)
SETTINGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "agenda": ("agenda_days_before", _days(1, 30)),
    "nudge": ("nudge_days_before", _days(0, 30)),
    "herinnering": ("nudge_days_before", _days(0, 30)),
    "due-soon": ("due_soon_days", _days(0, 20)),
    "vooraf": ("due_soon_days", _days(0, 20)),
    "escalate": ("escalate_after_days", _days(1, 60)),
    "escalatie": ("escalate_after_days", _days(1, 60)),
    "dm": ("remind_by_dm", _flag),
    "workdays": ("working_days", _workdays),
    "werkdagen": ("working_days", _workdays),
    "holidays": ("holiday_calendar", _holidays),
    "feestdagen": ("holiday_calendar", _holidays),
    "monitor": ("monitor_weeks", _days(1, 52)),
    "monitoring": ("monitor_weeks", _days(1, 52)),
    "retention": ("retention_years", _days(1, 30)),
    "bewaartermijn": ("retention_years", _days(1, 30)),
    "language": ("locale", _locale),
    "taal": ("locale", _locale),
    "timezone": ("timezone", _timezone),
    "tijdzone": ("timezone", _timezone),
    "confidentiality": ("ask_confidentiality", _flag),
    "geheimhouding": ("ask_confidentiality", _flag),
}


NAMES = {
    "nl": ("agenda", "herinnering", "vooraf", "escalatie", "dm", "werkdagen", "feestdagen",
           "monitoring", "bewaartermijn", "taal", "tijdzone", "geheimhouding"),
    "en": ("agenda", "nudge", "due-soon", "escalate", "dm", "workdays", "holidays", "monitor",
           "retention", "language", "timezone", "confidentiality"),
}
"""The settings' names shown in each language (both are accepted: ``SETTINGS``)."""


EXAMPLES: dict[str, dict[str, str]] = {
    "agenda_days_before": {"nl": "5", "en": "5"},
    "nudge_days_before": {"nl": "2", "en": "2"},
    "due_soon_days": {"nl": "2", "en": "2"},
    "escalate_after_days": {"nl": "5", "en": "5"},
    "remind_by_dm": {"nl": "aan", "en": "on"},
    "working_days": {"nl": "ma-vr", "en": "mon-fri"},
    "holiday_calendar": {"nl": "NL", "en": "NL"},
    "monitor_weeks": {"nl": "12", "en": "12"},
    "retention_years": {"nl": "5", "en": "5"},
    "locale": {"nl": "en", "en": "nl"},
    "timezone": {"nl": "Europe/Amsterdam", "en": "Europe/Amsterdam"},
    "ask_confidentiality": {"nl": "aan", "en": "on"},
}
"""A valid value of each setting (by attribute), shown in refusals as ``<name> <value>``."""


def _shown(name: str, ctx: Ctx) -> dict[str, str]:
    """The setting's name in the overleg's language and a valid example of its value."""
    attribute = SETTINGS[name][0]
    locale = ctx.locale if ctx.locale in NAMES else "nl"
    shown = next(n for n in NAMES[locale] if SETTINGS[n][0] == attribute)
    return {"setting": shown, "example": f"{shown} {EXAMPLES[attribute][locale]}"}


def _change(text: str, ctx: Ctx) -> tuple[tuple[str, str], str]:
    parts = text.split(maxsplit=1)
    if not parts or parts[0].casefold() not in SETTINGS:
        raise ParseError("settings/unknown", names=list(NAMES.get(ctx.locale, NAMES["nl"])),
                         named=bool(parts))
    if len(parts) == 1:
        raise ParseError("settings/missing_value", **_shown(parts[0].casefold(), ctx))
    return (parts[0].casefold(), parts[1]), ""


def view(overleg: Overleg) -> dict[str, Any]:
    return {k: getattr(overleg, k) for k in (
        "agenda_days_before", "nudge_days_before", "due_soon_days", "escalate_after_days",
        "remind_by_dm", "working_days", "holiday_calendar", "monitor_weeks", "retention_years",
        "locale", "timezone", "ask_confidentiality")}


@command("settings", nl="instellingen", aliases=("meeting settings", "overleg instellingen"))
@arg("change", _change, required=False, metavar="setting")
def settings(ctx: Ctx, *, change: tuple[str, str] | None) -> list[Outgoing]:
    """Show the overleg's settings, or change one (``!settings agenda 5``)."""
    if change is None:
        assert ctx.overleg is not None
        return [ctx.reply("settings/show", s=view(ctx.overleg))]
    name, raw = change
    attribute, parse = SETTINGS[name]
    try:
        value = parse(raw)
    except ParseError as e:  # named with the setting, and a value that would do
        raise ParseError(e.template, **e.values, **_shown(name, ctx)) from None
    overleg = ctx.overleg
    assert overleg is not None
    old = getattr(overleg, attribute)
    setattr(overleg, attribute, value)
    overlegs.save(ctx.session, overleg)
    ctx = replace(ctx, overleg=overleg)  # the reply in the new language and time zone
    # Plans made with the old values are made again.
    for m in meetings.upcoming(ctx.session, ctx.overleg_id, ctx.now):
        agenda.schedule_meeting(ctx.session, overleg, m, ctx.now)
    for a in actions.of_overleg(ctx.session, ctx.overleg_id, status="open"):
        action.schedule_action(ctx.session, overleg, a, ctx.now)
    audit_change(ctx, action="overleg.settings", subject=f"{attribute} {old}->{value}")
    return [Outgoing("settings/changed", {"s": view(overleg), "attribute": attribute},
                     room=ctx.room, locale=overleg.locale, timezone=overleg.timezone)]
