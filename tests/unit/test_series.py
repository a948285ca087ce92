"""Meeting series (issue 24): cadences in both languages, days off listed before anything is
planned, each occurrence an ordinary meeting (its own M-ID, timers, move and cancel), the
wall clock kept across DST, stopping from a date, and the series' .ics as calendar clients
expand it (icalendar and recurring-ical-events)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from sqlmodel import Session, col, select

from bot.render import Renderer
from commands import series
from commands.inbound import Inbound, handle
from commands.registry import Registry
from storage import overlegs
from storage.db import make_engine, migrate, session_scope
from storage.models import AuditEntry, Meeting, MeetingSeries, Timer
from tests.unit.conftest import CHAIR, NOW, ROOM, SETTINGS, Say
from tests.unit.test_actions import run_until

AMS = ZoneInfo("Europe/Amsterdam")
POL = "@politie1:localhost"
YEAR = ("!overleg reeks elke 2e dinsdag 14:00 90m op Veiligheidshuis "
        "vanaf 12-1-2027 tot 21-12-2027")
FRIDAYS = "!overleg reeks elke week op vrijdag 10:00 vanaf 18-12-2026 tot 8-1-2027"


def planned(session: Session) -> list[Meeting]:
    return list(session.exec(select(Meeting).where(Meeting.status == "planned")
                             .order_by(col(Meeting.starts_at))))


def local(m: Meeting) -> datetime:
    return m.starts_at.astimezone(AMS).replace(tzinfo=None)


def ics_of(say: Say, line: str) -> icalendar.Calendar:
    """The calendar file among the replies to ``line``."""
    [ics] = [r for r in say(line) if r.template == "series/ics"]
    assert ics.attachment_name is not None and ics.attachment_name.endswith(".ics")
    return icalendar.Calendar.from_ical(ics.attachment)


# ---- the cadence ----------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "rule"), [
    ("elke 2e dinsdag", "FREQ=MONTHLY;BYDAY=+2TU"),
    ("elke tweede dinsdag van de maand", "FREQ=MONTHLY;BYDAY=+2TU"),
    ("every 2nd tuesday", "FREQ=MONTHLY;BYDAY=+2TU"),
    ("laatste donderdag van de maand", "FREQ=MONTHLY;BYDAY=-1TH"),
    ("last thursday of the month", "FREQ=MONTHLY;BYDAY=-1TH"),
    ("elke dinsdag", "FREQ=WEEKLY;BYDAY=TU"),
    ("elke week op woensdag", "FREQ=WEEKLY;BYDAY=WE"),
    ("every week on wednesday", "FREQ=WEEKLY;BYDAY=WE"),
    ("elke 2 weken op maandag", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
    ("every two weeks", "FREQ=WEEKLY;INTERVAL=2"),
    ("elke maand op de 15e", "FREQ=MONTHLY;BYMONTHDAY=15"),
    ("every month on the 15th", "FREQ=MONTHLY;BYMONTHDAY=15"),
    ("elke 3 maanden op de 1e maandag", "FREQ=MONTHLY;INTERVAL=3;BYDAY=+1MO"),
])
def test_the_forms_of_a_cadence_are_rfc5545_rules(typed: str, rule: str) -> None:
    rec, rest = series.recurrence(f"{typed} 14:00", None)  # type: ignore[arg-type]
    assert (rec.rule(), rest) == (rule, "14:00")
    assert series.Recurrence.of(rec.rule()) == rec


def test_what_the_cadence_leaves_open_is_taken_from_the_first_day(overleg: Say,
                                                                  session: Session) -> None:
    assert overleg.keys("!overleg reeks elke 2 weken 14:00 vanaf 13-1-2027 tot 10-3-2027") == [
        "series/planned", "series/ics"]
    days = [local(m).date() for m in planned(session)]
    assert days == [date(2027, 1, 13), date(2027, 1, 27), date(2027, 2, 10), date(2027, 2, 24),
                    date(2027, 3, 10)]  # Wednesdays, every other week
    [s] = session.exec(select(MeetingSeries))
    assert s.rule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE"


# ---- planning -------------------------------------------------------------------------------
def test_a_year_of_second_tuesdays_is_twelve_meetings_at_14_00_across_dst(
        overleg: Say, session: Session) -> None:
    assert overleg.keys(YEAR) == ["series/planned", "series/ics"]
    rows = planned(session)
    assert [r.number for r in rows] == list(range(1, 13))
    assert [local(r).date() for r in rows] == [
        date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9), date(2027, 4, 13),
        date(2027, 5, 11), date(2027, 6, 8), date(2027, 7, 13), date(2027, 8, 10),
        date(2027, 9, 14), date(2027, 10, 12), date(2027, 11, 9), date(2027, 12, 14)]
    assert {local(r).time() for r in rows} == {time(14, 0)}  # the wall clock, all year
    assert {r.starts_at.hour for r in rows} == {12, 13}  # UTC: summer and winter time
    assert {(r.minutes, r.place, r.kind) for r in rows} == {(90, "Veiligheidshuis",
                                                             "casusoverleg")}
    [s] = session.exec(select(MeetingSeries))
    assert (s.number, s.rule, s.first_day, s.last_day) == (
        1, "FREQ=MONTHLY;BYDAY=+2TU", date(2027, 1, 12), date(2027, 12, 21))
    assert all(r.series_id == s.id and r.series_start == r.starts_at for r in rows)
    # Each occurrence has its agenda and nudge planned, as !overleg plannen plans them.
    kinds = {(t.subject_id, t.kind) for t in session.exec(
        select(Timer).where(col(Timer.kind).in_(("meeting.agenda", "meeting.nudge"))))}
    assert kinds == {(r.id, k) for r in rows for k in ("meeting.agenda", "meeting.nudge")}
    [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "series.plan"))
    assert entry.subject == "S1 M1-M12"


def test_english_words_plan_the_same_series(overleg: Say, session: Session) -> None:
    assert overleg.keys("!meeting series every 2nd tuesday 14:00 90m at Veiligheidshuis "
                        "from 12-1-2027 until 21-12-2027") == ["series/planned", "series/ics"]
    assert len(planned(session)) == 12


def test_days_off_are_listed_and_nothing_is_planned_until_the_chair_chooses(
        overleg: Say, session: Session) -> None:
    out = overleg.sent_after(FRIDAYS)
    assert [o.template for o in out] == ["series/days_off"]
    days = out[0].values["days"]
    # Christmas and New Year's Day are Fridays: the next working days are Mondays.
    assert [(d.at.astimezone(AMS).date(), d.reason, d.to.astimezone(AMS).date())
            for d in days] == [(date(2026, 12, 25), "holiday", date(2026, 12, 28)),
                               (date(2027, 1, 1), "holiday", date(2027, 1, 4))]
    assert list(session.exec(select(Meeting))) == []
    assert list(session.exec(select(MeetingSeries))) == []


def test_the_listed_command_edited_with_the_choice_is_carried_out(overleg: Say,
                                                                 session: Session) -> None:
    """Nothing was planned, so an edit adding "feestdagen verschuiven" is carried out."""
    def said(event_id: str, text: str, replaces: str | None = None) -> list[str]:
        msg = Inbound(event_id, ROOM, CHAIR, text, NOW, encrypted=True, replaces=replaces)
        return [r.template for r in handle(session, overleg.registry, overleg.renderer,
                                           SETTINGS, msg, NOW).replies]

    assert said("$series", FRIDAYS) == ["series/days_off"]
    assert said("$fix", FRIDAYS + " feestdagen verschuiven", replaces="$series") == [
        "series/planned", "series/ics"]
    assert len(planned(session)) == 4


def test_holidays_shift_plans_them_on_the_next_working_day(overleg: Say,
                                                           session: Session) -> None:
    assert overleg.keys(FRIDAYS + " feestdagen verschuiven") == ["series/planned",
                                                                 "series/ics"]
    rows = planned(session)
    assert [local(r) for r in rows] == [
        datetime(2026, 12, 18, 10), datetime(2026, 12, 28, 10), datetime(2027, 1, 4, 10),
        datetime(2027, 1, 8, 10)]
    assert [r.series_start.astimezone(AMS).date() for r in rows if r.series_start] == [
        date(2026, 12, 18), date(2026, 12, 25), date(2027, 1, 1), date(2027, 1, 8)]
    [s] = session.exec(select(MeetingSeries))
    assert s.holidays == "shift"


def test_holidays_skip_leaves_them_out(overleg: Say, session: Session) -> None:
    assert overleg.keys(FRIDAYS.replace("!overleg reeks", "!meeting series") +
                        " holidays skip") == ["series/planned", "series/ics"]
    assert [local(r).date() for r in planned(session)] == [date(2026, 12, 18),
                                                           date(2027, 1, 8)]


def test_the_overlegs_own_days_off_count_and_a_shift_never_passes_the_next_meeting(
        overleg: Say, session: Session) -> None:
    o = overlegs.by_room(session, ROOM)
    assert o is not None
    o.working_days = "1234"  # no meetings on Fridays
    session.add(o)
    session.flush()
    out = overleg.sent_after("!overleg reeks elke vrijdag 10:00 vanaf 8-1-2027 tot 15-1-2027")
    assert [(d.at.astimezone(AMS).date(), d.reason, d.to.astimezone(AMS).date())
            for d in out[0].values["days"]] == [
        (date(2027, 1, 8), "day_off", date(2027, 1, 11)),
        (date(2027, 1, 15), "day_off", date(2027, 1, 18))]
    # Every Monday and Tuesday: a Monday holiday (Easter Monday 29 March 2027) cannot move to
    # Tuesday, which has a meeting of its own: it is skipped, not doubled.
    out = overleg.sent_after("!overleg reeks elke maandag 10:00 vanaf 29-3-2027 tot 29-3-2027")
    assert out[0].values["days"][0].to.astimezone(AMS).date() == date(2027, 3, 30)
    week = [datetime(2027, 3, 29, 10), datetime(2027, 3, 30, 10)]
    [off] = series.days_off_of(o, week, AMS).values()
    assert (off.reason, off.to) == ("holiday", None)


def test_each_occurrence_moves_and_cancels_on_its_own(overleg: Say, session: Session) -> None:
    overleg(YEAR)
    assert overleg.key("!overleg verplaatsen M3 10-3-2027 15:00") == "meeting/moved"
    assert overleg.key("!overleg annuleren M4") == "meeting/cancelled"
    rows = {m.number: m for m in session.exec(select(Meeting))}
    assert local(rows[3]) == datetime(2027, 3, 10, 15)
    assert rows[3].series_start is not None
    assert rows[3].series_start.astimezone(AMS).date() == date(2027, 3, 9)
    assert rows[4].status == "cancelled" and rows[5].status == "planned"


def test_the_agenda_of_an_occurrence_goes_out_as_for_a_single_meeting(
        overleg: Say, session: Session, renderer: Renderer) -> None:
    overleg(f"!lid add {POL} Politie")
    overleg("!overleg reeks elke 2e dinsdag 14:00 vanaf 1-1-2027 tot 28-2-2027")
    code = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    assert overleg.key(f"!agenda add M2 {code}") == "agenda/added"
    sent = run_until(session, renderer, NOW, datetime(2027, 2, 10, tzinfo=UTC))
    agendas = [(t, r) for t, r in sent if r.room_id == ROOM and r.template == "agenda/agenda"]
    nudges = [t for t, r in sent if r.template == "agenda/nudge"]
    [(t_agenda, row)] = agendas  # M1's agenda is empty: only M2's goes out
    assert "M2" in row.body
    assert t_agenda.astimezone(AMS) == datetime(2027, 2, 4, 9, 0, tzinfo=AMS)  # 5 days before
    assert [t.astimezone(AMS).date() for t in nudges] == [date(2027, 1, 10), date(2027, 2, 7)]


# ---- stopping -------------------------------------------------------------------------------
def test_stop_from_a_date_cancels_later_meetings_and_leaves_earlier_ones(
        overleg: Say, session: Session) -> None:
    overleg(YEAR)
    replies = overleg.keys("!overleg reeks stop S1 vanaf 1-6-2027")
    assert replies[0] == "series/stopped" and replies[-1] == "series/ics"
    rows = {m.number: m for m in session.exec(select(Meeting))}
    assert [n for n, m in rows.items() if m.status == "planned"] == [1, 2, 3, 4, 5]
    assert [n for n, m in rows.items() if m.status == "cancelled"] == list(range(6, 13))
    pending = {t.subject_id for t in session.exec(select(Timer).where(
        col(Timer.kind).in_(("meeting.agenda", "meeting.nudge")), col(Timer.handled_at).is_(None)))}
    assert pending == {rows[n].id for n in range(1, 6)}
    [s] = session.exec(select(MeetingSeries))
    assert s.last_day == date(2027, 5, 31)
    actions = [e.action for e in session.exec(select(AuditEntry))]
    assert actions.count("meeting.cancel") == 7 and "series.stop" in actions


def test_the_english_stop_and_show(overleg: Say, session: Session) -> None:
    overleg(YEAR)
    assert overleg.keys("!meeting series stop S1 from 1-12-2027")[0] == "series/stopped"
    shown = overleg.sent_after("!meeting series show S1")
    assert [o.template for o in shown] == ["series/show", "series/ics"]
    assert [(m["number"], m["status"]) for m in shown[0].values["meetings"]][-2:] == [
        (11, "planned"), (12, "cancelled")]


def test_change_from_a_date_ends_the_series_there_and_goes_on_as_a_new_one(
        overleg: Say, session: Session) -> None:
    overleg(YEAR)
    replies = overleg.keys("!overleg reeks wijzig S1 vanaf 1-6-2027 elke 2e donderdag 15:00")
    assert replies == ["series/changed", "series/planned", "series/ics", "series/ics"]
    old, new = session.exec(select(MeetingSeries).order_by(col(MeetingSeries.number))).all()
    assert old.last_day == date(2027, 5, 31)
    assert (new.number, new.rule, new.hour, new.minutes, new.place, new.first_day,
            new.last_day) == (2, "FREQ=MONTHLY;BYDAY=+2TH", 15, 90, "Veiligheidshuis",
                              date(2027, 6, 10), date(2027, 12, 21))
    rows = planned(session)
    assert [(r.number, r.series_id) for r in rows[:5]] == [(n, old.id) for n in range(1, 6)]
    assert [local(r) for r in rows[5:]] == [datetime(2027, m, d, 15) for m, d in (
        (6, 10), (7, 8), (8, 12), (9, 9), (10, 14), (11, 11), (12, 9))]
    assert {r.series_id for r in rows[5:]} == {new.id}
    assert [r.number for r in rows[5:]] == list(range(13, 20))
    cancelled = session.exec(select(Meeting).where(Meeting.status == "cancelled")).all()
    assert sorted(m.number for m in cancelled) == list(range(6, 13))


def test_change_of_the_time_alone_keeps_the_cadence(overleg: Say, session: Session) -> None:
    overleg(YEAR)
    assert overleg.keys("!meeting series change S1 from 1-6-2027 15:00")[0] == "series/changed"
    new = session.exec(select(MeetingSeries).where(MeetingSeries.number == 2)).one()
    assert (new.rule, new.hour, new.minute) == ("FREQ=MONTHLY;BYDAY=+2TU", 15, 0)
    assert local(planned(session)[5]) == datetime(2027, 6, 8, 15)


def test_a_change_that_changes_nothing_or_meets_a_holiday_changes_nothing(
        overleg: Say, session: Session) -> None:
    overleg(YEAR)
    assert overleg.key("!overleg reeks wijzig S1 vanaf 1-6-2027") == "series/no_change"
    # Every Thursday from May: Ascension Day (6 May 2027) is listed, nothing is changed.
    assert overleg.keys("!overleg reeks wijzig S1 vanaf 1-5-2027 elke donderdag") == [
        "series/days_off"]
    assert len(planned(session)) == 12
    assert len(session.exec(select(MeetingSeries)).all()) == 1


# ---- refusals name the argument -------------------------------------------------------------
@pytest.mark.parametrize(("line", "template", "metavar"), [
    ("!overleg reeks elke blauwe maan 14:00", "series/bad_rule", "recurrence"),
    ("!overleg reeks elke maand op de 31e 14:00", "series/bad_monthday", "recurrence"),
    ("!overleg reeks elke dinsdag 25:00", "error/bad_time", "time"),
    ("!overleg reeks elke dinsdag 14:00 vanaf 1-1-2026", "series/from_past", "from"),
    ("!overleg reeks elke dinsdag 14:00 vanaf 1-3-2027 tot 1-2-2027",
     "series/until_before_from", "until"),
    ("!overleg reeks elke dinsdag 14:00 vanaf 1-3-2027 tot 1-3-2030", "series/too_long",
     "until"),
    ("!overleg reeks elke dinsdag 14:00 vanaf 31-2-2027", "error/bad_date", "from"),
    ("!overleg reeks elke 2e dinsdag 14:00 vanaf 1-1-9999", "series/too_far", "from"),
    ("!overleg reeks elke 2e dinsdag 14:00 vanaf 1-1-2027 feestdagen overslaan "
     "feestdagen verschuiven", "series/doubled", "holidays"),
    ("!overleg reeks elke 2e dinsdag 14:00 tot 1-6-2027 vanaf 1-1-2027 tot 1-5-2027",
     "series/doubled", "until"),
    ("!overleg reeks elke 2e dinsdag 14:00 vanaf 1-1-2027 tot 1-6-2027 vanaf 1-2-2027",
     "series/doubled", "from"),
    ("!overleg reeks elke 2e dinsdag 14:00 vanaf 1-1-2035", "series/too_far", "from"),
    ("!overleg reeks elke dinsdag 14:00 feestdagen misschien", "error/bad_choice", "holidays"),
    ("!overleg reeks stop X1 vanaf 1-6-2027", "series/bad_id", "series"),
])
def test_a_wrong_argument_is_named_with_an_example(overleg: Say, session: Session, line: str,
                                                   template: str, metavar: str) -> None:
    out = overleg.out(line)
    assert (out.template, out.values.get("metavar")) == (template, metavar)
    assert out.values["usage"]["key"] in ("meeting series", "meeting series stop")
    assert list(session.exec(select(Meeting))) == []


def test_stop_refusals(overleg: Say) -> None:
    overleg(YEAR)
    assert overleg.key("!overleg reeks stop S2 vanaf 1-6-2027") == "series/unknown"
    assert overleg.key("!overleg reeks stop S1 vanaf 1-6-2028") == "series/after_end"
    assert overleg.key("!overleg reeks stop S1 vanaf 1-6-2026") == "series/from_past"


def test_only_the_chair_plans_a_series(overleg: Say, session: Session) -> None:
    overleg(f"!lid add {POL} Politie")
    assert overleg.key(YEAR, sender=POL) == "error/chair_only"
    assert list(session.exec(select(MeetingSeries))) == []


def test_help_shows_the_series_commands(overleg: Say) -> None:
    out = overleg.out("!hulp overleg reeks stop")
    assert [u["key"] for u in out.values["usages"]] == ["meeting series stop"]
    out = overleg.out("!help meeting series")
    assert [u["key"] for u in out.values["usages"]] == ["meeting series"]


# ---- the calendar file ----------------------------------------------------------------------
def test_the_ics_is_one_rule_with_exdates_and_overrides_as_clients_expand_it(
        overleg: Say, session: Session) -> None:
    overleg(FRIDAYS + " feestdagen verschuiven")  # M1 18 Dec, M2 28 Dec, M3 4 Jan, M4 8 Jan
    overleg("!overleg annuleren M4")
    cal = ics_of(overleg, "!overleg reeks toon S1")
    masters = [e for e in cal.walk("VEVENT") if "RRULE" in e]
    assert len(masters) == 1
    [master] = masters
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["RRULE"]["BYDAY"] == ["FR"]
    assert master.decoded("DTSTART") == datetime(2026, 12, 18, 10, tzinfo=AMS)
    assert master["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    exdates = sorted(d.dt for ex in [master["EXDATE"]] for d in ex.dts)
    assert exdates == [datetime(2027, 1, 8, 10, tzinfo=AMS)]  # the cancelled M4
    overrides = [e for e in cal.walk("VEVENT") if "RECURRENCE-ID" in e]
    assert sorted((e.decoded("RECURRENCE-ID"), e.decoded("DTSTART")) for e in overrides) == [
        (datetime(2026, 12, 25, 10, tzinfo=AMS), datetime(2026, 12, 28, 10, tzinfo=AMS)),
        (datetime(2027, 1, 1, 10, tzinfo=AMS), datetime(2027, 1, 4, 10, tzinfo=AMS))]
    assert all(e["UID"] == master["UID"] for e in overrides)
    assert cal.walk("VTIMEZONE")
    # What a calendar client shows: exactly the planned meetings, at their local times.
    shown = recurring_ical_events.of(cal).between(date(2026, 12, 1), date(2027, 3, 1))
    assert sorted(e.decoded("DTSTART") for e in shown) == [
        m.starts_at.astimezone(AMS) for m in planned(session)]


def test_the_ics_follows_moves_and_a_stop_and_keeps_14_00_across_dst(
        overleg: Say, session: Session) -> None:
    overleg(YEAR)
    overleg("!overleg verplaatsen M3 10-3-2027 15:00")
    overleg("!overleg verplaatsen M6 20-5-2027 14:00")  # June's meeting, moved before the stop
    cal = ics_of(overleg, "!overleg reeks stop S1 vanaf 1-6-2027")
    shown = recurring_ical_events.of(cal).between(date(2027, 1, 1), date(2028, 1, 1))
    starts = sorted(e.decoded("DTSTART") for e in shown)
    assert starts == [m.starts_at.astimezone(AMS) for m in planned(session)]
    assert [(s.date(), s.hour, s.minute) for s in starts] == [
        (date(2027, 1, 12), 14, 0), (date(2027, 2, 9), 14, 0), (date(2027, 3, 10), 15, 0),
        (date(2027, 4, 13), 14, 0), (date(2027, 5, 11), 14, 0), (date(2027, 5, 20), 14, 0)]
    [master] = [e for e in cal.walk("VEVENT") if "RRULE" in e]
    [until] = master["RRULE"]["UNTIL"]
    assert until.astimezone(AMS).date() == date(2027, 5, 31)


# ---- PostgreSQL -----------------------------------------------------------------------------
def test_plan_move_and_stop_on_postgresql(pg_url: str, registry: Registry,
                                          renderer: Renderer) -> None:
    engine = make_engine(pg_url)
    migrate(engine)
    with session_scope(engine) as session:
        say = Say(session, registry, renderer)
        say("!setup Casusoverleg Test")
        assert say.keys(YEAR) == ["series/planned", "series/ics"]
        assert say.key("!overleg verplaatsen M3 10-3-2027 15:00") == "meeting/moved"
        assert say.keys("!overleg reeks stop S1 vanaf 1-6-2027")[0] == "series/stopped"
        cal = ics_of(say, "!overleg reeks toon S1")
        shown = recurring_ical_events.of(cal).between(date(2027, 1, 1), date(2028, 1, 1))
        assert sorted(e.decoded("DTSTART") for e in shown) == [
            m.starts_at.astimezone(AMS) for m in planned(session)]
        [s] = session.exec(select(MeetingSeries))
        assert (s.first_day, s.last_day) == (date(2027, 1, 12), date(2027, 5, 31))
    engine.dispose()


@pytest.mark.parametrize("line", [
    "!overleg reeks elke 2 weken op maandag 14:00 vanaf 5-1-2027 tot 2-3-2027",
    "!meeting series every 2 weeks on monday 14:00 from 5-1-2027 until 2-3-2027"])
def test_a_biweekly_rule_starts_on_the_first_matching_day_on_or_after_from(
        overleg: Say, session: Session, line: str) -> None:
    """#24: 5 January 2027 is a Tuesday; the first Monday on or after it is 11 January."""
    if line.startswith("!meeting"):
        overleg.one("!settings language en")
    assert overleg.keys(line) == ["series/planned", "series/ics"]
    assert [local(m).date() for m in planned(session)] == [
        date(2027, 1, 11), date(2027, 1, 25), date(2027, 2, 8), date(2027, 2, 22)]
    [s] = session.exec(select(MeetingSeries))
    assert s.first_day == date(2027, 1, 11)


