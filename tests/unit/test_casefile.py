"""The data subject's rights per case (issue 24): the export of everything held on a case,
the correction of an action's description, and the erasure before the retention term."""

from __future__ import annotations

import json
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import Session, col, select

from bot import casefile as files
from bot.cli import main
from bot.render import Renderer
from commands import casefile, caseid
from storage import audit, cases, outbox
from storage.db import make_engine, migrate, session_scope
from storage.models import (
    Action,
    ActionChange,
    AgendaItem,
    AuditEntry,
    Case,
    CasePartner,
    InfoAnswer,
    OutboxMessage,
    Overleg,
    Timer,
)
from tests.unit.conftest import CHAIR, NOW, ROOM, Say, sweep

POL = "@politie1:localhost"
JZ = "@jeugd1:localhost"


@pytest.fixture
def held(overleg: Say, session: Session, renderer: Renderer) -> Say:
    """A case with one of everything: Jeugdzorg linked, on M1's agenda (sent, with a DM to
    Jeugdzorg's member), an information answer, a weging outcome, two actions (A2 moved and
    corrected) and an overdue reminder; another case B beside it. ``.a``, ``.b``: the IDs."""
    for line in (f"!lid add {POL} Politie", f"!lid add {JZ} Jeugdzorg",
                 "!overleg plan 15-12-2026 14:00 op Stadhuis"):
        overleg.one(line)
    a = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    b = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    for line in (f"!casus partner {a} koppel Jeugdzorg", f"!weging {a} meer-informatie 15-12-2026",
                 f"!weging {a} casusoverleg",
                 f"!agenda add M1 {a}", f"!agenda add M1 {b}",
                 f"!actie toevoegen {a} Politie 3-12-2026 Huisbezoek afstemmen",
                 f"!actie toevoegen {a} Jeugdzorg 10-12-2026 Gesprek plannen",
                 "!actie verplaatsen A2 11-12-2026",
                 f"!actie toevoegen {b} Politie 10-12-2026 Dossier opvragen"):
        overleg.one(line)
    overleg("!agenda send M1")
    overleg.one(f"!info M1 {a} ja", sender=JZ)
    overleg.one("!actie wijzig A2 Gesprek plannen met school")
    sweep(session, renderer, NOW + timedelta(days=3, hours=1))  # A1 overdue on 4 Dec 09:00
    overleg.a, overleg.b = a, b  # type: ignore[attr-defined]
    return overleg


def _case(session: Session, shown: str) -> tuple[Overleg, Case]:
    found = casefile.find(session, shown)
    assert found is not None
    return found


# ---- correction: !actie wijzig / !action edit ------------------------------------------------
def test_a_corrected_description_keeps_the_old_one_in_the_history(held: Say,
                                                                   session: Session) -> None:
    action = session.exec(select(Action).where(Action.number == 2)).one()
    assert action.description == "Gesprek plannen met school"
    changes = session.exec(select(ActionChange).where(ActionChange.action_id == action.id)
                           .order_by(col(ActionChange.id))).all()
    assert [(c.kind, c.old, c.new) for c in changes][-1] == (
        "described", "Gesprek plannen", "Gesprek plannen met school")
    assert changes[-1].actor == CHAIR
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "action.edit")).one()
    assert entry.subject == "A2"


def test_edit_in_english_and_its_refusals(held: Say, session: Session) -> None:
    assert held.key("!action edit A1 Coordinate the home visit") == "action/edited"
    assert held.key("!action edit A1 Coordinate the home visit") == "action/unchanged"
    assert held.key("!action edit A9 Something else") == "action/unknown"
    assert held.key("!actie wijzig A1 Bellen", sender=POL) != "action/edited"  # chair only
    assert session.exec(select(Action).where(Action.number == 1)).one().description == \
        "Coordinate the home visit"


def test_the_pii_guard_reads_a_corrected_description(held: Say, session: Session) -> None:
    assert held.keys("!actie wijzig A1 Bellen met 06-12345678") == [
        "error/pii", "privacy/redaction_reason"]
    assert session.exec(select(Action).where(Action.number == 1)).one().description == \
        "Huisbezoek afstemmen"
    kinds = [c.kind for c in session.exec(select(ActionChange))]
    assert kinds.count("described") == 1  # only A2's


