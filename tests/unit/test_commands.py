"""Every command of the skeleton through the sans-I/O core: replies, effects, errors, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.render import Renderer
from commands.inbound import Inbound, handle
from commands.registry import Registry, Settings
from storage import audit, cases, overlegs
from storage.models import AuditEntry, Case, Meeting, Member, OutboxMessage, Overleg, Partner
from tests.unit.conftest import ADMIN, CHAIR, NOW, ROOM, SETTINGS, Say

STRANGER = "@stranger:localhost"
PARTNER = "@wijk:localhost"


def counts(session: Session) -> dict[str, int]:
    return {t.__name__: len(session.exec(select(t)).all())
            for t in (Overleg, Partner, Member, Meeting, Case)}


# ---- setup ---------------------------------------------------------------------------------
def test_setup_by_admin_makes_the_room_an_overleg_with_the_sender_as_chair(
        say: Say, session: Session) -> None:
    body = say.one("!setup Casusoverleg Gennep", sender=ADMIN)
    assert "Casusoverleg Gennep" in body
    overleg = overlegs.by_room(session, ROOM)
    assert overleg is not None and overleg.timezone == "Europe/Amsterdam"
    member = overlegs.member(session, overleg.id or 0, ADMIN)
    assert member is not None and member.role == "chair"


def test_setup_dutch_alias_and_only_once(say: Say, session: Session) -> None:
    assert "Casusoverleg" in say.one("!inrichten Casusoverleg")
    again = say.one("!inrichten Ander")
    assert "al het overleg" in again
    assert counts(session)["Overleg"] == 1


def test_setup_refused_for_a_non_admin(say: Say, session: Session) -> None:
    assert "beheerder" in say.one("!setup X", sender=STRANGER)
    assert counts(session)["Overleg"] == 0


def test_commands_in_a_room_that_is_no_overleg_are_refused(say: Say, session: Session) -> None:
    assert "geen overleg" in say.one("!casus open")
    assert counts(session)["Case"] == 0


# ---- partners ------------------------------------------------------------------------------
def test_partner_add_list_remove(overleg: Say, session: Session) -> None:
    body = overleg.one("!partner list")
    assert "Politie (kernpartner" in body and "Jeugdzorg (externe partner" in body
    assert "bestaat al" in overleg.one("!partner add politie")  # case-insensitive
    assert "verwijderd" in overleg.one("!partner verwijder Jeugdzorg")
    assert "Jeugdzorg" not in overleg.one("!partner lijst")


def test_partner_with_members_cannot_be_removed(overleg: Say, session: Session) -> None:
    overleg.one(f"!lid add {PARTNER} Politie")
    assert "nog leden" in overleg.one("!partner remove Politie")
    assert counts(session)["Partner"] == 3


def test_partner_remove_unknown_lists_known(overleg: Say) -> None:
    body = overleg.one("!partner remove Brandweer")
    assert "Brandweer" in body and "Politie" in body


# ---- members -------------------------------------------------------------------------------
def test_member_add_list_change_remove(overleg: Say, session: Session) -> None:
    assert "partner voor Politie" in overleg.one(f"!member add {PARTNER} Politie")
    assert "coördinator voor Gemeente" in overleg.one(f"!lid add {PARTNER} Gemeente coordinator")
    listing = overleg.one("!lid list")
    assert f"{PARTNER}: coördinator (Gemeente)" in listing
    assert "geen lid meer" in overleg.one(f"!lid remove {PARTNER}")
    assert counts(session)["Member"] == 1


def test_member_add_unknown_partner_and_bad_user(overleg: Say, session: Session) -> None:
    assert "Brandweer" in overleg.one(f"!lid add {PARTNER} Brandweer")
    bad = overleg.one("!lid add wijkagent Politie")
    assert "Geen geldige Matrix-gebruiker" in bad and "Voorbeeld" in bad
    assert counts(session)["Member"] == 1


def test_last_chair_cannot_leave_or_be_demoted(overleg: Say, session: Session) -> None:
    assert "enige voorzitter" in overleg.one(f"!lid remove {CHAIR}")
    assert "enige voorzitter" in overleg.one(f"!lid add {CHAIR} Gemeente partner")
    overleg.one(f"!lid add {PARTNER} Gemeente chair")
    assert "geen lid meer" in overleg.one(f"!lid remove {CHAIR}")


def test_partner_members_may_list_but_not_change(overleg: Say, session: Session) -> None:
    overleg.one(f"!lid add {PARTNER} Politie")
    assert "Leden van dit overleg" in overleg.one("!lid list", sender=PARTNER)
    assert "Alleen de voorzitter" in overleg.one("!partner add Brandweer", sender=PARTNER)
    assert "Alleen de voorzitter" in overleg.one("!casus open", sender=PARTNER)
    assert counts(session)["Partner"] == 3 and counts(session)["Case"] == 0


def test_strangers_are_refused_everything_but_help(overleg: Say, session: Session) -> None:
    before = counts(session)
    for line in ("!partner list", "!lid list", "!overleg list", "!casus open", "!case list",
                 "!overleg plan 8-12-2026 14:00", f"!lid add {STRANGER} Politie chair"):
        assert "geen lid" in overleg.one(line, sender=STRANGER), line
    assert "Commando's" in overleg.one("!hulp", sender=STRANGER)
    assert counts(session) == before


# ---- meetings ------------------------------------------------------------------------------
def test_meeting_plan_in_dutch_keeps_local_time(overleg: Say, session: Session) -> None:
    body = overleg.one("!overleg plan 8-12-2026 14:00 90m op Veiligheidshuis Venlo")
    assert body == ("Overleg M1 gepland: dinsdag 8 december 2026, 14:00–15:30 "
                    "(Veiligheidshuis Venlo).")
    [m] = session.exec(select(Meeting)).all()
    assert m.starts_at == datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
    assert m.minutes == 90 and m.place == "Veiligheidshuis Venlo"


def test_meetings_are_numbered_per_overleg(say: Say, session: Session) -> None:
    say.one("!setup A")
    say.one("!setup B", room="!other:localhost")
    say.one("!meeting plan 8-12-2026 14:00")
    say.one("!meeting plan 9-12-2026 14:00")
    assert "M1" in say.one("!meeting plan 9-12-2026 14:00", room="!other:localhost")


def test_meeting_list_move_cancel(overleg: Say, session: Session) -> None:
    overleg.one("!overleg plan 8-12-2026 14:00")
    overleg.one("!overleg plan 15-12-2026 10:00 1u op Stadhuis")
    listing = overleg.one("!overleg list")
    assert listing.index("M1") < listing.index("M2")
    moved = overleg.one("!overleg verplaats M1 9-12-2026 15:00")
    assert "woensdag 9 december 2026, 15:00–16:30" in moved and "was dinsdag 8 december" in moved
    assert "geannuleerd" in overleg.one("!overleg annuleer M2")
    assert "M2" not in overleg.one("!overleg list")
    assert "is geannuleerd; er is niets gewijzigd" in overleg.one("!overleg move M2 9-12 10:00")
    assert "bestaat niet" in overleg.one("!overleg cancel M9")


def test_meeting_errors_change_nothing(overleg: Say, session: Session) -> None:
    cases_ = {
        "!overleg plan 31-13-2026 14:00": "Geen geldige datum",
        "!overleg plan 8-12-2026": "ontbreekt",
        "!overleg plan 8-12-2026 25:00": "Geen geldige tijd",
        "!overleg plan 1-1-2020 14:00": "verleden",
        "!overleg plan 8-12-2026 14:00 20u": "Geen geldige duur",
        "!overleg plan 8-12-2026 14:00 90m vandaag": "begrijp ik niet",
        "!overleg plan 29-3-2027 02:30": None,  # exists (the change is on 28 March 2027)
        "!overleg plan 28-3-2027 02:30": "bestaat niet in deze tijdzone",
        "!overleg plan": "ontbreekt",
        "!overleg frobnicate": "kent",
    }
    for line, expected in cases_.items():
        body = overleg.one(line)
        if expected is None:
            assert "gepland" in body
            continue
        assert expected in body, (line, body)
        if "kent" not in body:
            assert "Voorbeeld: !overleg plan 8-12-2026 14:00" in body, body
    assert counts(session)["Meeting"] == 1


def test_meeting_list_hides_past_meetings(overleg: Say, session: Session) -> None:
    overleg.one("!overleg plan 2-12-2026 14:00")
    later = NOW + timedelta(days=2)
    assert "geen komende overleggen" in overleg.one("!overleg list", now=later)


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
    assert "gesloten" in overleg.one(f"!casus close {first.lower()}")
    assert first not in overleg.one("!casus list")
    assert first in overleg.one("!casus list closed")
    assert "al gesloten" in overleg.one(f"!casus close {first}")


def test_case_typo_is_caught_by_the_check_character(overleg: Say, session: Session) -> None:
    code = _case_id(overleg.one("!casus open"))
    last = code[-1]
    typo = code[:-1] + ("0" if last != "0" else "1")
    body = overleg.one(f"!casus close {typo}")
    assert "controleteken" in body
    assert cases.listing(session, 1, status="open")[0].status == "open"


def test_case_reference_is_stored_only_as_keyed_hash(overleg: Say, session: Session) -> None:
    code = _case_id(overleg.one("!casus open ref ZD-2026-0042"))
    [case] = session.exec(select(Case)).all()
    assert case.ref_hash and "0042" not in case.ref_hash and len(case.ref_hash) == 64
    assert code in overleg.one("!casus zoek ref zd.2026.0042")
    assert "Geen casus" in overleg.one("!casus find ref ZD-2026-0043")
    everything = " ".join(str(v) for row in session.exec(select(OutboxMessage))
                          for v in (row.body, row.formatted_body))
    everything += " ".join(e.subject for e in session.exec(select(AuditEntry)))
    assert "0042" not in everything


def test_case_in_another_overleg_is_invisible(say: Say, session: Session) -> None:
    say.one("!setup A")
    code = _case_id(say.one("!casus open"))
    say.one("!setup B", room="!b:localhost")
    assert "bestaat niet" in say.one(f"!casus close {code}", room="!b:localhost")


# ---- help, unknown, prefix, english, dedupe, audit ------------------------------------------
def test_help_lists_every_command_and_explains_one(overleg: Say, registry: Registry) -> None:
    index = overleg.one("!hulp")
    for spec in registry.commands:
        assert spec.key.split()[-1] in index or spec.aliases[0] in index
    detail = overleg.one("!help overleg plan")
    assert "Voorbeeld: !overleg plan 8-12-2026 14:00 90m" in detail
    assert "meeting cancel" not in detail
    assert "M1" in overleg.one("!help meeting")  # a noun: all its subcommands
    assert "geen uitleg" in overleg.one("!help frobnicate")


def test_unknown_command_points_to_help_and_plain_text_is_ignored(overleg: Say) -> None:
    assert "!hulp" in overleg.one("!frobnicate")
    assert overleg("hallo allemaal") == []
    assert overleg("!") == []


def test_english_locale(session: Session, registry: Registry, renderer: Renderer) -> None:
    settings = Settings(prefix="!", admins=frozenset({CHAIR}), locale="en", ref_key=b"k" * 32)

    def say(text: str) -> str:
        msg = Inbound(event_id=f"$en{text}", room_id=ROOM, sender=CHAIR, text=text, sent_at=NOW,
                  encrypted=True)
        [out] = handle(session, registry, renderer, settings, msg, NOW).replies
        return out.body

    say("!setup Case meeting")
    assert say("!meeting plan 8-12-2026 14:00 at Town hall") == (
        "Meeting M1 planned: Tuesday, December 8, 2026, 14:00–15:30 (Town hall).")
    assert "Not a valid date" in say("!meeting plan 99-99 14:00")


def test_a_custom_prefix(session: Session, registry: Registry) -> None:
    settings = Settings(prefix="?", admins=frozenset({CHAIR}), ref_key=b"k" * 32)
    renderer = Renderer(prefix="?")
    msg = Inbound(event_id="$p1", room_id=ROOM, sender=CHAIR, text="?setup X", sent_at=NOW,
                  encrypted=True)
    [out] = handle(session, registry, renderer, settings, msg, NOW).replies
    assert "?partner add" in out.body
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


def test_settings_show_and_change(overleg: Say, session: Session) -> None:
    shown = overleg.one("!instellingen")
    assert "agenda: 5 dagen vooraf" in shown and "bewaartermijn gesloten casussen: 5 jaar" in shown
    changed = overleg.one("!instellingen agenda 7")
    assert "agenda: 7 dagen vooraf" in changed
    assert "getal van 1 tot en met 30" in overleg.one("!instellingen agenda 99")
    assert "Namen:" in overleg.one("!instellingen kleur blauw")
    assert "werkdagen: 1234" in overleg.one("!instellingen werkdagen ma di wo do")
    assert "taal: en" in overleg.one("!instellingen taal en").replace("language: en", "taal: en")
    english = overleg.one("!settings")
    assert "Settings of this overleg" in english
    assert "not a member" in overleg.one("!instellingen agenda 3", sender="@x:localhost")


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
    msg = Inbound("$open", ROOM, CHAIR, "!casus open", NOW, encrypted=True)
    with session_scope(engine) as s:
        [apology] = handle(s, registry, renderer, SETTINGS, msg, NOW).replies
    assert apology.template == "error/internal"
    with session_scope(engine) as s:
        assert s.exec(select(Case)).all() == []  # the case the command wrote is gone
        assert [a.action for a in s.exec(select(AuditEntry))] == ["overleg.setup"]
        assert s.get(InboundEvent, "$open") is not None
        assert [r.body for r in s.exec(select(OutboxMessage))][-1] == apology.body
        assert handle(s, registry, renderer, SETTINGS, msg, NOW).replies == []  # once only
    engine.dispose()
