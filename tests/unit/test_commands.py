"""Every command of the skeleton through the sans-I/O core: replies, effects, errors, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.render import Renderer
from commands.inbound import Inbound, handle
from commands.registry import Outgoing, Registry, Settings
from storage import audit, cases, overlegs
from storage.models import AuditEntry, Case, Meeting, Member, OutboxMessage, Overleg, Partner
from storage.outbox import Rendered
from tests.unit.conftest import ADMIN, CHAIR, NOW, ROOM, SETTINGS, Say

STRANGER = "@stranger:localhost"
PARTNER = "@wijk:localhost"


def counts(session: Session) -> dict[str, int]:
    return {t.__name__: len(session.exec(select(t)).all())
            for t in (Overleg, Partner, Member, Meeting, Case)}


# ---- setup ---------------------------------------------------------------------------------
def test_setup_by_admin_makes_the_room_an_overleg_with_the_sender_as_chair(
        say: Say, session: Session) -> None:
    out = say.out("!setup Casusoverleg Gennep", sender=ADMIN)
    assert out.template == "setup/done"
    assert dict(out.values) == {"overleg": "Casusoverleg Gennep", "chair": ADMIN}
    overleg = overlegs.by_room(session, ROOM)
    assert overleg is not None and overleg.timezone == "Europe/Amsterdam"
    assert overleg.name == "Casusoverleg Gennep"
    member = overlegs.member(session, overleg.id or 0, ADMIN)
    assert member is not None and member.role == "chair"


def test_setup_dutch_alias_and_only_once(say: Say, session: Session) -> None:
    assert say.key("!inrichten Casusoverleg") == "setup/done"
    assert say.key("!inrichten Ander") == "setup/already"
    assert counts(session)["Overleg"] == 1
    overleg = overlegs.by_room(session, ROOM)
    assert overleg is not None and overleg.name == "Casusoverleg"


def test_setup_refused_for_a_non_admin(say: Say, session: Session) -> None:
    assert say.key("!setup X", sender=STRANGER) == "error/admin_only"
    assert counts(session)["Overleg"] == 0


def test_commands_in_a_room_that_is_no_overleg_are_refused(say: Say, session: Session) -> None:
    assert say.key("!casus open") == "error/not_an_overleg"
    assert counts(session)["Case"] == 0


# ---- partners ------------------------------------------------------------------------------
def test_partner_add_list_remove(overleg: Say, session: Session) -> None:
    listed = overleg.out("!partner list")
    assert listed.template == "partner/list"
    assert {(p["name"], p["kind"]) for p in listed.values["partners"]} == {
        ("Politie", "core"), ("Gemeente", "core"), ("Jeugdzorg", "external")}
    assert overleg.key("!partner add politie") == "partner/exists"  # case-insensitive
    assert counts(session)["Partner"] == 3
    assert overleg.key("!partner verwijder Jeugdzorg") == "partner/removed"
    assert [p.name for p in session.exec(select(Partner))] == ["Politie", "Gemeente"]
    after = overleg.reply("!partner lijst")
    assert after.template == "partner/list" and "Jeugdzorg" not in after.body


def test_partner_with_members_cannot_be_removed(overleg: Say, session: Session) -> None:
    overleg.one(f"!lid add {PARTNER} Politie")
    out = overleg.out("!partner remove Politie")
    assert out.template == "partner/has_members" and out.values["members"] == [PARTNER]
    assert counts(session)["Partner"] == 3


def test_partner_remove_unknown_lists_known(overleg: Say) -> None:
    out = overleg.out("!partner remove Brandweer")
    assert out.template == "partner/unknown"
    assert set(out.values["known"]) == {"Politie", "Gemeente", "Jeugdzorg"}
    body = overleg.one("!partner remove Brandweer")
    assert "Brandweer" in body and "Politie" in body  # the names, in the reply


# ---- members -------------------------------------------------------------------------------
def test_member_add_list_change_remove(overleg: Say, session: Session) -> None:
    added = overleg.out(f"!member add {PARTNER} Politie")
    assert added.template == "member/added"
    assert (added.values["user"], added.values["partner"], added.values["role"]) == \
        (PARTNER, "Politie", "partner")
    moved = overleg.out(f"!lid add {PARTNER} Gemeente coordinator")
    assert moved.template == "member/updated"  # and it says what it was
    assert (moved.values["was_partner"], moved.values["was_role"]) == ("Politie", "partner")
    [row] = session.exec(select(Member).where(Member.user_id == PARTNER)).all()
    assert row.role == "coordinator"
    assert session.get(Partner, row.partner_id).name == "Gemeente"  # type: ignore[union-attr]
    listing = overleg.out("!lid list")
    assert listing.template == "member/list"
    assert {"user": PARTNER, "role": "coordinator", "partner": "Gemeente",
            "left_room_at": None} in listing.values["members"]
    assert PARTNER in overleg.one("!lid list")
    assert overleg.key(f"!lid remove {PARTNER}") == "member/removed"
    assert counts(session)["Member"] == 1


def test_member_add_unknown_partner_and_bad_user(overleg: Say, session: Session) -> None:
    unknown = overleg.out(f"!lid add {PARTNER} Brandweer")
    assert unknown.template == "partner/unknown" and unknown.values["partner"] == "Brandweer"
    bad = overleg.out("!lid add wijkagent Politie")
    assert bad.template == "error/bad_user_id" and bad.values["given"] == "wijkagent"
    assert bad.values["usage"]["key"] == "member add"  # the usage and its example go along
    assert counts(session)["Member"] == 1


def test_last_chair_cannot_leave_or_be_demoted(overleg: Say, session: Session) -> None:
    assert overleg.key(f"!lid remove {CHAIR}") == "member/last_chair"
    assert overleg.key(f"!lid add {CHAIR} Gemeente partner") == "member/last_chair"
    chair = session.exec(select(Member).where(Member.user_id == CHAIR)).one()
    assert chair.role == "chair"
    overleg.one(f"!lid add {PARTNER} Gemeente chair")
    assert overleg.key(f"!lid remove {CHAIR}") == "member/removed"
    assert session.exec(select(Member).where(Member.user_id == CHAIR)).all() == []


def test_partner_members_may_list_but_not_change(overleg: Say, session: Session) -> None:
    overleg.one(f"!lid add {PARTNER} Politie")
    assert overleg.key("!lid list", sender=PARTNER) == "member/list"
    assert overleg.key("!partner add Brandweer", sender=PARTNER) == "error/chair_only"
    assert overleg.key("!casus open", sender=PARTNER) == "error/chair_only"
    assert counts(session)["Partner"] == 3 and counts(session)["Case"] == 0


def test_strangers_are_refused_everything_but_help(overleg: Say, session: Session) -> None:
    before = counts(session)
    for line in ("!partner list", "!lid list", "!overleg list", "!casus open", "!case list",
                 "!overleg plan 8-12-2026 14:00", f"!lid add {STRANGER} Politie chair"):
        assert overleg.key(line, sender=STRANGER) == "error/not_a_member", line
    assert overleg.key("!hulp", sender=STRANGER) == "help/index"
    assert counts(session) == before


# ---- meetings ------------------------------------------------------------------------------
def test_meeting_plan_in_dutch_keeps_local_time(overleg: Say, session: Session) -> None:
    out = overleg.reply("!overleg plan 8-12-2026 14:00 90m op Veiligheidshuis Venlo")
    assert out.template == "meeting/planned" and "M1" in out.body
    [m] = session.exec(select(Meeting)).all()
    assert m.number == 1 and m.status == "planned"
    assert m.starts_at == datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
    assert m.minutes == 90 and m.place == "Veiligheidshuis Venlo"


def test_meetings_are_numbered_per_overleg(say: Say, session: Session) -> None:
    say.one("!setup A")
    say.one("!setup B", room="!other:localhost")
    say.one("!meeting plan 8-12-2026 14:00")
    say.one("!meeting plan 9-12-2026 14:00")
    out = say.reply("!meeting plan 9-12-2026 14:00", room="!other:localhost")
    assert out.template == "meeting/planned" and "M1" in out.body
    assert sorted((m.overleg_id, m.number) for m in session.exec(select(Meeting))) == [
        (1, 1), (1, 2), (2, 1)]


def test_meeting_list_move_cancel(overleg: Say, session: Session) -> None:
    overleg.one("!overleg plan 8-12-2026 14:00")
    overleg.one("!overleg plan 15-12-2026 10:00 1u op Stadhuis")
    listing = overleg.reply("!overleg list")
    assert listing.template == "meeting/list"
    assert listing.body.index("M1") < listing.body.index("M2")
    moved = overleg.out("!overleg verplaats M1 9-12-2026 15:00")
    assert moved.template == "meeting/moved"
    assert moved.values["old"] == datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
    m1, m2 = session.exec(select(Meeting).order_by(Meeting.number)).all()  # type: ignore[arg-type]
    assert (m1.starts_at, m1.minutes) == (datetime(2026, 12, 9, 14, 0, tzinfo=UTC), 90)
    assert overleg.key("!overleg annuleer M2") == "meeting/cancelled"
    assert m2.status == "cancelled"
    after = overleg.out("!overleg list")
    assert [m.number for m in after.values["meetings"]] == [1]
    assert "M2" not in overleg.one("!overleg list")
    assert overleg.key("!overleg move M2 9-12 10:00") == "meeting/not_planned"
    assert m2.starts_at == datetime(2026, 12, 15, 9, 0, tzinfo=UTC)  # nothing changed
    assert overleg.key("!overleg cancel M9") == "meeting/unknown"


def test_meeting_errors_change_nothing(overleg: Say, session: Session) -> None:
    cases_ = {
        "!overleg plan 31-13-2026 14:00": "error/bad_date",
        "!overleg plan 8-12-2026": "error/missing_arg",
        "!overleg plan 8-12-2026 25:00": "error/bad_time",
        "!overleg plan 1-1-2020 14:00": "meeting/in_past",
        "!overleg plan 8-12-2026 14:00 20u": "error/bad_duration",
        "!overleg plan 8-12-2026 14:00 90m vandaag": "error/unexpected",
        # exists (the change is on 28 March 2027)
        "!overleg plan 29-3-2027 02:30": "meeting/planned",
        "!overleg plan 28-3-2027 02:30": "error/time_skipped",
        "!overleg plan": "error/missing_arg",
        "!overleg frobnicate": "error/unknown_subcommand",
    }
    for line, expected in cases_.items():
        [reply] = overleg(line)
        assert reply.template == expected, (line, reply.template)
        if expected.startswith("error/") and expected != "error/unknown_subcommand":
            [out] = overleg.sent
            assert out.values["usage"]["key"] == "meeting plan", line
        if expected not in ("meeting/planned", "error/unknown_subcommand"):
            # the usage and its example go along with the error
            assert "!overleg plannen 8-12-2026 14:00" in reply.body, reply.body
    [m] = session.exec(select(Meeting)).all()
    assert m.starts_at == datetime(2027, 3, 29, 0, 30, tzinfo=UTC)  # 02:30 local (CEST)


def test_meeting_list_hides_past_meetings(overleg: Say, session: Session) -> None:
    overleg.one("!overleg plan 2-12-2026 14:00")
    later = NOW + timedelta(days=2)
    out = overleg.out("!overleg list", now=later)
    assert out.template == "meeting/list" and list(out.values["meetings"]) == []
    assert [m.number for m in overleg.out("!overleg list").values["meetings"]] == [1]


# ---- cases ---------------------------------------------------------------------------------
def _case_id(body: str) -> str:
    found = re.search(r"C-[0-9A-Z]+", body)
    assert found, body
    return found[0]


def test_case_open_list_close(overleg: Say, session: Session) -> None:
    first = _case_id(overleg.one("!casus open"))
    second = _case_id(overleg.one("!case open"))
    assert first != second
    listing = overleg.one("!casus list")
    assert first in listing and second in listing
    assert overleg.key(f"!casus close {first.lower()}") == "case/closed"
    statuses = {f"C-{c.code}": c.status for c in session.exec(select(Case))}
    assert statuses == {first: "closed", second: "open"}
    assert first not in overleg.one("!casus list")
    assert first in overleg.one("!casus list closed")
    assert overleg.key(f"!casus close {first}") == "case/already_closed"


def test_case_typo_is_caught_by_the_check_character(overleg: Say, session: Session) -> None:
    code = _case_id(overleg.one("!casus open"))
    last = code[-1]
    typo = code[:-1] + ("0" if last != "0" else "1")
    assert overleg.key(f"!casus close {typo}") == "error/bad_case_id"
    assert cases.listing(session, 1, status="open")[0].status == "open"


def test_case_reference_is_stored_only_as_keyed_hash(overleg: Say, session: Session) -> None:
    code = _case_id(overleg.one("!casus open ref ZD-2026-0042"))
    [case] = session.exec(select(Case)).all()
    assert case.ref_hash and "0042" not in case.ref_hash and len(case.ref_hash) == 64
    assert code in overleg.one("!casus zoek ref zd.2026.0042")
    assert code in overleg.one("!casus zoeken ZD-2026-0042")  # without the word "ref"
    none = overleg.out("!casus find ref ZD-2026-0043")
    assert none.template == "case/found" and list(none.values["cases"]) == []
    everything = " ".join(str(v) for row in session.exec(select(OutboxMessage))
                          for v in (row.body, row.formatted_body))
    everything += " ".join(e.subject for e in session.exec(select(AuditEntry)))
    assert "0042" not in everything


def test_case_in_another_overleg_is_invisible(say: Say, session: Session) -> None:
    say.one("!setup A")
    code = _case_id(say.one("!casus open"))
    say.one("!setup B", room="!b:localhost")
    assert say.key(f"!casus close {code}", room="!b:localhost") == "case/unknown"
    assert [c.status for c in session.exec(select(Case))] == ["open"]


# ---- help, unknown, prefix, english, dedupe, audit ------------------------------------------
def test_help_lists_every_command_and_explains_one(overleg: Say, registry: Registry) -> None:
    listed = overleg.out("!hulp")
    assert listed.template == "help/index"
    assert [u["key"] for u in listed.values["usages"]] == [c.key for c in registry.commands]
    index = overleg.one("!hulp")
    for spec in registry.commands:
        assert f"!{spec.name('nl')}" in index
    explained = overleg.out("!help overleg plan")
    assert explained.template == "help/command"
    assert [u["key"] for u in explained.values["usages"]] == ["meeting plan"]
    detail = overleg.one("!help overleg plan")
    assert "!overleg plannen 8-12-2026 14:00 90m" in detail  # the example
    assert "meeting cancel" not in detail
    noun = overleg.out("!help meeting")  # a noun: all its subcommands
    assert noun.template == "help/command"
    assert {u["key"] for u in noun.values["usages"]} >= {
        c.key for c in registry.commands if c.noun == "meeting"}
    assert overleg.key("!help frobnicate") == "help/unknown_topic"


def test_unknown_command_points_to_help_and_plain_text_is_ignored(overleg: Say) -> None:
    unknown = overleg.reply("!frobnicate")
    assert unknown.template == "error/unknown_command"
    assert overleg("hallo allemaal") == []
    assert overleg("!") == []


def test_english_locale(session: Session, registry: Registry, renderer: Renderer) -> None:
    settings = Settings(prefix="!", admins=frozenset({CHAIR}), locale="en", ref_key=b"k" * 32)

    sent: list[Outgoing] = []

    def record(out: Outgoing, room: str) -> Rendered:
        sent.append(out)
        return renderer(out, room)

    def say(text: str) -> tuple[Outgoing, Rendered]:
        sent.clear()
        msg = Inbound(event_id=f"$en{text}", room_id=ROOM, sender=CHAIR, text=text, sent_at=NOW,
                  encrypted=True)
        [reply] = handle(session, registry, record, settings, msg, NOW).replies
        return sent[0], reply

    say("!setup Case meeting")
    out, reply = say("!meeting plan 8-12-2026 14:00 at Town hall")
    assert (out.template, out.locale) == ("meeting/planned", "en") and "M1" in reply.body
    assert reply.html == renderer.html("meeting/planned", out.values, "en", out.timezone)
    assert reply.html != renderer.html("meeting/planned", out.values, "nl", out.timezone)
    [m] = session.exec(select(Meeting)).all()
    assert (m.starts_at, m.place) == (datetime(2026, 12, 8, 13, 0, tzinfo=UTC), "Town hall")
    out, reply = say("!meeting plan 99-99 14:00")
    assert (out.template, out.locale) == ("error/bad_date", "en")


def test_a_custom_prefix(session: Session, registry: Registry) -> None:
    settings = Settings(prefix="?", admins=frozenset({CHAIR}), ref_key=b"k" * 32)
    renderer = Renderer(prefix="?")
    msg = Inbound(event_id="$p1", room_id=ROOM, sender=CHAIR, text="?setup X", sent_at=NOW,
                  encrypted=True)
    [out] = handle(session, registry, renderer, settings, msg, NOW).replies
    # The configured prefix is the one the reply's commands are written with.
    assert out.template == "setup/done" and "?partner" in out.body and "!" not in out.body
    msg2 = Inbound(event_id="$p2", room_id=ROOM, sender=CHAIR, text="!help", sent_at=NOW,
                  encrypted=True)
    assert handle(session, registry, renderer, settings, msg2, NOW).replies == []


def test_same_event_is_handled_once(session: Session, registry: Registry,
                                    renderer: Renderer) -> None:
    msg = Inbound(event_id="$same", room_id=ROOM, sender=CHAIR, text="!setup X", sent_at=NOW,
                  encrypted=True)
    assert len(handle(session, registry, renderer, SETTINGS, msg, NOW).replies) == 1
    assert handle(session, registry, renderer, SETTINGS, msg, NOW).replies == []
    assert len(session.exec(select(OutboxMessage)).all()) == 1


def test_every_change_is_audited_in_an_intact_chain(overleg: Say, session: Session) -> None:
    overleg.one("!overleg plan 8-12-2026 14:00")
    code = _case_id(overleg.one("!casus open"))
    overleg.one(f"!casus close {code}")
    actions = [e.action for e in audit.entries(session, 1)]
    assert actions == ["overleg.setup", "partner.add", "partner.add", "partner.add",
                       "meeting.plan", "case.open", "case.close"]
    assert audit.verify(session) is None
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "meeting.plan")).one()
    entry.subject = "M2"
    session.add(entry)
    session.flush()
    assert audit.verify(session) == entry.id


def test_help_links_the_chairs_guide_when_configured(session: Session,
                                                     registry: Registry) -> None:
    renderer = Renderer(guide_url="https://intranet.example.org/casusbot/voorzitter")
    msg = Inbound(event_id="$g1", room_id=ROOM, sender=CHAIR, text="!hulp", sent_at=NOW,
                  encrypted=True)
    [out] = handle(session, registry, renderer, SETTINGS, msg, NOW).replies
    assert "https://intranet.example.org/casusbot/voorzitter" in out.body


def test_an_undecryptable_message_asks_its_sender_once(overleg: Say, session: Session,
                                                       renderer: Renderer) -> None:
    from commands.inbound import handle

    undecryptable = Inbound(event_id="$enc1", room_id=ROOM, sender=CHAIR, text="", sent_at=NOW,
                            kind="undecryptable")
    first = handle(session, overleg.registry, renderer, SETTINGS, undecryptable, NOW).replies
    again = handle(session, overleg.registry, renderer, SETTINGS, undecryptable, NOW).replies
    assert len(first) == 1 and again == []
    assert first[0].template == "error/undecryptable" and CHAIR in first[0].mentions
    [row] = session.exec(select(OutboxMessage).where(
        OutboxMessage.template == "error/undecryptable")).all()
    assert row.room_id == ROOM


def test_a_refused_setting_is_named_with_a_value_that_would_do(overleg: Say,
                                                              session: Session) -> None:
    """Every refusal of ``!instellingen <naam> <waarde>`` names the setting (in the
    overleg's language, whichever alias was typed) and gives an example that is accepted."""
    for line, setting in (("!instellingen agenda x", "agenda"),
                          ("!instellingen nudge -1", "herinnering"),
                          ("!instellingen dm misschien", "dm"),
                          ("!instellingen taal fr", "taal"),
                          ("!instellingen tijdzone Mars/Olympus", "tijdzone"),
                          ("!instellingen werkdagen 89", "werkdagen"),
                          ("!instellingen feestdagen BE", "feestdagen"),
                          ("!instellingen vooraf", "vooraf")):
        refused = overleg.out(line)
        assert refused.values["setting"] == setting, line
        example = refused.values["example"]
        assert example.split()[0] == setting, line
        if setting != "taal":  # switching the language would change the rest of this test
            assert overleg.out(f"!instellingen {example}").template == "settings/changed", line
    assert overleg.out("!instellingen vooraf").template == "settings/missing_value"
    from commands.settings import SETTINGS
    for name in SETTINGS:  # every setting, whichever alias: named, with an example
        refused = overleg.out(f"!instellingen {name} ???")
        assert refused.values["example"].split()[0] == refused.values["setting"], name
    assert overleg.out("!instellingen onzin 3").values["named"] is True


@pytest.mark.parametrize(("typed", "days"), [
    ("ma-do", "1234"), ("mon-sat", "123456"), ("tue thu", "24"), ("ma-vr za", "123456"),
    ("maandag dinsdag", "12")])
def test_working_days_in_ranges_and_either_language(overleg: Say, session: Session,
                                                    typed: str, days: str) -> None:
    assert overleg.key(f"!instellingen werkdagen {typed}") == "settings/changed"
    found = overlegs.by_room(session, ROOM)
    assert found is not None and found.working_days == days


def test_a_time_zone_in_any_case(overleg: Say, session: Session) -> None:
    assert overleg.key("!instellingen tijdzone europe/brussels") == "settings/changed"
    found = overlegs.by_room(session, ROOM)
    assert found is not None and found.timezone == "Europe/Brussels"


def test_settings_show_and_change(overleg: Say, session: Session) -> None:
    def stored() -> Overleg:
        found = overlegs.by_room(session, ROOM)
        assert found is not None
        return found

    shown = overleg.out("!instellingen")
    assert shown.template == "settings/show"
    assert (shown.values["s"]["agenda_days_before"], shown.values["s"]["retention_years"]) == \
        (5, 5)
    changed = overleg.out("!instellingen agenda 7")
    assert changed.template == "settings/changed"
    assert changed.values["attribute"] == "agenda_days_before"
    assert changed.values["s"]["agenda_days_before"] == 7 == stored().agenda_days_before
    refused = overleg.out("!instellingen agenda 99")
    assert refused.template == "settings/bad_value"
    assert (refused.values["low"], refused.values["high"]) == (1, 30)
    assert stored().agenda_days_before == 7
    unknown = overleg.out("!instellingen kleur blauw")
    assert unknown.template == "settings/unknown" and "agenda" in unknown.values["names"]
    workdays = overleg.out("!instellingen werkdagen ma di wo do")
    assert workdays.template == "settings/changed"
    assert workdays.values["s"]["working_days"] == "1234" == stored().working_days
    language = overleg.out("!instellingen taal en")
    assert language.template == "settings/changed" and stored().locale == "en"
    english = overleg.out("!settings")
    assert (english.template, english.locale) == ("settings/show", "en")
    assert overleg.key("!instellingen agenda 3", sender="@x:localhost") == "error/not_a_member"
    assert stored().agenda_days_before == 7


def test_every_template_block_renders_with_plausible_values() -> None:
    """Each template renders with the values its command gives (catches undefined names)."""
    from pathlib import Path

    renderer = Renderer()
    for locale in ("nl", "en"):
        for path in (Path(__file__).parents[2] / "bot/templates" / locale).glob("[!_]*.html"):
            tmpl = renderer.envs[locale].get_template(path.name)
            for block in tmpl.blocks:
                source = (path.read_text().split("{% block " + block + " %}")[1]
                          .split("{% endblock %}")[0])
                if "m.settings_board" in source:
                    from commands.settings import view
                    from storage.models import Overleg

                    renderer.html(f"{path.stem}/{block}", {"s": view(Overleg(
                        room_id="!r", name="x", created_at=NOW)), "attribute": "locale"},
                        locale)


def test_a_failing_command_keeps_nothing_it_wrote_but_the_event_is_answered_once(
        registry: Registry, renderer: Renderer, monkeypatch: pytest.MonkeyPatch) -> None:
    from commands import retention
    from commands.inbound import handle
    from storage.db import create_schema, make_engine, session_scope
    from storage.models import AuditEntry, Case, InboundEvent, OutboxMessage

    engine = make_engine("sqlite://")
    create_schema(engine)
    with session_scope(engine) as s:
        handle(s, registry, renderer, SETTINGS, Inbound("$setup", ROOM, CHAIR, "!setup X", NOW,
                                                        encrypted=True), NOW)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug, after the case was written")

    monkeypatch.setattr(retention, "schedule_review", broken)
    msg = Inbound("$open", ROOM, CHAIR, "!casus open", NOW, encrypted=True,
                  thread_root="$root")
    with session_scope(engine) as s:
        [apology] = handle(s, registry, renderer, SETTINGS, msg, NOW).replies
    assert apology.template == "error/internal"
    # An answer to the command in its thread, as every reply is.
    assert (apology.in_reply_to, apology.thread_root) == ("$open", "$root")
    with session_scope(engine) as s:
        assert s.exec(select(Case)).all() == []  # the case the command wrote is gone
        assert [a.action for a in s.exec(select(AuditEntry))] == ["overleg.setup"]
        assert s.get(InboundEvent, "$open") is not None
        assert [(r.template, r.body) for r in s.exec(select(OutboxMessage))][-1] == \
            ("error/internal", apology.body)
        assert handle(s, registry, renderer, SETTINGS, msg, NOW).replies == []  # once only
    engine.dispose()


def test_someone_who_is_no_member_is_answered_where_they_can_read_it(overleg: Say) -> None:
    """In an encrypted overleg room the room's keys go to members only: a reply there would
    be unreadable to a non-member (issue 23). Their refusal and their help go to their
    direct messages only; an administrator's command that changed something is answered in
    the room (for the members) and in their direct messages. Where nothing is encrypted
    (Teams), the reply stays in the room."""
    stranger = "@stranger:localhost"
    for text, key in (("!hulp", "help/index"), ("!casus lijst", "error/not_a_member")):
        replies = overleg(text, sender=stranger)
        assert [(r.room_id, r.template) for r in replies] == [(stranger, key)], text
    replies = overleg("!annex add Zorg Oost door burgemeester Teststad", sender=ADMIN)
    assert sorted(r.room_id for r in replies) == sorted([ROOM, ADMIN])
    assert {r.template for r in replies} == {"covenant/annex_added"}
    overleg.encrypted = False  # (on Matrix, commands in such a room are refused)
    replies = overleg("!hulp", sender=stranger)
    assert [(r.room_id, r.template) for r in replies] == [(ROOM, "help/index")]