# ---- export ------------------------------------------------------------------------------------
def test_the_export_holds_everything_on_the_case_and_nothing_of_another(
        held: Say, session: Session) -> None:
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    export = casefile.collect(session, overleg, case, NOW + timedelta(days=4))
    assert export["format"] == casefile.FORMAT
    assert export["case"]["id"] == held.a  # type: ignore[attr-defined]
    assert export["case"]["phase"] == "casusoverleg"
    assert [p["phase"] for p in export["phases"]] == ["melding", "weging", "casusoverleg"]
    assert [w["outcome"] for w in export["weging"]] == ["meer_informatie", "via_casusoverleg"]
    assert [(m["id"], m["agenda_kind"]) for m in export["meetings"]] == [("M1", "new")]
    assert export["meetings"][0]["agenda_sent_at"] is not None
    assert [(p["name"], p["kind"]) for p in export["partners"]] == [("Jeugdzorg", "external")]
    assert export["core_partners"] == ["Gemeente", "Politie"]
    assert [(i["meeting"], i["partner"], i["holds"]) for i in export["information_answers"]] \
        == [("M1", "Jeugdzorg", True)]
    assert [(a["id"], a["partner"], a["due"], a["status"]) for a in export["actions"]] == [
        ("A1", "Politie", "2026-12-03", "open"), ("A2", "Jeugdzorg", "2026-12-11", "open")]
    a2 = export["actions"][1]
    assert [(h["kind"], h["old"], h["new"]) for h in a2["history"]] == [
        ("created", None, "2026-12-10"), ("moved", "2026-12-10", "2026-12-11"),
        ("described", "Gesprek plannen", "Gesprek plannen met school")]
    # who received what about it, and when
    sent = {(m["template"], m["recipient"], m["user"]) for m in export["messages"]}
    assert ("agenda/agenda", "room", None) in sent
    assert ("agenda/agenda", "direct", JZ) in sent  # Jeugdzorg's own lines, by DM
    assert ("action/overdue", "room", None) in sent
    direct = [m for m in export["messages"] if m["recipient"] == "direct"]
    assert {tuple(m["partners"]) for m in direct} == {("Jeugdzorg",)}
    assert all(m["meeting"] == "M1" for m in export["messages"]
               if m["template"] == "agenda/agenda")
    overdue = [m for m in export["messages"] if m["template"] == "action/overdue"]
    assert overdue and "Politie" in overdue[0]["partners"]
    assert all(m["sent_at"] is None and not m["delivered"] for m in export["messages"])
    # the audit entries about it: the case's and its actions', not case B's or A3's
    actions = {e["action"] for e in export["audit"]}
    assert {"case.open", "weging.via_casusoverleg", "case.partner.add", "action.add",
            "action.move", "action.edit"} <= actions
    subjects = " ".join(e["subject"] for e in export["audit"])
    assert held.b not in subjects and "A3" not in subjects  # type: ignore[attr-defined]
    assert held.b not in json.dumps(export)  # type: ignore[attr-defined]


def test_the_export_is_json_html_and_pdf_in_the_overlegs_language(
        held: Say, session: Session, renderer: Renderer) -> None:
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    export = casefile.collect(session, overleg, case, NOW)
    assert json.loads(files.render("json", export, renderer, "nl", overleg.timezone)) == \
        json.loads(json.dumps(export))
    for locale in ("nl", "en"):
        html = files.render("html", export, renderer, locale, overleg.timezone).decode()
        assert f'<html lang="{locale}">' in html
        for shown in (held.a, "A1", "A2", "M1", "Jeugdzorg",  # type: ignore[attr-defined]
                      "Gesprek plannen met school", JZ):
            assert shown in html, (locale, shown)
    pdf = files.render("pdf", export, renderer, "en", overleg.timezone)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 2000


def test_the_html_export_escapes_what_was_typed(held: Say, session: Session,
                                                renderer: Renderer) -> None:
    assert held.key("!actie wijzig A1 Overleg <i>school</i>") == "action/edited"
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    html = files.as_html(casefile.collect(session, overleg, case, NOW), renderer, "nl",
                         overleg.timezone)
    assert "Overleg &lt;i&gt;school&lt;/i&gt;" in html and "<i>school" not in html


