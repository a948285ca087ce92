"""The covenant's rules with a fake clock: annex 1, phases, weging outcomes, monitoring."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.render import Renderer
from storage.models import Case, CasePartner, Partner, Timer
from tests.unit.conftest import ADMIN, CHAIR, NOW, ROOM, Say
from tests.unit.test_actions import run_until

POL = "@politie1:localhost"
JZ = "@jeugd1:localhost"
RVDK = "@rvdk1:localhost"


def code(say: Say, line: str = "!casus open") -> str:
    return re.search(r"C-\w+", say.one(line))[0]  # type: ignore[index]


def phase_of(session: Session, shown: str) -> str:
    return session.exec(select(Case).where(Case.code == shown[2:])).one().phase


# ---- annex 1 -------------------------------------------------------------------------------
def test_external_partner_must_be_on_annex_1(say: Say, session: Session) -> None:
    say.one("!setup Overleg")
    assert say.key("!partner add Stichting Ergens") == "covenant/not_on_annex"
    assert session.exec(select(Partner)).all() == []
    assert say.key("!partner add Stichting Ergens core") == "partner/added"  # core is fine
    assert say.key("!annex add Zorg Noord door burgemeester", sender=POL) == "error/admin_only"
    added = say.out("!annex add Zorg Noord door burgemeester Teststad", sender=ADMIN)
    assert added.template == "covenant/annex_added"
    assert dict(added.values) == {"organisation": "Zorg Noord",
                                  "approver": "burgemeester Teststad"}
    assert say.key("!partner add zorg noord external") == "partner/added"
    assert {(p.name, p.kind) for p in session.exec(select(Partner))} == {
        ("Stichting Ergens", "core"), ("zorg noord", "external")}
    listing = say.reply("!annex list")
    assert listing.template == "covenant/annex_list"
    assert "Zorg Noord" in listing.body and "burgemeester Teststad" in listing.body
    assert say.key("!annex add Zorg Zuid", sender=ADMIN) == "covenant/annex_usage"


def test_removing_from_the_annex_unlinks_everywhere_and_tells_the_chair(
        overleg: Say, session: Session) -> None:
    a, b = code(overleg), code(overleg)
    overleg.one(f"!casus partner {a} add Jeugdzorg")
    overleg.one(f"!casus partner {b} add Jeugdzorg")
    out = overleg("!annex remove Jeugdzorg door burgemeester Teststad", sender=ADMIN)
    notice = [r for r in out
              if r.room_id == ROOM and r.template == "covenant/annex_removed_notice"]
    assert len(notice) == 1 and a in notice[0].body and b in notice[0].body
    assert session.exec(select(CasePartner)).all() == []
    assert overleg.key("!partner add Jeugdzorg Twee") == "covenant/not_on_annex"
    from storage import audit

    assert [e.action for e in audit.entries(session) if e.action.startswith("annex")] == [
        "annex.add", "annex.unlink", "annex.remove"]


# ---- phases ----------------------------------------------------------------------------------
def test_phases_explicit_and_implicit(overleg: Say, session: Session) -> None:
    c = code(overleg)
    assert phase_of(session, c) == "melding"
    overleg.one("!overleg plan 9-12-2026 10:00 weging")
    overleg.one("!overleg plan 15-12-2026 14:00")
    overleg.one(f"!agenda add M1 {c}")  # a weegoverleg: the signal is weighed
    assert phase_of(session, c) == "weging"
    overleg.one(f"!agenda add M2 {c}")  # a casusoverleg: weging -> casusoverleg
    assert phase_of(session, c) == "casusoverleg"
    assert overleg.key(f"!casus fase {c} monitoren") == "covenant/phase"
    assert phase_of(session, c) == "monitoren"
    listing = overleg.out("!casus list")
    assert [(g["phase"], [x["id"] for x in g["cases"]]) for g in listing.values["groups"]] == [
        ("monitoren", [c])]
    assert c in overleg.one("!casus list")
    shown = overleg.out(f"!casus show {c}")
    assert (shown.template, shown.values["phase"]) == ("case/show", "monitoren")
    overleg.one(f"!casus close {c}")
    assert phase_of(session, c) == "afgesloten"
    agenda = overleg.out("!agenda show M2")
    assert [(ln["case"], ln["phase"]) for ln in agenda.values["lines"]] == [(c, "afgesloten")]


@pytest.mark.parametrize(("outcome", "phase", "closed"), [
    ("geen-actie", "afgesloten", True),
    ("strafrechtelijk via OM", "afgesloten", True),
    ("casusoverleg", "casusoverleg", False),
])
def test_weging_outcomes(overleg: Say, session: Session, outcome: str, phase: str,
                         closed: bool) -> None:
    c = code(overleg)
    assert overleg.key(f"!weging {c} {outcome}") == "covenant/weging"
    case = session.exec(select(Case).where(Case.code == c[2:])).one()
    assert case.phase == phase and (case.status == "closed") == closed
    if closed:
        assert case.close_reason in ("geen_actie", "strafrechtelijk")
    from storage import audit

    assert any(e.action.startswith("weging.") for e in audit.entries(session, 1))


def test_more_information_reminds_the_chair(overleg: Say, session: Session,
                                            renderer: Renderer) -> None:
    c = code(overleg)
    assert overleg.key(f"!weging {c} meer-informatie") == "covenant/followup_needed"
    assert overleg.key(f"!weging {c} meer-informatie 1-12-2026") == "covenant/followup_in_past"
    assert session.exec(select(Timer).where(Timer.kind == "case.followup")).all() == []
    assert overleg.key(f"!weging {c} meer informatie nodig 10-12-2026") == "covenant/weging"
    assert len(session.exec(select(Timer).where(Timer.kind == "case.followup")).all()) == 1
    sent = run_until(session, renderer, NOW, datetime(2026, 12, 12, tzinfo=UTC))
    follow = [(t, r) for t, r in sent if r.template == "covenant/followup"]
    assert all(c in r.body for _, r in follow)
    assert [r.room_id for _, r in follow] == [CHAIR]
    assert follow[0][0] == datetime(2026, 12, 10, 8, 0, tzinfo=UTC)


def test_monitoring_comes_back_every_12_weeks_and_asks_to_close(
        overleg: Say, session: Session, renderer: Renderer) -> None:
    c = code(overleg)
    overleg.one(f"!casus fase {c} monitoren")
    # No casusoverleg planned at 12 weeks: the chair is asked to plan one, and (nothing
    # happened in the period) whether to close the case.
    sent = run_until(session, renderer, NOW, NOW + timedelta(weeks=12, days=1))
    to_chair = [(r.template, r.body) for _, r in sent if r.room_id == CHAIR]
    assert any(k == "covenant/close_prompt" and c in b for k, b in to_chair)
    assert any(k == "covenant/monitor_no_meeting" for k, _ in to_chair)
    # A meeting after the next 12 weeks: the case is put on its agenda as a review.
    later = NOW + timedelta(weeks=12, days=1)
    overleg.one("!overleg plan 15-6-2027 14:00", now=later)
    sent = run_until(session, renderer, later, NOW + timedelta(weeks=24, days=1))
    room = [r.body for _, r in sent
            if r.room_id == ROOM and r.template == "covenant/monitor_agenda"]
    assert len(room) == 1 and c in room[0]
    assert c in overleg.one("!agenda show M1", now=later)


# ---- meeting kinds ---------------------------------------------------------------------------
def test_weging_invites_core_partners_only_and_its_quorum(overleg: Say) -> None:
    overleg.one(f"!lid add {POL} Politie")
    overleg.one(f"!lid add {JZ} Jeugdzorg")
    overleg.one("!partner add Raad voor de Kinderbescherming case")
    overleg.one(f"!lid add {RVDK} Raad voor de Kinderbescherming")
    c = code(overleg)
    overleg.one(f"!casus partner {c} add Jeugdzorg")
    overleg.one(f"!casus partner {c} add Raad voor de Kinderbescherming")
    overleg.one("!overleg plan 9-12-2026 10:00 weging")
    overleg.one("!overleg plan 15-12-2026 14:00 casusoverleg")
    overleg.one(f"!agenda add M1 {c}")
    overleg.one(f"!agenda add M2 {c}")
    weging = overleg("!agenda send M1")
    assert {r.room_id for r in weging} == {ROOM}  # no DMs: externals are not invited
    casus = overleg("!agenda send M2")
    assert {r.room_id for r in casus} == {ROOM, JZ, RVDK}
    for line in ("!bevestig M1 ja", "!bevestig M2 ja"):
        overleg.one(line, sender=POL)
    overleg.one("!bevestig M1 ja", sender="@gemeente1:localhost")  # not a member: refused
    overleg.one("!lid add @gemeente1:localhost Gemeente")
    for m in ("M1", "M2"):
        overleg.one(f"!bevestig {m} ja", sender="@gemeente1:localhost")
    status_weging = overleg.out("!status M1")
    assert status_weging.template == "agenda/status"
    assert status_weging.values["status"]["quorum"] is True
    assert "Jeugdzorg" not in [p["name"] for p in status_weging.values["status"]["partners"]]
    assert "Jeugdzorg" not in overleg.one("!status M1")
    status_casus = overleg.out("!status M2")
    # The casusoverleg also needs the linked case partner (RvdK); externals do not count.
    assert status_casus.values["status"]["quorum"] is False
    overleg.one("!bevestig M2 ja", sender=RVDK)
    assert overleg.out("!status M2").values["status"]["quorum"] is True
