"""The templates themselves: every key the code uses exists in both locales and renders there,
and the wording checks that rule tests leave out (those assert keys, values and rows)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.render import LOCALES, Renderer, html_to_text
from commands import casefile, rooms, timed, verification
from commands.inbound import Inbound, handle
from commands.registry import Outgoing, Registry
from storage import inbound as inbound_store
from storage.db import create_schema, make_engine, session_scope
from storage.models import Meeting, OutboxMessage
from storage.outbox import Rendered
from tests.unit.conftest import ADMIN, CHAIR, NOW, REGISTRY, ROOM, SETTINGS, Say

ROOT = Path(__file__).parents[2]
TEMPLATES = ROOT / "bot" / "templates"
NOUNS = sorted(p.stem for p in (TEMPLATES / "nl").glob("[!_]*.html"))
POL = "@politie1:localhost"
COORD = "@coord:localhost"
JZ = "@jeugd1:localhost"


def used_keys() -> set[str]:
    """Every ``"<noun>/<block>"`` literal in the code (replies, errors, timed messages)."""
    key = re.compile(rf'"((?:{"|".join(NOUNS)})/[a-z_]+)"')
    found: set[str] = set()
    for folder in ("commands", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(key.findall(path.read_text()))
    return found


def blocks(renderer: Renderer, locale: str) -> set[str]:
    return {f"{noun}/{block}" for noun in NOUNS
            for block in renderer.envs[locale].get_template(f"{noun}.html").blocks}


def test_the_nouns_are_the_same_files_in_both_locales() -> None:
    for locale in LOCALES:
        assert sorted(p.stem for p in (TEMPLATES / locale).glob("[!_]*.html")) == NOUNS, locale


def test_every_key_used_in_the_code_is_a_block_in_both_locales(renderer: Renderer) -> None:
    used = used_keys()
    assert len(used) > 100  # the scan found the code's keys (it did not silently break)
    assert {"meeting/planned", "action/overdue", "error/missing_arg"} <= used
    for locale in LOCALES:
        missing = sorted(used - blocks(renderer, locale))
        assert not missing, (locale, missing)


def test_both_locales_have_the_same_blocks(renderer: Renderer) -> None:
    assert blocks(renderer, "nl") == blocks(renderer, "en")


# ---- every key renders in both locales ---------------------------------------------------------
class Recorder:
    """A renderer that keeps every message it was given: template key and real values."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.seen: dict[str, Outgoing] = {}

    def __call__(self, out: Outgoing, room: str) -> Rendered:
        self.seen.setdefault(out.template, out)
        return self.renderer(out, room)