def test_the_pdf_without_a_unicode_font_uses_latin1(held: Say, session: Session,
                                                     renderer: Renderer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "UNICODE_FONTS", ())
    held.one("!actie wijzig A1 Huisbezoek → wijkteam … daarna łącze")
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    pdf = files.render("pdf", casefile.collect(session, overleg, case, NOW), renderer, "nl",
                       overleg.timezone)
    assert pdf.startswith(b"%PDF-")
    assert files._latin1("→ … ą é ł") == "-> ... a é ?"


# ---- erasure ----------------------------------------------------------------------------------
def test_erasure_removes_the_case_leaves_a_tombstone_and_tells_the_chair(
        held: Say, session: Session) -> None:
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    assert case.id is not None
    code, case_id = case.code, case.id
    action_ids = [a.id for a in session.exec(select(Action).where(Action.case_id == case_id))]
    case_timers = select(Timer).where(Timer.subject_id == case_id,
                                      col(Timer.kind).in_(("case.review", "case.followup",
                                                           "case.monitor")))
    assert {t.kind for t in session.exec(case_timers)} == {"case.review", "case.followup"}
    before = casefile.removal(session, case)
    assert before["actions"] == 2 and before["agenda lines"] == 1 and before["messages"] > 0
    counts, notices = casefile.erase(session, overleg, case, reason="request",
                                     actor="casusbot case erase", now=NOW + timedelta(days=4))
    assert counts["actions"] == 2 and counts["agenda lines"] == 1
    assert counts["information answers"] == 1 and counts["partner links"] == 1
    assert counts["messages"] == before["messages"]
    # rows gone
    assert session.get(Case, case_id) is None
    for table, column in ((Action, Action.case_id), (AgendaItem, AgendaItem.case_id),
                          (InfoAnswer, InfoAnswer.case_id), (CasePartner, CasePartner.case_id)):
        assert session.exec(select(table).where(column == case_id)).all() == []
    assert session.exec(select(ActionChange).where(
        col(ActionChange.action_id).in_(action_ids))).all() == []
    assert session.exec(select(Timer).where(
        col(Timer.subject_id).in_(action_ids),
        col(Timer.kind).in_(("action.due_soon", "action.overdue")))).all() == []
    assert session.exec(case_timers).all() == []
    shown = caseid.display(code)
    assert [r for r in session.exec(select(OutboxMessage)) if shown in r.body] == []
    # case B untouched
    assert cases.by_code_anywhere(session, caseid.normalise(held.b) or "") is not None  # type: ignore[attr-defined]
    assert session.exec(select(Action).where(Action.number == 3)).one() is not None
    # tombstone: the ID is never given out again
    stone = cases.tombstone(session, code)
    assert stone is not None and stone.reason == "request" and stone.overleg_id == overleg.id
    assert cases.code_taken(session, code)
    # audit: subjects naming it blanked, one entry of the erasure, the chain intact
    entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [e for e in entries if shown in e.subject] == [entries[-1]]
    assert (entries[-1].action, entries[-1].subject, entries[-1].role) == (
        "case.erased", f"{shown} request", "admin")
    assert audit.verify(session) is None
    # the chair's notice
    [notice] = notices
    assert (notice.template, notice.room, notice.mentions) == ("case/erased", ROOM, (CHAIR,))
    assert notice.values["case"] == shown
    assert notice.values["withdrawn"] == ["M1"]  # its agenda was not delivered yet


def test_a_delivered_agenda_is_not_named_as_withdrawn(held: Say, session: Session) -> None:
    for row in outbox.pending(session):
        outbox.mark_sent(session, row.id or 0, f"$sent{row.id}", NOW)
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    _, [notice] = casefile.erase(session, overleg, case, reason="request", actor="x", now=NOW)
    assert notice.values["withdrawn"] == []