@pytest.mark.parametrize("line", [
    "!overleg reeks elke 2e dinsdag 14:00 tot 31-3-2027 vanaf 1-1-2027",
    "!overleg reeks elke 2e dinsdag 14:00 feestdagen overslaan tot 31-3-2027 vanaf 1-1-2027",
    "!overleg reeks elke 2e dinsdag 14:00 op Stadhuis tot 31-3-2027 feestdagen overslaan "
    "vanaf 1-1-2027",
    "!meeting series every 2nd tuesday 14:00 until 31-3-2027 from 1-1-2027"])
def test_from_until_and_holidays_come_in_any_order(overleg: Say, session: Session,
                                                   line: str) -> None:
    """#24: the options at the end in any order plan the same series."""
    assert overleg.keys(line) == ["series/planned", "series/ics"]
    assert [local(m).date() for m in planned(session)] == [
        date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9)]


def test_a_change_of_time_alone_moves_the_meetings_with_their_agendas(
        overleg: Say, session: Session) -> None:
    """#24: same days, another time: the meetings keep their M-IDs and agendas and move;
    none is cancelled; the new series' calendar file has them on its rule."""
    overleg(YEAR)
    case = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    june = next(m for m in planned(session) if local(m).month == 6)
    overleg.one(f"!agenda add M{june.number} {case}")
    before = {m.number for m in planned(session)}
    replies = overleg("!overleg reeks wijzig S1 vanaf 1-6-2027 15:00")
    assert replies[0].template == "series/changed"
    assert session.exec(select(Meeting).where(Meeting.status == "cancelled")).all() == []
    assert {m.number for m in planned(session)} == before
    session.refresh(june)
    assert local(june) == datetime(2027, 6, 8, 15)
    new = session.exec(select(MeetingSeries).where(MeetingSeries.number == 2)).one()
    assert june.series_id == new.id
    assert case in overleg.one(f"!agenda toon M{june.number}")
    may = next(m for m in planned(session) if local(m).month == 5)
    assert local(may) == datetime(2027, 5, 11, 14)  # before the change: as it was
    [ics] = [r for r in replies if r.template == "series/ics"][1:]
    cal = icalendar.Calendar.from_ical(ics.attachment)
    got = [e["DTSTART"].dt.replace(tzinfo=None) for e in recurring_ical_events.of(cal)
           .between(datetime(2027, 6, 1), datetime(2028, 1, 1))]
    assert got == [local(m) for m in planned(session) if local(m) >= datetime(2027, 6, 1)]