def _scenario(say: Say, session: Session, record: Recorder) -> None:
    """Most of what an overleg does in a year, so the messages carry representative values."""
    say.redact_power = (0, 50)  # a room where the bot may not remove messages: !setup says so
    say("!setup Elders", room="!elders:localhost")
    say.redact_power = None
    lines = [
        ("!setup Casusoverleg Test", CHAIR), ("!setup Nog een", CHAIR), ("!setup X", POL),
        ("!annex add Jeugdzorg door burgemeester Teststad", ADMIN),
        ("!annex add Jeugdzorg door burgemeester Teststad", ADMIN), ("!annex list", CHAIR),
        ("!annex add Zorg Zuid", ADMIN), ("!annex remove Onbekend door x", ADMIN),
        ("!partner add Politie core", CHAIR), ("!partner add Gemeente core", CHAIR),
        ("!partner add Jeugdzorg", CHAIR), ("!partner add Ergens", CHAIR),
        ("!partner add politie", CHAIR), ("!partner list", CHAIR),
        ("!partner remove Brandweer", CHAIR), ("!partner add Brandweer core", CHAIR),
        ("!partner remove Brandweer", CHAIR),
        (f"!lid add {POL} Politie", CHAIR), (f"!lid add {COORD} Gemeente coordinator", CHAIR),
        (f"!lid add {JZ} Jeugdzorg", CHAIR), (f"!lid add {COORD} Gemeente coordinator", CHAIR),
        ("!lid list", CHAIR), ("!partner remove Politie", CHAIR),
        (f"!lid remove {CHAIR}", CHAIR), ("!lid remove @niemand:localhost", CHAIR),
        ("!lid add wijkagent Politie", CHAIR), ("!lid list", "@x:localhost"),
        ("!partner add Y", POL), ("!frobnicate", CHAIR), ("!overleg frobnicate", CHAIR),
        ("!overleg plan 15-12-2026 14:00 op Stadhuis", CHAIR),
        ("!overleg plan 9-12-2026 10:00 weging", CHAIR), ("!overleg plan 1-1-2020 14:00", CHAIR),
        ("!overleg plan 31-13-2026 14:00", CHAIR), ("!overleg plan 8-12-2026 25:00", CHAIR),
        ("!overleg plan 28-3-2027 02:30", CHAIR), ("!overleg plan 8-12-2026 14:00 20u", CHAIR),
        ("!overleg plan 8-12-2026 14:00 90m vandaag", CHAIR), ("!overleg plan", CHAIR),
        ("!overleg plan 22-12-2026 14:00", CHAIR), ("!overleg list", CHAIR),
        ("!overleg move M3 23-12-2026 14:00", CHAIR), ("!overleg cancel M3", CHAIR),
        ("!overleg move M3 23-12-2026 14:00", CHAIR), ("!overleg cancel M9", CHAIR),
        ("!overleg cancel X9", CHAIR),
        ("!casus open", CHAIR), ("!casus open ref ZD-1", CHAIR), ("!casus list", CHAIR),
        ("!casus find ref ZD-1", CHAIR), ("!casus close C-AAAAA", CHAIR),
        ("!help", CHAIR), ("!help overleg plan", CHAIR), ("!help frobnicate", CHAIR),
        ("!instellingen", CHAIR), ("!instellingen agenda 99", CHAIR),
        ("!instellingen agenda", CHAIR), ("!overleg plannen maandag 15-12 14:00", CHAIR),
        ("!overleg plannen 30-11 14:00", CHAIR),
        ("!instellingen kleur blauw", CHAIR), ("!instellingen dm misschien", CHAIR),
        ("!instellingen werkdagen xx", CHAIR), ("!instellingen feestdagen XX", CHAIR),
        ("!instellingen taal xx", CHAIR), ("!instellingen tijdzone Mars/Olympus", CHAIR),
        ("!instellingen agenda 5", CHAIR), ("!privacy forbid Qorvantel", CHAIR),
        ("!privacy list", CHAIR), ("!privacy allow Qorvantel", CHAIR),
        ("!privacy forbid Qorvantel", CHAIR), ("!privacy forbid x", CHAIR),
        ("!actie list", CHAIR), ("!actie done A9", CHAIR), ("!actie done X", CHAIR),
        ("!actie add " + "x" * 70_000, CHAIR),
        ("!overleg starten M1", CHAIR), ("!aanwezig M1", POL), ("!presentie M1", CHAIR),
    ]
    for line, sender in lines:
        say(line, sender=sender)
    a = re.findall(r"C-\w+", say.one("!casus open"))[0]
    b = re.findall(r"C-\w+", say.one("!casus open"))[0]
    closed = re.findall(r"C-\w+", say.one("!casus open"))[0]
    for line, sender in [
        (f"!casus close {closed}", CHAIR), (f"!casus close {closed}", CHAIR),
        (f"!casus partner {b} add Jeugdzorg", CHAIR), (f"!casus partner {b} add Jeugdzorg", CHAIR),
        (f"!casus partner {a} remove Jeugdzorg", CHAIR),
        (f"!actie add {a} Politie 3-12-2026 Huisbezoek", CHAIR),
        (f"!actie add {b} Jeugdzorg 14-12-2026 Gesprek", CHAIR),
        (f"!actie add {a} Jeugdzorg 14-12-2026 Gesprek", CHAIR),
        (f"!actie add {a} Politie 1-1-2026 Iets", CHAIR),
        (f"!actie add {closed} Politie 14-12-2026 Iets", CHAIR),
        (f"!actie add {a} Politie 14-12-2026 Bel Qorvantel", CHAIR),
        (f"!actie add {a} Politie 14-12-2026 " + "x" * 301, CHAIR),
        (f"!casus partner {b} remove Jeugdzorg", CHAIR),
        ("!actie move A1 4-12-2026", CHAIR), ("!actie assign A1 Politie", CHAIR),
        ("!actie wijzig A1 Huisbezoek afstemmen", CHAIR),
        ("!actie wijzig A1 Huisbezoek afstemmen", CHAIR),
        ("!actie done A2", POL), ("!actie list", CHAIR), (f"!casus show {a}", CHAIR),
        (f"!agenda add M1 {a}", CHAIR), (f"!agenda add M1 {b} review", CHAIR),
        (f"!agenda add M1 {a}", CHAIR), (f"!agenda add M1 {closed}", CHAIR),
        (f"!agenda add M2 {a}", CHAIR), (f"!agenda remove M2 {a}", CHAIR),
        (f"!agenda remove M2 {a}", CHAIR), ("!agenda show M1", CHAIR),
        ("!agenda send M2", CHAIR), ("!agenda send M1", CHAIR),
        (f"!agenda add M1 {closed}", CHAIR), ("!bevestig M1 ja", CHAIR),
        ("!bevestig M1 ja", POL), (f"!bevestig M1 ja gedelegeerd {POL}", JZ),
        ("!bevestig M1 misschien", POL), (f"!informatie M1 {a} ja", POL),
        (f"!informatie M1 {b} nee", JZ), ("!status M1", CHAIR),
        (f"!weging {a} meer-informatie", CHAIR), (f"!weging {a} meer-informatie 1-12-2026", CHAIR),
        (f"!weging {a} meer-informatie 10-12-2026", CHAIR), (f"!casus fase {a} monitoren", CHAIR),
        (f"!weging {b} geen-actie", CHAIR),
        ("!overleg move M1 16-12-2026 14:00", CHAIR),
        ("!annex remove Jeugdzorg door burgemeester Teststad", ADMIN),
        ("!overleg reeks elke week op vrijdag 10:00 vanaf 18-12-2026 tot 8-1-2027", CHAIR),
        ("!overleg reeks elke week op vrijdag 10:00 op Stadhuis vanaf 18-12-2026 "
         "tot 8-1-2027 feestdagen overslaan", CHAIR),
        ("!overleg reeks elke vrijdag 10:00 vanaf 18-12-2026 tot 8-1-2027 "
         "feestdagen overslaan", CHAIR),
        ("!overleg reeks toon S1", CHAIR),
        ("!overleg reeks wijzig S1 vanaf 1-1-2027", CHAIR),
        ("!overleg reeks wijzig S1 vanaf 1-1-2027 11:00", CHAIR),
        ("!overleg reeks stop S2 vanaf 1-1-2027", CHAIR),
        ("!overleg reeks stop S1 vanaf 1-1-2029", CHAIR),
        ("!overleg reeks stop S9 vanaf 1-1-2027", CHAIR),
        ("!overleg reeks stop X1 vanaf 1-1-2027", CHAIR),
        ("!overleg reeks elke blauwe maan 14:00", CHAIR),
        ("!overleg reeks elke maand op de 31e 14:00", CHAIR),
        ("!overleg reeks elke dinsdag 14:00 vanaf 1-1-2026", CHAIR),
        ("!overleg reeks elke dinsdag 14:00 vanaf 1-3-2027 tot 1-2-2027", CHAIR),
        ("!overleg reeks elke dinsdag 14:00 vanaf 1-3-2027 tot 1-3-2030", CHAIR),
        ("!overleg reeks elke dinsdag 14:00 vanaf 1-3-2037", CHAIR),
        ("!overleg reeks elke dinsdag 14:00 tot 1-3-2027 tot 1-4-2027", CHAIR),
        ("!overleg reeks elke vrijdag 10:00 vanaf 25-12-2026 tot 25-12-2026 "
         "feestdagen overslaan", CHAIR),
    ]:
        say(line, sender=sender)
    # The administrator erased a case (casusbot case erase): the chairs are told.
    found = casefile.find(session, closed)
    assert found is not None
    for notice in casefile.erase(session, *found, reason="request", actor="casusbot",
                                 now=NOW)[1]:
        record(notice, ROOM)
    # An administrator verifies the bot (issue 22): the emoji, both answers, both ends.
    say("!verifieer ja", sender=ADMIN)  # nothing waiting
    for flow, answer, reason in (("f1", "ja", None), ("f2", "nee", "m.mismatched_sas")):
        verification.requested(session, SETTINGS, say._render, flow, "BOTDEVICE", ADMIN,
                               "ELEMENT", NOW)
        verification.compare(session, say._render, flow, [0, 34, 63, 5, 6, 7, 8],
                             [1000, 4000, 9191], NOW, "Element op laptop")
        if answer == "nee":
            say("!verifieer nee", sender=ADMIN)  # the emoji not delivered yet: refused
        for row in session.exec(select(OutboxMessage).where(
                OutboxMessage.sent_at == None)):  # noqa: E711  (delivered)
            row.sent_at = NOW
            session.add(row)
        say(f"!verifieer {answer}", sender=ADMIN)
        if answer == "ja":
            say("!verifieer ja", sender=ADMIN)  # again, while Element has not confirmed
        verification.end(session, say._render, flow, reason, NOW)
    # A second session's request replaces the first one's.
    verification.requested(session, SETTINGS, say._render, "f3", "BOTDEVICE", ADMIN,
                           "ELEMENT", NOW)
    verification.compare(session, say._render, "f3", [3] * 7, [1000] * 3, NOW)
    verification.requested(session, SETTINGS, say._render, "f4", "BOTDEVICE", ADMIN,
                           "PHONE", NOW)
    verification.compare(session, say._render, "f4", [1] * 7, [1000] * 3, NOW)
    verification.end(session, say._render, "f4", verification.ELEMENT_TIMEOUT, NOW)
    verification.not_direct(session, SETTINGS, say._render, ADMIN, NOW)
    verification.requested(session, SETTINGS, say._render, "f5", "BOTDEVICE", ADMIN,
                           "PHONE", NOW)
    verification.compare(session, say._render, "f5", [2] * 7, [1000] * 3, NOW)
    verification.end(session, say._render, "f5", None, NOW, device_only=True)
    # Kicked and invited again: a command and an undecryptable message of that time.
    inbound_store.record_join(session, ROOM, NOW - timedelta(days=1))
    inbound_store.record_leave(session, ROOM, NOW + timedelta(minutes=1))
    inbound_store.record_join(session, ROOM, NOW + timedelta(minutes=3))
    say("!overleg list", sender=CHAIR, now=NOW + timedelta(minutes=2))
    handle(session, say.registry, say._render, SETTINGS,
           Inbound("$away-u", ROOM, POL, "", NOW + timedelta(minutes=2),
                   kind="undecryptable"), NOW + timedelta(minutes=3))
    # The bot demoted: it may no longer remove others' messages.
    handle(session, say.registry, say._render, SETTINGS,
           Inbound("$power", ROOM, CHAIR, "", NOW + timedelta(minutes=3), kind="power_levels",
                   redact_power=(0, 50)), NOW + timedelta(minutes=3))
    # The room upgraded: the overleg moves to the new room when the bot has joined it.
    handle(session, say.registry, say._render, SETTINGS,
           Inbound("$tomb", ROOM, CHAIR, "", NOW + timedelta(minutes=4), kind="tombstone",
                   relates_to="!new:localhost"), NOW + timedelta(minutes=4))
    rooms.cannot_join(session, say._render, SETTINGS, ROOM, NOW + timedelta(minutes=4))
    inbound_store.record_join(session, "!new:localhost", NOW + timedelta(minutes=5))
    rooms.arrived(session, say._render, SETTINGS, "!new:localhost", NOW + timedelta(minutes=5))
    now = NOW
    end = NOW + timedelta(days=800)
    while now <= end:  # a year and more of timers: reminders, agendas, reviews, prompts
        nxt = timed.sweep(REGISTRY, session, record, now).next_due
        if nxt is None:
            break
        now = max(nxt, now + timedelta(seconds=1))
    # M1 (moved to 16 December, 14:00) began: its members were asked at the start.
    during = datetime(2026, 12, 16, 13, 10, tzinfo=UTC)
    for line, sender, at in [
            ("!aanwezig M1", POL, during), ("!aanwezig M1", POL, during),
            ("!overleg starten M1", CHAIR, during), ("!presentie M1", CHAIR, during),
            ("!aanwezig M1", JZ, during + timedelta(days=1)),
            ("!presentie M3", CHAIR, during + timedelta(days=30)),  # never asked
            ("!overleg cancel M1", CHAIR, during + timedelta(days=30))]:  # took place
        say(line, sender=sender, now=at, room="!new:localhost")