def test_an_erased_id_is_never_given_out_again(held: Say, session: Session,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    code = case.code
    casefile.erase(session, overleg, case, reason="mistake", actor="x", now=NOW)
    fresh = iter([code, "7K2FJ7"[:-1] + caseid.check_char("7K2FJ")])
    monkeypatch.setattr(caseid, "new_code", lambda length=6: next(fresh))
    opened = held.out("!casus open")
    assert opened.values["case"] != caseid.display(code)


def test_erase_refuses_a_reason_outside_the_list(held: Say, session: Session) -> None:
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        casefile.erase(session, overleg, case, reason="because", actor="x", now=NOW)
    assert session.get(Case, case.id) is not None


# ---- the command line: casusbot case export / erase --------------------------------------------
def _env(tmp_path: Path, url: str) -> Path:
    env = tmp_path / "casusbot.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in {
        "CASUSBOT_HOMESERVER": "http://127.0.0.1:9", "CASUSBOT_USER_ID": "@casusbot:localhost",
        "CASUSBOT_PASSWORD": "x", "CASUSBOT_ADMINS": CHAIR,
        "CASUSBOT_REF_KEY": "test-ref-key-0123456789", "CASUSBOT_DATABASE_URL": url}.items()))
    return env


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


def _held_in(url: str, registry: object, renderer: Renderer) -> str:
    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        say = Say(session, registry, renderer)  # type: ignore[arg-type]
        say.one("!setup Casusoverleg Test")
        say.one("!partner add Politie core")
        shown = re.search(r"C-\w+", say.one("!casus open"))[0]  # type: ignore[index]
        say.one(f"!actie toevoegen {shown} Politie 3-12-2026 Huisbezoek afstemmen")
    engine.dispose()
    return shown


def test_the_command_line_exports_privately_and_erases_after_confirmation(
        url: str, tmp_path: Path, registry: object, renderer: Renderer) -> None:
    shown = _held_in(url, registry, renderer)
    env = _env(tmp_path, url)
    out = tmp_path / "inzage.json"
    done = CliRunner().invoke(main, ["case", "export", shown, "--out", str(out),
                                     "--env-file", str(env)])
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    export = json.loads(out.read_text())
    assert export["case"]["id"] == shown and [a["id"] for a in export["actions"]] == ["A1"]
    assert "case.export" in [e["action"] for e in export["audit"]]
    html = tmp_path / "inzage.html"
    assert CliRunner().invoke(main, ["case", "export", shown, "--out", str(html),
                                     "--env-file", str(env)]).exit_code == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    # erase: a wrong confirmation changes nothing; the ID typed back erases
    refused = CliRunner().invoke(main, ["case", "erase", shown, "--reason", "request",
                                        "--env-file", str(env)], input="C-NOPE\n")
    assert refused.exit_code == 1
    engine = make_engine(url)
    with session_scope(engine) as session:
        assert casefile.find(session, shown) is not None
    erased = CliRunner().invoke(main, ["case", "erase", shown, "--reason", "request",
                                       "--env-file", str(env)], input=f"{shown}\n")
    assert erased.exit_code == 0, erased.output
    with session_scope(engine) as session:
        assert casefile.find(session, shown) is None
        assert cases.tombstone(session, caseid.normalise(shown) or "") is not None
        notice = session.exec(select(OutboxMessage).where(
            OutboxMessage.template == "case/erased")).one()
        assert notice.room_id == ROOM and notice.mentions == CHAIR and shown in notice.body
        assert session.exec(select(AuditEntry.action).where(
            AuditEntry.action == "case.erased")).one()
    again = CliRunner().invoke(main, ["case", "export", shown, "--out", str(out),
                                      "--env-file", str(env)])
    assert again.exit_code == 2 and "erased" in again.output
    engine.dispose()


# ---- findings of the breaking try-out (#24) ---------------------------------------------------
def test_action_numbers_of_an_erased_case_are_never_given_out_again(
        held: Say, session: Session) -> None:
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    casefile.erase(session, overleg, case, reason="request", actor="x", now=NOW)
    # A1 and A2 were the erased case's, A3 is case B's: the next action is A4, not A1
    held.one(f"!actie toevoegen {held.b} Politie 17-12-2026 Dossier bespreken")  # type: ignore[attr-defined]
    numbers = sorted(a.number for a in session.exec(select(Action)))
    assert numbers == [3, 4]
    # the erased actions' audit subjects (A1…, A2…) are blanked; A3's stay
    subjects = [e.subject for e in session.exec(select(AuditEntry).where(
        col(AuditEntry.action).startswith("action.")))]
    assert not [s for s in subjects if re.match(r"A[12]\b", s)]
    assert [s for s in subjects if re.match(r"A3\b", s)]
    assert audit.verify(session) is None
    _, b = _case(session, held.b)  # type: ignore[attr-defined]
    export = casefile.collect(session, overleg, b, NOW)
    assert {e["subject"].split()[0] for e in export["audit"]
            if e["action"].startswith("action.")} <= {"A3", "A4"}