def test_a_duplicate_series_and_too_many_meetings_are_refused_and_the_list_is_bounded(
        overleg: Say, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """#24: the same rule and time again while S1 runs plans nothing; an overleg has at
    most ``MAX_FUTURE`` meetings to come; ``!overleg lijst`` shows ``LIST_MAX`` and says how
    many more there are."""
    from commands import meeting as meeting_commands
    overleg("!overleg reeks elke week op woensdag 14:00 vanaf 6-1-2027 tot 29-12-2027")
    assert len(planned(session)) == 52
    assert overleg.key("!overleg reeks elke woensdag 14:00 vanaf 1-3-2027 tot 1-6-2027") \
        == "series/duplicate"
    assert len(session.exec(select(MeetingSeries)).all()) == 1
    monkeypatch.setattr(meeting_commands, "MAX_FUTURE", 60)
    assert overleg.key("!overleg reeks elke week op dinsdag 14:00 vanaf 5-1-2027 "
                       "tot 28-12-2027 feestdagen overslaan") == "series/too_many"
    assert len(planned(session)) == 52
    assert overleg.keys("!overleg reeks elke 2e dinsdag 10:00 vanaf 1-1-2027 "
                        "tot 30-6-2027") == ["series/planned", "series/ics"]
    monkeypatch.setattr(meeting_commands, "MAX_FUTURE", 58)
    assert overleg.key("!overleg plan 2-2-2027 09:00") == "meeting/too_many"
    out = overleg.out("!overleg lijst")
    assert len(out.values["meetings"]) == meeting_commands.LIST_MAX
    assert out.values["more"] == 58 - meeting_commands.LIST_MAX


def test_a_change_of_rhythm_names_the_cases_on_the_cancelled_agendas(
        overleg: Say, session: Session) -> None:
    """#24: when meetings are cancelled (a new rhythm, a stop), the reply names the cases
    that were on their agendas and the meetings they were on."""
    overleg(YEAR)
    case = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    june = next(m for m in planned(session) if local(m).month == 6)
    overleg.one(f"!agenda add M{june.number} {case}")
    out = overleg("!overleg reeks wijzig S1 vanaf 1-6-2027 elke 2e donderdag")[0]
    assert out.template == "series/changed"
    assert case in out.body and f"M{june.number}:" in out.body.replace("*", "")
    stopped = overleg("!overleg reeks stop S2 vanaf 1-6-2027")[0]
    assert stopped.template == "series/stopped" and "C-" not in stopped.body