@pytest.fixture(scope="module")
def recorded(registry: Registry, renderer: Renderer) -> Iterator[dict[str, Outgoing]]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    record = Recorder(renderer)
    with session_scope(engine) as session:
        say = Say(session, registry, record)  # type: ignore[arg-type]
        _scenario(say, session, record)
    engine.dispose()
    yield record.seen


def test_every_key_the_scenario_reaches_renders_in_both_locales(
        recorded: dict[str, Outgoing], renderer: Renderer) -> None:
    assert len(recorded) > 90, sorted(recorded)
    for key, out in sorted(recorded.items()):
        for locale in LOCALES:
            html = renderer.html(key, out.values, locale, out.timezone)
            assert html_to_text(html).strip(), (key, locale)


def test_the_scenario_reaches_most_keys(recorded: dict[str, Outgoing]) -> None:
    """What it does not reach (card actions of Teams, poll answer labels, the runtime's
    notices of a refused message…) is rendered from values built by hand below; so are the
    .ics files' summary and description (agenda/ics_*, series/ics_*), rendered inside the
    file, the presence card's button label, the notice of a withdrawn confirmation and that
    of a start day the bot missed (presence/missed, reached in test_presence), and the
    limits on meetings to come (meeting/too_many, series/too_many, reached in test_series)."""
    unreached = used_keys() - set(recorded)
    assert len(unreached) < 43, sorted(unreached)  # (+ verification/{name,other}_session)