def test_blanking_an_action_number_leaves_a_longer_one_alone(session: Session,
                                                              overleg: Say) -> None:
    for subject in ("A1", "A10 C-7K2FJ7 Politie", "A1 2026-12-03->2026-12-04", "C-A1B2C3"):
        audit.record(session, overleg_id=1, actor="x", role="chair", action="action.move",
                     subject=subject, now=NOW)
    assert audit.erase_subjects_naming(session, ["A1"], 1) == 2
    kept = session.exec(select(AuditEntry.subject).where(
        AuditEntry.subject != audit.PURGED)).all()
    assert "A10 C-7K2FJ7 Politie" in kept and "C-A1B2C3" in kept


def test_the_action_counter_holds_on_both_databases(url: str, registry: object,
                                                     renderer: Renderer) -> None:
    shown = _held_in(url, registry, renderer)  # with A1
    engine = make_engine(url)
    with session_scope(engine) as session:
        overleg, case = _case(session, shown)
        casefile.erase(session, overleg, case, reason="mistake", actor="x", now=NOW)
    with session_scope(engine) as session:
        say = Say(session, registry, renderer)  # type: ignore[arg-type]
        other = re.search(r"C-\w+", say.one("!casus open"))[0]  # type: ignore[index]
        say.one(f"!actie toevoegen {other} Politie 3-12-2026 Huisbezoek afstemmen")
        say.one(f"!actie toevoegen {other} Politie 4-12-2026 Dossier opvragen")
        assert sorted(a.number for a in session.exec(select(Action))) == [2, 3]
    engine.dispose()


def test_replies_naming_only_an_action_go_with_the_case_and_are_in_its_export(
        held: Say, session: Session) -> None:
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    export = casefile.collect(session, overleg, case, NOW)
    templates = {m["template"] for m in export["messages"]}
    assert {"action/moved", "action/edited"} <= templates
    held.one("!actie verplaatsen A3 18-12-2026")  # case B's: stays
    casefile.erase(session, overleg, case, reason="request", actor="x", now=NOW)
    rows = session.exec(select(OutboxMessage)).all()
    for text in ("Gesprek plannen", "Huisbezoek afstemmen"):
        assert [r.id for r in rows if text in r.body or text in (r.formatted_body or "")] == []
    assert [r for r in rows if r.template == "action/moved" and "A3" in r.body]


def test_an_erasure_on_postgresql_leaves_no_text_in_the_planners_samples(
        pg_url: str, tmp_path: Path, registry: object, renderer: Renderer) -> None:
    from sqlalchemy import text
    shown = _held_in(pg_url, registry, renderer)  # its A1: "Huisbezoek afstemmen"
    engine = make_engine(pg_url)
    with session_scope(engine) as session:  # another case stays, so the tables are not empty
        say = Say(session, registry, renderer)  # type: ignore[arg-type]
        other = re.search(r"C-\w+", say.one("!casus open"))[0]  # type: ignore[index]
        say.one(f"!actie toevoegen {other} Politie 4-12-2026 Dossier opvragen")
    sampled = text("SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND "
                   "(histogram_bounds::text LIKE '%Huisbezoek%' "
                   "OR most_common_vals::text LIKE '%Huisbezoek%')")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
        assert conn.execute(sampled).scalar() > 0  # the samples held it
    erased = CliRunner().invoke(main, ["case", "erase", shown, "--reason", "request", "--yes",
                                       "--env-file", str(_env(tmp_path, pg_url))])
    assert erased.exit_code == 0, erased.output
    with engine.connect() as conn:
        assert conn.execute(sampled).scalar() == 0
    engine.dispose()


def _exports(url: str) -> list[str]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        found = list(session.exec(select(AuditEntry.actor).where(
            AuditEntry.action == "case.export")))
    engine.dispose()
    return found


