"""Dates as people type them (issue 23): an error names the argument that was wrong, never
another; a date word later in a description is never the due date; the forms people expect
("volgende dinsdag", "over twee weken", "next tuesday") are read. NOW is Tuesday 1 Dec 2026."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from storage.models import Action, Meeting
from tests.unit.conftest import Say


@pytest.fixture
def case(overleg: Say) -> str:
    return str(overleg.out("!casus openen").values["case"])


def _dues(session: Session) -> list[date]:
    return [a.due for a in session.exec(select(Action).order_by(Action.id))]


@pytest.mark.parametrize("typed", [
    "Politie 31-11 Terugkoppeling",
    "Politie 31-11 Terugkoppeling in overleg van dinsdag",  # not dinsdag as the due date
    "Politie vrijdg Terugkoppeling",
    "Politie 2026-02-30 Terugkoppeling",
    "Politie 31-13-2026 Terugkoppeling",
])
def test_a_wrong_due_date_is_named_as_the_due_date(overleg: Say, session: Session, case: str,
                                                   typed: str) -> None:
    out = overleg.out(f"!actie toevoegen {case} {typed}")
    assert (out.template, out.values["metavar"]) == ("error/bad_date", "due")
    assert out.values["usage"]["key"] == "action add"
    assert _dues(session) == []


def test_a_date_word_in_the_description_is_never_the_due_date(overleg: Say, session: Session,
                                                              case: str) -> None:
    out = overleg.out(f"!actie toevoegen {case} Politie 15-12-2026 Terugkoppeling in overleg "
                      "van dinsdag")
    assert out.template == "action/added"
    assert _dues(session) == [date(2026, 12, 15)]
    [action] = session.exec(select(Action))
    assert action.description == "Terugkoppeling in overleg van dinsdag"
    missing = overleg.out(f"!actie toevoegen {case} Politie Terugkoppeling")
    assert (missing.template, missing.values["metavar"]) == ("error/missing_arg", "due")


def test_every_command_with_a_date_names_it_when_wrong(overleg: Say, session: Session,
                                                      case: str) -> None:
    overleg.one(f"!actie toevoegen {case} Politie 15-12-2026 Huisbezoek")
    moved = overleg.out("!actie verplaatsen A1 31-11")
    assert (moved.template, moved.values["metavar"]) == ("error/bad_date", "due")
    planned = overleg.out("!overleg plannen 31-11 14:00")
    assert (planned.template, planned.values["metavar"]) == ("error/bad_date", "when")
    weighed = overleg.out(f"!weging {case} meer-informatie 31-11")
    assert (weighed.template, weighed.values["metavar"]) == ("error/bad_date", "date")
    assert _dues(session) == [date(2026, 12, 15)]
    assert list(session.exec(select(Meeting))) == []


@pytest.mark.parametrize(("typed", "due"), [
    ("volgende dinsdag", date(2026, 12, 8)),
    ("volgende vrijdag", date(2026, 12, 4)),
    ("volgende week dinsdag", date(2026, 12, 8)),
    ("volgende week vrijdag", date(2026, 12, 11)),
    ("over twee weken", date(2026, 12, 15)),
    ("over 3 dagen", date(2026, 12, 4)),
    ("over een maand", date(2027, 1, 1)),
    ("next tuesday", date(2026, 12, 8)),
    ("next week friday", date(2026, 12, 11)),
    ("in two weeks", date(2026, 12, 15)),
    ("dinsdag 15 dec", date(2026, 12, 15)),  # a weekday before its date, as often written
    ("di 15-12", date(2026, 12, 15)),
    ("vrijdag, 18-12-2026", date(2026, 12, 18)),
    ("tuesday 2026-12-15", date(2026, 12, 15)),
])
def test_dates_said_in_words(overleg: Say, session: Session, case: str, typed: str,
                             due: date) -> None:
    assert overleg.key(f"!actie toevoegen {case} Politie {typed} Huisbezoek") == "action/added"
    assert _dues(session) == [due]
    [action] = session.exec(select(Action))
    assert action.description == "Huisbezoek"


def test_a_meeting_planned_for_next_week(overleg: Say, session: Session) -> None:
    assert overleg.key("!overleg plannen volgende week dinsdag 14:00") == "meeting/planned"
    [meeting] = session.exec(select(Meeting))
    assert meeting.starts_at.date() == date(2026, 12, 8)


def test_a_case_id_without_its_prefix(overleg: Say, case: str) -> None:
    while case.startswith("C-C"):  # "CC…" typed bare reads as "C" + a shorter code first
        case = str(overleg.out("!casus openen").values["case"])
    bare = case.removeprefix("C-")
    shown = overleg.out(f"!casus toon {bare}")
    assert (shown.template, shown.values["case"]) == ("case/show", case)
    assert overleg.out(f"!casus toon C{bare}").template == "case/show"
    assert overleg.key(f"!actie toevoegen {bare.lower()} Politie morgen Bellen") == "action/added"


@pytest.mark.parametrize("line", ["!help actie", "!hulp actie", "!hulp action", "!help lid",
                                  "!hulp actie toevoegen", "!hulp !actie"])
def test_help_on_a_noun_in_either_language(overleg: Say, line: str) -> None:
    out = overleg.out(line)
    assert out.template == "help/command"
    nouns = {u["key"].split()[0] for u in out.values["usages"]}
    assert nouns == ({"member"} if "lid" in line else {"action"})


@pytest.mark.parametrize(("line", "typed", "key"), [
    ("!actie verplaatsen A1 31-11", "31-11", "error/bad_date"),
    ("!overleg plannen 8-12-2026 25:61", "25:61", "error/bad_time"),
    ("!overleg plannen 8-12-2026 14:00 900m", "900m", "error/bad_duration"),
    ("!overleg plannen 8-12-2026 14:00 75", "75", "error/bad_duration"),  # without its unit
    ("!casus toon QQQQQ7", "QQQQQ7", "error/bad_case_id"),
    ("!actie klaar AX12", "AX12", "error/bad_action_id"),
    ("!overleg annuleren MX9", "MX9", "error/bad_meeting_id"),
])
def test_a_wrong_value_is_named_never_repeated(overleg: Say, line: str, typed: str,
                                               key: str) -> None:
    reply = overleg.reply(line)
    assert reply.template == key
    assert typed not in reply.body and typed.lower() not in reply.body.lower()


def test_a_case_id_typed_without_its_prefix_is_no_postcode(
        overleg: Say, monkeypatch: pytest.MonkeyPatch) -> None:
    """A case's code may read like a postcode ("5823AK"); typed bare in a command that is
    not carried out (read-only), it is still our own ID, not personal data."""
    monkeypatch.setattr("commands.caseid.new_code", lambda length=6: "5823AK")
    assert overleg.out("!casus openen").values["case"] == "C-5823AK"
    assert overleg.keys("!casus toon 5823AK") == ["case/show"]
    assert overleg.keys("!casus toon 5823ak") == ["case/show"]
    # a postcode that is no case of this overleg is still refused as one
    assert overleg.keys("!casus toon 1234AY")[0] == "error/pii"


def test_a_weekday_that_is_not_the_dates_own_is_named(overleg: Say, session: Session,
                                                       case: str) -> None:
    refused = overleg.out(f"!actie toevoegen {case} Politie maandag 15 dec Huisbezoek")
    assert refused.template == "error/weekday_mismatch"
    assert (refused.values["day"], refused.values["weekday"]) == (date(2026, 12, 15), 0)
    assert _dues(session) == []


def test_a_date_without_a_year_that_has_just_passed_is_named(overleg: Say, session: Session,
                                                             case: str) -> None:
    """On 1 December 2026, "30-11" is last week, not November 2027 (an action due in a
    year would never be late): refused by name, with the year to add (issue 23)."""
    for line, metavar in ((f"!actie toevoegen {case} Politie 30-11 Terugkoppeling", "due"),
                          ("!overleg plannen 30-11 14:00", "when")):
        refused = overleg.out(line)
        assert refused.template == "error/date_past", line
        assert refused.values["day"] == date(2026, 11, 30)
        assert refused.values.get("metavar", metavar) == metavar
    assert _dues(session) == [] and list(session.exec(select(Meeting))) == []
    assert overleg.key("!overleg plannen 15-1 14:00") == "meeting/planned"  # ahead: next year
    [meeting] = session.exec(select(Meeting))
    assert meeting.starts_at.date() == date(2027, 1, 15)