def _hand_values(key: str, recorded: dict[str, Outgoing]) -> dict[str, Any]:
    """Values for a key the scenario does not reach: those of a sibling that was reached,
    with the usual names filled in."""
    values: dict[str, Any] = {}
    for out in recorded.values():
        values.update(out.values)
    values.update(given="x", user=POL, users=[POL], chairs=[CHAIR], partner="Politie",
                  case="C-7K2FJ", limit=300, per_minute=30, sender=CHAIR, late=False,
                  late_since=NOW, delegate=POL, number=3, weeks=12, now_state=True,
                  noted=[{"case": "C-7K2FJ", "holds": True}], command="actie add",
                  sent_at=NOW, retry_at=NOW, no_chair=False, was_chair=False, have=0,
                  need=50, name="Overleg", at=NOW, asked_at=NOW, confidential=True,
                  day=NOW.date(), weekday=0)
    return values


def test_every_block_renders_in_both_locales(recorded: dict[str, Outgoing],
                                             renderer: Renderer) -> None:
    failures = []
    for key in sorted(blocks(renderer, "nl")):
        out = recorded.get(key)
        values = dict(out.values) if out else _hand_values(key, recorded)
        for locale in LOCALES:
            try:
                renderer.html(key, values, locale, "Europe/Amsterdam")
            except Exception as e:
                failures.append((key, locale, f"{type(e).__name__}: {e}"))
    assert not failures, failures