def test_a_failed_export_is_one_line_and_not_audited(tmp_path: Path, registry: object,
                                                     renderer: Renderer) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    shown = _held_in(url, registry, renderer)
    env = _env(tmp_path, url)
    failed = CliRunner().invoke(main, ["case", "export", shown, "--out",
                                       str(tmp_path / "missing" / "x.json"),
                                       "--env-file", str(env)])
    assert failed.exit_code == 2 and failed.exception is not None
    assert isinstance(failed.exception, SystemExit)
    assert "--out" in failed.output and "Traceback" not in failed.output
    assert _exports(url) == []


def test_the_export_refuses_an_existing_file_and_a_symlink(tmp_path: Path, registry: object,
                                                           renderer: Renderer) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    shown = _held_in(url, registry, renderer)
    env = _env(tmp_path, url)
    target = tmp_path / "target.txt"
    target.write_text("keep")
    target.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    for out, extra in ((target, []), (link, []), (link, ["--force"])):
        done = CliRunner().invoke(main, ["case", "export", shown, "--out", str(out),
                                         "--format", "json", "--env-file", str(env), *extra])
        assert done.exit_code == 2, done.output
    assert target.read_text() == "keep" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert _exports(url) == []
    forced = CliRunner().invoke(main, ["case", "export", shown, "--out", str(target),
                                       "--format", "json", "--force", "--env-file", str(env)])
    assert forced.exit_code == 0, forced.output
    assert json.loads(target.read_text())["case"]["id"] == shown
    [who] = _exports(url)
    assert who.startswith("casusbot case export (os user ") and who.endswith(")")


def test_a_case_purged_after_its_term_leaves_a_tombstone(tmp_path: Path, registry: object,
                                                          renderer: Renderer) -> None:
    from commands import retention
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    shown = _held_in(url, registry, renderer)
    engine = make_engine(url)
    with session_scope(engine) as session:
        overleg, case = _case(session, shown)
        retention.purge_case(session, overleg, case, NOW)
    with session_scope(engine) as session:
        code = caseid.normalise(shown) or ""
        stone = cases.tombstone(session, code)
        assert stone is not None and stone.reason == "retention"
        assert cases.code_taken(session, code)
    engine.dispose()
    gone = CliRunner().invoke(main, ["case", "export", shown, "--out", str(tmp_path / "x.json"),
                                     "--env-file", str(_env(tmp_path, url))])
    assert gone.exit_code == 2 and "purged" in gone.output


def test_the_command_line_takes_an_id_as_the_chat_does_and_names_a_typo(
        tmp_path: Path, registry: object, renderer: Renderer) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    shown = _held_in(url, registry, renderer)
    env = _env(tmp_path, url)
    bare = shown[2:].lower()
    done = CliRunner().invoke(main, ["case", "export", bare, "--out", str(tmp_path / "x.json"),
                                     "--env-file", str(env)])
    assert done.exit_code == 0, done.output
    wrong = shown[:-1] + next(c for c in caseid.ALPHABET if c != shown[-1])
    typo = CliRunner().invoke(main, ["case", "export", wrong, "--out", str(tmp_path / "y.json"),
                                     "--env-file", str(env)])
    assert typo.exit_code == 2 and "mistyped" in typo.output and wrong not in typo.output
    assert caseid.mistyped(wrong) and not caseid.mistyped("C-12") and not caseid.mistyped("M3")


def test_a_withdrawn_agenda_takes_its_poll_and_invitation_along(held: Say,
                                                                 session: Session) -> None:
    overleg, case = _case(session, held.a)  # type: ignore[attr-defined]
    unsent = select(OutboxMessage).where(OutboxMessage.room_id == ROOM,
                                         col(OutboxMessage.sent_at).is_(None),
                                         col(OutboxMessage.template).startswith("agenda/"))
    assert {r.template for r in session.exec(unsent)} >= {"agenda/agenda", "agenda/poll",
                                                          "agenda/ics"}
    _, [notice] = casefile.erase(session, overleg, case, reason="request", actor="x", now=NOW)
    assert notice.values["withdrawn"] == ["M1"]
    assert {r.template for r in session.exec(unsent)} & {"agenda/agenda", "agenda/poll",
                                                         "agenda/ics"} == set()


def test_after_an_erasure_the_sqlite_files_hold_no_text_of_its_actions(
        tmp_path: Path, registry: object, renderer: Renderer) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    shown = _held_in(url, registry, renderer)
    engine = make_engine(url)
    with session_scope(engine) as session:
        say = Say(session, registry, renderer)  # type: ignore[arg-type]
        say("!actie wijzig A1 Gesprek met school plannen")
        say("!actie verplaatsen A1 8-12-2026")
    engine.dispose()
    erased = CliRunner().invoke(main, ["case", "erase", shown, "--reason", "request", "--yes",
                                       "--env-file", str(_env(tmp_path, url))])
    assert erased.exit_code == 0, erased.output
    for f in tmp_path.glob("db.sqlite*"):
        data = f.read_bytes()
        assert b"met school" not in data and b"Huisbezoek afstemmen" not in data, f.name


def test_erasing_a_case_leaves_a_longer_id_that_starts_with_its_own_alone(
        overleg: Say, session: Session) -> None:
    """Case IDs have 5 to 8 characters (caseid.MIN_LEN, MAX_LEN): C-<five> and C-<five><one>
    can both exist. Erasing the shorter one removes nothing of the longer one's: its
    messages stay and its audit subjects are not blanked; its export still holds them."""
    overleg.one(f"!lid add {POL} Politie")
    short = caseid.new_code(5)
    long = short + caseid.check_char(short)
    for code in (short, long):
        opened = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
        _, case = _case(session, opened)
        case.code = code
        session.add(case)
        session.flush()
        overleg.one(f"!actie toevoegen C-{code} Politie 10-12-2026 Dossier opvragen")
    naming = re.compile(rf"C-{long}(?![0-9A-Z])")
    kept_rows = {r.id for r in session.exec(select(OutboxMessage)) if naming.search(r.body)}
    kept_audit = {e.id for e in session.exec(select(AuditEntry)) if naming.search(e.subject)}
    assert kept_rows and kept_audit
    overleg_row, case = _case(session, f"C-{short}")
    casefile.erase(session, overleg_row, case, reason="request", actor="casusbot case erase",
                   now=NOW + timedelta(days=1))
    assert kept_rows <= {r.id for r in session.exec(select(OutboxMessage))}
    assert {e.id for e in session.exec(select(AuditEntry))
            if e.subject != audit.PURGED} >= kept_audit
    _, other = _case(session, f"C-{long}")
    export = casefile.collect(session, overleg_row, other, NOW + timedelta(days=1))
    assert kept_audit <= {a["id"] for a in export["audit"]}
    assert audit.verify(session) is None


def _erase_the_case(app: Any, now: datetime) -> None:
    """Erase the one case of ``app``'s database, as an administrator does."""
    from storage.models import Case, Overleg

    with session_scope(app.engine) as s:
        case = s.exec(select(Case)).one()
        overleg = s.get(Overleg, case.overleg_id)
        assert overleg is not None
        casefile.erase(s, overleg, case, reason="objection", actor=CHAIR, now=now)