# ---- wording (only here: a reworded template breaks these and no rule test) --------------
def _meeting() -> Meeting:
    return Meeting(overleg_id=1, number=1, starts_at=datetime(2026, 12, 8, 13, 0, tzinfo=UTC),
                   minutes=90, place="Veiligheidshuis Venlo", created_at=NOW)


def _body(renderer: Renderer, key: str, locale: str = "nl", **values: Any) -> str:
    return html_to_text(renderer.html(key, values, locale, "Europe/Amsterdam"))


def test_a_planned_meeting_in_dutch_names_the_weekday_and_local_times(
        renderer: Renderer) -> None:
    assert _body(renderer, "meeting/planned", meeting=_meeting()) == (
        "Overleg M1 gepland: dinsdag 8 december 2026, 14:00–15:30 (Veiligheidshuis Venlo).")


def test_a_planned_meeting_in_english(renderer: Renderer) -> None:
    assert _body(renderer, "meeting/planned", "en", meeting=_meeting()) == (
        "Meeting M1 planned: Tuesday, December 8, 2026, 14:00–15:30 (Veiligheidshuis Venlo).")


def test_a_moved_meeting_says_when_it_was(renderer: Renderer) -> None:
    moved = _meeting()
    moved.starts_at = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)
    body = _body(renderer, "meeting/moved", meeting=moved,
                 old=datetime(2026, 12, 8, 13, 0, tzinfo=UTC))
    assert "woensdag 9 december 2026, 15:00–16:30" in body and "was dinsdag 8 december" in body


def _action(**kw: Any) -> dict[str, Any]:
    return {"id": "A1", "case": "C-7K2FJ", "partner": "Politie", "due": date(2026, 12, 15),
            "description": "Huisbezoek", "status": "open", "overdue_days": 0, **kw}


def test_an_action_added_names_the_due_date_in_words(renderer: Renderer) -> None:
    assert _body(renderer, "action/added", action=_action()) == (
        "Actie A1 voor Politie, uiterlijk dinsdag 15 december 2026 (casus C-7K2FJ).")


@pytest.mark.parametrize(("days", "words"), [(1, "1 werkdag te laat"),
                                             (5, "5 werkdagen te laat")])
def test_overdue_counts_working_days_singular_and_plural(renderer: Renderer, days: int,
                                                         words: str) -> None:
    values = {"action": _action(overdue_days=days), "owners": [POL], "coordinators": [],
              "chairs": [], "escalated": days >= 5, "late": False, "late_since": NOW}
    body = _body(renderer, "action/overdue", **values)
    assert words in body and "uiterlijk dinsdag 15 december 2026" in body
    assert ("voorzitter" in body) == (days >= 5)
    assert "later dan gepland" not in body


def test_a_late_reminder_says_so(renderer: Renderer) -> None:
    values = {"action": _action(), "owners": [POL], "late": True,
              "late_since": datetime(2026, 12, 4, 8, 0, tzinfo=UTC)}
    body = _body(renderer, "action/due_soon", **values)
    assert body.startswith(POL) and "Herinnering" in body
    assert "later dan gepland (gepland voor 4 dec 2026 09:00)" in body


def test_errors_carry_usage_and_example(renderer: Renderer, registry: Registry) -> None:
    [spec] = [c for c in registry.commands if c.key == "meeting plan"]
    body = _body(renderer, "error/bad_date", metavar="when", usage=spec.usage("overleg plan"))
    assert body.startswith("Datum: geen geldige datum.")  # the argument, never the input
    assert "Voorbeeld: !overleg plannen 8-12-2026 14:00" in body