def test_an_erasure_during_a_sweep_of_its_reminders_removes_what_the_sweep_wrote(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: a sweep has claimed the case's overdue reminder (its timers held FOR
    UPDATE) and written the message, not yet committed, when the case is erased. The
    erasure waits for it and removes that message too (before, it read the messages to
    remove before it waited, and the reminder naming the case stayed to be sent)."""
    import threading

    from bot.clock import FakeClock
    from commands import timed
    from commands.inbound import Inbound
    from storage.models import Case
    from tests.unit.apps import throwaway_app

    clock = FakeClock(NOW)
    app = throwaway_app(pg_url, clock)
    app.record_join(ROOM, NOW - timedelta(days=1))
    for n, line in enumerate(("!setup Overleg", "!partner add Politie core", "!casus open")):
        app.handle(Inbound(f"$e{n}", ROOM, CHAIR, line, clock.now(), encrypted=True))
    with session_scope(app.engine) as s:
        code = s.exec(select(Case)).one().code
    app.handle(Inbound("$e9", ROOM, CHAIR, f"!actie add C-{code} Politie 2-12-2026 Stap",
                       clock.now(), encrypted=True))
    clock.set(NOW + timedelta(days=2))  # the action is overdue

    written, go = threading.Event(), threading.Event()
    enqueue = timed.outbox.enqueue

    def held_open(*args: object) -> None:
        enqueue(*args)  # type: ignore[arg-type]
        written.set()
        go.wait(30)  # the sweep's transaction stays open

    monkeypatch.setattr(timed.outbox, "enqueue", held_open)
    swept: list[list[str]] = []
    sweeper = threading.Thread(target=lambda: swept.append(
        [r.template for r in app.sweep().replies]))
    sweeper.start()
    assert written.wait(30)

    eraser = threading.Thread(target=_erase_the_case, args=(app, clock.now()))
    eraser.start()
    eraser.join(1.0)  # it waits for the sweep's lock
    go.set()
    sweeper.join(30)
    eraser.join(30)
    assert swept == [["action/overdue"]]
    with session_scope(app.engine) as s:
        left = [r.template for r in s.exec(select(OutboxMessage))
                if code in r.body or "Stap" in r.body]
    assert left == []
    app.engine.dispose()


@pytest.mark.parametrize("first", ["sweep", "erasure"])
def test_the_overlegs_digest_never_names_a_case_erased_while_it_was_swept(
        pg_url: str, monkeypatch: pytest.MonkeyPatch, first: str) -> None:
    """PostgreSQL: the coordinator's daily digest (a timer of the whole overleg, not of the
    case) is swept while the case is erased. Either the erasure waits for the sweep and
    removes its digest, or the sweep passes the overleg's timers the erasure holds and the
    digest comes after it, without the case."""
    import itertools
    import threading
    from datetime import UTC

    from bot.clock import FakeClock
    from commands import retention, timed
    from commands.inbound import Inbound
    from storage.models import Case
    from tests.unit.apps import throwaway_app

    clock = FakeClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # a Tuesday, 09:00
    app = throwaway_app(pg_url, clock)
    app.record_join(ROOM, clock.now() - timedelta(days=1))
    ids = itertools.count()
    for line in ("!setup Overleg", "!partner add Politie core", "!partner add Gemeente core",
                 "!lid add @coordinator:localhost Gemeente coordinator", "!casus open"):
        app.handle(Inbound(f"$e{next(ids)}", ROOM, CHAIR, line, clock.now(), encrypted=True))
    with session_scope(app.engine) as s:
        code = s.exec(select(Case)).one().code
    app.handle(Inbound("$a", ROOM, CHAIR, f"!actie add C-{code} Politie 30-12-2026 Stap",
                       clock.now(), encrypted=True))
    app.sweep()
    clock.set(datetime(2026, 12, 2, 7, 31, tzinfo=UTC))  # Wednesday: the digest is due

    def erase() -> None:
        _erase_the_case(app, clock.now())

    paused, go = threading.Event(), threading.Event()
    swept: list[list[str]] = []

    def sweeper() -> None:
        swept.append([r.template for r in app.sweep().replies])

    if first == "sweep":
        enqueue = timed.outbox.enqueue

        def held_open(*args: object) -> None:
            enqueue(*args)  # type: ignore[arg-type]
            paused.set()
            go.wait(30)

        monkeypatch.setattr(timed.outbox, "enqueue", held_open)
        threads = [threading.Thread(target=sweeper), threading.Thread(target=erase)]
    else:
        read = retention.case_message_ids

        def held_open_ids(*args: object) -> list[int]:
            found = read(*args)  # type: ignore[arg-type]
            paused.set()
            go.wait(30)
            return found

        monkeypatch.setattr(retention, "case_message_ids", held_open_ids)
        threads = [threading.Thread(target=erase), threading.Thread(target=sweeper)]
    threads[0].start()
    assert paused.wait(30)
    threads[1].start()
    threads[1].join(1.0)  # the erasure waits for the sweep / the sweep passes the erasure
    go.set()
    for t in threads:
        t.join(30)
    monkeypatch.undo()
    app.sweep()  # (after the erasure: the digest it held back)
    with session_scope(app.engine) as s:
        rows = list(s.exec(select(OutboxMessage)))
        named = [r.template for r in rows if code in r.body or "Stap" in r.body]
    assert named == []
    assert swept == ([["action/digest"]] if first == "sweep" else [[]])
    app.engine.dispose()