def test_the_dutch_apology_and_refusals(renderer: Renderer) -> None:
    assert _body(renderer, "error/internal").startswith("Er ging bij mij iets mis")
    assert "geen lid van dit overleg" in _body(renderer, "error/not_a_member")
    assert "Alleen een beheerder" in _body(renderer, "error/admin_only", sender=CHAIR)
    assert "Deze kamer is (nog) geen overleg" in _body(renderer, "error/not_an_overleg")


def test_a_new_member_reads_as_a_member_for_a_partner(renderer: Renderer) -> None:
    added = _body(renderer, "member/added", user=POL, role="partner", partner="Politie")
    assert added == f"{POL} is nu lid van dit overleg namens Politie."
    chair = _body(renderer, "member/added", "en", user=POL, role="chair", partner="Politie")
    assert chair == f"{POL} is now a member of this overleg for Politie, as chair."


def test_a_case_without_links_says_who_sees_it(renderer: Renderer) -> None:
    body = _body(renderer, "case/show", case="C-7K2FJ", status="open", phase="melding",
                 opened_at=datetime(2026, 12, 1, tzinfo=UTC), closed_at=None, meetings=[],
                 open_actions=[], done_actions=[], partners=[], owners=["Politie"])
    assert "Wie de casus ziet: de kernpartners (geen andere partners gekoppeld)." in body
    assert "Partners met open acties: Politie." in body
    assert "geen." not in body.split("Open acties")[0]


def test_partner_kinds_and_member_roles_in_dutch(renderer: Renderer) -> None:
    listed = _body(renderer, "partner/list", partners=[
        {"name": "Politie", "kind": "core", "members": 1},
        {"name": "Jeugdzorg", "kind": "external", "members": 0}])
    assert "Politie (kernpartner" in listed and "Jeugdzorg (externe partner" in listed
    members = _body(renderer, "member/list", members=[
        {"user": POL, "role": "coordinator", "partner": "Gemeente", "left_room_at": None}])
    assert f"{POL}: coördinator (Gemeente)" in members


def test_settings_board_in_dutch(recorded: dict[str, Outgoing], renderer: Renderer) -> None:
    shown = _body(renderer, "settings/show", **recorded["settings/show"].values)
    assert "agenda: 5 dagen vooraf" in shown
    assert "bewaartermijn gesloten casussen: 5 jaar" in shown
    assert "Instellingen van dit overleg" in shown
    assert "Settings of this overleg" in _body(renderer, "settings/show", "en",
                                               **recorded["settings/show"].values)


def test_a_reminder_in_a_direct_message_names_nobody_else(renderer: Renderer) -> None:
    """The room's copy mentions the owners, coordinators and chairs; the copy in a person's
    own direct message starts with the reminder itself (no one's name before it)."""
    view = {"id": "A1", "case": "C-7K2FJ7", "partner": "Politie", "due": date(2026, 12, 3),
            "description": "Huisbezoek", "overdue_days": 2}
    values = {"action": view, "owners": [POL], "coordinators": [JZ], "chairs": [CHAIR],
              "escalated": True, "late": False, "late_since": NOW}
    for locale in LOCALES:
        room = html_to_text(renderer.html("action/overdue", values, locale, "Europe/Amsterdam"))
        direct = html_to_text(renderer.html("action/overdue", {**values, "direct": True},
                                            locale, "Europe/Amsterdam"))
        assert direct.startswith(("Actie", "Action")), direct
        assert len(room) > len(direct)
        soon = html_to_text(renderer.html("action/due_soon", {
            "action": view, "owners": [POL], "late": False, "late_since": NOW,
            "direct": True}, locale, "Europe/Amsterdam"))
        assert soon.startswith(("Herinnering", "Reminder")), soon


def test_an_unknown_command_is_pointed_to_the_help_with_the_prefix(renderer: Renderer) -> None:
    for locale in ("nl", "en"):
        body = _body(renderer, "error/unknown_command", locale, given="frobnicate")
        assert ("!hulp" if locale == "nl" else "!help") in body, body
