"""Agendas of case IDs, answers by command, reaction and poll, nudges, all with a fake clock."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from bot.render import Renderer
from commands.inbound import Inbound, handle
from commands.registry import Registry
from storage import agendas, outbox
from storage.models import Attendance, OutboxMessage
from tests.unit.conftest import CHAIR, NOW, ROOM, SETTINGS, Say, sweep

AMS = ZoneInfo("Europe/Amsterdam")
POL = "@politie1:localhost"
GEM = "@gemeente1:localhost"
JZ = "@jeugd1:localhost"
JZ2 = "@jeugd2:localhost"
_n = iter(range(10**6))


@pytest.fixture
def meet(overleg: Say) -> Say:
    """Politie and Gemeente core, Jeugdzorg external linked to case B; M1 on 15 Dec 14:00."""
    for line in (f"!lid add {POL} Politie", f"!lid add {GEM} Gemeente",
                 f"!lid add {JZ} Jeugdzorg", f"!lid add {JZ2} Jeugdzorg",
                 "!overleg plan 15-12-2026 14:00 op Stadhuis"):
        overleg.one(line)
    a = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    b = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    overleg.one(f"!casus partner {b} add Jeugdzorg")
    overleg.a, overleg.b = a, b  # type: ignore[attr-defined]
    return overleg


def deliver(session: Session) -> list[OutboxMessage]:
    """Pretend the deliverer sent every pending row; the homeserver gives each an event ID."""
    ids = [row.id for row in outbox.pending(session)]
    for row_id in ids:
        outbox.mark_sent(session, row_id, f"$out{row_id}", NOW)
    return list(session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
                             .order_by(col(OutboxMessage.id))
                             .execution_options(populate_existing=True)))


def event(session: Session, registry: Registry, renderer: Renderer, **kw: object) -> list[str]:
    defaults: dict[str, object] = {"event_id": f"$ev{next(_n)}", "room_id": ROOM, "text": "",
                                   "sent_at": NOW, "encrypted": True}
    msg = Inbound(**{**defaults, **kw})  # type: ignore[arg-type]
    return [r.body for r in handle(session, registry, renderer, SETTINGS, msg,
                                    kw.get("sent_at", NOW)).replies]  # type: ignore[arg-type]


def test_agenda_add_show_remove(meet: Say) -> None:
    a, b = meet.a, meet.b  # type: ignore[attr-defined]
    assert "(nieuw)" in meet.one(f"!agenda add M1 {a}")
    assert "(vervolg)" in meet.one(f"!agenda add M1 {b} review")
    assert "al op de agenda" in meet.one(f"!agenda add M1 {a}")
    show = meet.one("!agenda show M1")
    assert show.index(a) < show.index(b) and "gekoppeld: Jeugdzorg" in show
    assert "van de agenda" in meet.one(f"!agenda remove M1 {a}")
    assert a not in meet.one("!agenda show M1")
    assert "staat niet op de agenda" in meet.one(f"!agenda remove M1 {a}")


def test_agenda_lines_carry_ids_only(meet: Say, session: Session) -> None:
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    meet.one("!actie add " + meet.a + " Politie 14-12-2026 Zeer geheime omschrijving")  # type: ignore[attr-defined]
    for r in meet("!agenda send M1"):
        assert "geheime" not in r.body and "geheime" not in (r.content_json or "")
        assert "geheime" not in (r.attachment or "")


def test_second_agenda_kind_defaults_to_review(meet: Say) -> None:
    meet.one("!overleg plan 22-12-2026 14:00")
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    assert "(vervolg)" in meet.one(f"!agenda add M2 {meet.a}")  # type: ignore[attr-defined]


def test_send_goes_to_the_room_and_externals_get_only_their_lines(meet: Say) -> None:
    a, b = meet.a, meet.b  # type: ignore[attr-defined]
    meet.one(f"!agenda add M1 {a}")
    meet.one(f"!agenda add M1 {b}")
    sent = meet("!agenda send M1")
    by_target: dict[str, list[OutboxMessage]] = {}
    for r in sent:
        by_target.setdefault(r.room_id, []).append(r)  # type: ignore[arg-type]
    assert set(by_target) == {ROOM, JZ, JZ2}  # core members read the room; no DM to them
    room_agenda = by_target[ROOM][0].body
    assert a in room_agenda and b in room_agenda
    for ext in (JZ, JZ2):
        agenda, poll, ics = by_target[ext]
        assert b in agenda.body and a not in agenda.body
        assert poll.event_type == "m.poll.start"
        content = json.loads(poll.content_json or "{}")
        assert [x["id"] for x in content["m.poll.start"]["answers"]] == ["yes", "no"]
        assert "org.matrix.msc3381.poll.start" in content
        assert ics.msgtype == "m.file" and "BEGIN:VCALENDAR" in (ics.attachment or "")
        assert a not in (ics.attachment or "") and b not in (ics.attachment or "")


def test_an_external_partner_without_linked_cases_gets_nothing(meet: Say) -> None:
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    targets = {r.room_id for r in meet("!agenda send M1")}
    assert targets == {ROOM}


def test_send_refusals(meet: Say) -> None:
    assert "leeg" in meet.one("!agenda send M1")
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    assert "al begonnen" in meet.one("!agenda send M1", now=datetime(2026, 12, 15, 13, 5,
                                                                     tzinfo=UTC))
    assert "Alleen de voorzitter" in meet.one("!agenda send M1", sender=POL)


def test_changes_after_sending_send_again_marked_changed(meet: Say) -> None:
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    meet("!agenda send M1")
    out = meet(f"!agenda add M1 {meet.b}")  # type: ignore[attr-defined]
    assert "opnieuw verstuurd" in out[0].body
    changed = [r for r in out if r.room_id == ROOM and r.body.startswith("Gewijzigde agenda")]
    assert len(changed) == 1
    assert any(r.room_id == JZ and r.body.startswith("Gewijzigde agenda") for r in out)


def test_cancel_and_move_send_notices_only_after_sending(meet: Say) -> None:
    meet.one(f"!agenda add M1 {meet.b}")  # type: ignore[attr-defined]
    assert len(meet("!overleg move M1 16-12-2026 14:00")) == 1  # not sent yet: no notice
    meet("!agenda send M1")
    moved = meet("!overleg move M1 17-12-2026 14:00")
    notices = [r for r in moved if "verplaatst; de eerder gestuurde agenda vervalt" in r.body]
    assert {r.room_id for r in notices} == {ROOM, JZ, JZ2}
    meet("!agenda send M1")
    cancelled = meet("!overleg cancel M1")
    assert {r.room_id for r in cancelled if "geannuleerd; de agenda vervalt" in r.body} == \
        {ROOM, JZ, JZ2}


# ---- answers -------------------------------------------------------------------------------
def test_confirm_last_answer_wins_and_history_is_kept(meet: Say, session: Session) -> None:
    assert "Politie komt naar overleg M1" in meet.one("!bevestig M1 ja", sender=POL)
    assert "Politie komt niet" in meet.one("!confirm M1 no", sender=POL)
    assert [a.attends for a in agendas.history(session, 1)] == [True, False]
    assert agendas.current_answers(session, 1)[1].attends is False


def test_delegation_must_be_a_member_of_the_same_partner(meet: Say, session: Session) -> None:
    assert "geen lid van Jeugdzorg" in meet.one(f"!bevestig M1 ja gedelegeerd {POL}",
                                                sender=JZ)
    assert session.exec(select(Attendance)).all() == []
    body = meet.one(f"!bevestig M1 ja gedelegeerd {JZ2}", sender=JZ)
    assert f"gedelegeerd aan {JZ2}" in body


def test_answers_need_a_partner_and_a_coming_meeting(meet: Say) -> None:
    assert "niet aan een partnerorganisatie" in meet.one("!bevestig M1 ja")  # the chair
    later = datetime(2026, 12, 15, 14, 0, tzinfo=UTC)
    assert "al begonnen" in meet.one("!bevestig M1 ja", sender=POL, now=later)
    assert "bestaat niet" in meet.one("!bevestig M7 ja", sender=POL)
    assert "geen keuze" in meet.one("!bevestig M1 misschien", sender=POL)


def test_info_per_case_and_need_to_know(meet: Say) -> None:
    a, b = meet.a, meet.b  # type: ignore[attr-defined]
    meet.one(f"!agenda add M1 {a}")
    assert "staat niet op de agenda" in meet.one(f"!informatie M1 {b} ja", sender=POL)
    meet.one(f"!agenda add M1 {b}")
    assert "Politie heeft relevante" in meet.one(f"!informatie M1 {a} ja", sender=POL)
    assert "bestaat niet" in meet.one(f"!info M1 {a} yes", sender=JZ)  # not linked to A
    assert "Jeugdzorg heeft geen relevante" in meet.one(f"!info M1 {b} no", sender=JZ)


def test_status_quorum_of_core_partners(meet: Say) -> None:
    a, b = meet.a, meet.b  # type: ignore[attr-defined]
    meet.one(f"!agenda add M1 {a}")
    meet.one(f"!agenda add M1 {b}")
    meet.one(f"!informatie M1 {a} ja", sender=GEM)
    meet.one("!bevestig M1 ja", sender=POL)
    status = meet.one("!status M1")
    assert "kernpartners niet compleet" in status
    assert f"Politie: bevestigd ({POL}" in status and "Gemeente: geen antwoord" in status
    assert "Jeugdzorg: geen antwoord" in status
    assert f"{a}: Gemeente" in status and f"{b}: nog niemand" in status
    meet.one("!bevestig M1 nee", sender=GEM)
    assert "Gemeente: afgemeld" in meet.one("!status M1")
    meet.one("!bevestig M1 ja", sender=GEM)
    assert "kernpartners compleet" in meet.one("!status M1")  # externals are not needed
    assert "Alleen de voorzitter" in meet.one("!status M1", sender=POL)


def test_reaction_poll_and_withdrawn_reaction(meet: Say, session: Session, registry: Registry,
                                             renderer: Renderer) -> None:
    meet.one(f"!agenda add M1 {meet.b}")  # type: ignore[attr-defined]
    rows = {(r.room_id, r.event_type, r.msgtype): r for r in meet("!agenda send M1")}
    delivered = {r.txn_id: r for r in deliver(session)}
    assert delivered
    room_agenda = next(r for r in outbox_rows(session) if r.room_id == ROOM
                       and r.body.startswith("Agenda"))
    poll = next(r for r in outbox_rows(session) if r.room_id == JZ
                and r.event_type == "m.poll.start")
    assert rows

    # ✅ on the room's agenda: Politie attends.
    [reply] = event(session, registry, renderer, sender=POL, kind="reaction",
                    relates_to=room_agenda.remote_id, key="✅", event_id="$react1")
    assert "Politie komt naar overleg M1 (via reactie)" in reply
    # A vote in the poll of a DM: Jeugdzorg does not attend.
    [reply] = event(session, registry, renderer, sender=JZ, kind="poll_response",
                    room_id="!dm:localhost", relates_to=poll.remote_id, key="no")
    assert "Jeugdzorg komt niet" in reply and "peiling" in reply
    # ❌ replaces ✅ (the last answer counts); removing ❌ brings ✅ back.
    event(session, registry, renderer, sender=POL, kind="reaction",
          relates_to=room_agenda.remote_id, key="❌", event_id="$react2")
    assert agendas.current_answers(session, 1)[1].attends is False
    [reply] = event(session, registry, renderer, sender=POL, kind="redaction",
                    redacts="$react2")
    assert "ingetrokken" in reply and '"ja" geldt weer' in reply
    assert agendas.current_answers(session, 1)[1].attends is True
    [reply] = event(session, registry, renderer, sender=POL, kind="redaction",
                    redacts="$react1")
    assert "geen antwoord" in reply
    assert 1 not in agendas.current_answers(session, 1)


def test_reactions_elsewhere_are_ignored_and_not_recorded(
        meet: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    before = len(session.exec(select(OutboxMessage)).all())
    assert event(session, registry, renderer, sender=POL, kind="reaction",
                 relates_to="$something-else", key="✅") == []
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    meet("!agenda send M1")
    agenda = next(r for r in deliver(session) if r.body.startswith("Agenda"))
    assert event(session, registry, renderer, sender=POL, kind="reaction",
                 relates_to=agenda.remote_id, key="🎉") == []
    stranger = event(session, registry, renderer, sender="@x:localhost", kind="reaction",
                     relates_to=agenda.remote_id, key="✅")
    assert "geen lid" in stranger[0]
    assert len(session.exec(select(Attendance)).all()) == 0
    assert len(session.exec(select(OutboxMessage)).all()) > before


def outbox_rows(session: Session) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]


# ---- timed: agenda N days before, nudge M days before ---------------------------------------
def test_agenda_and_nudge_times_across_dst(overleg: Say, session: Session,
                                           renderer: Renderer) -> None:
    # Meeting on Tuesday 30 March 2027, after the switch to summer time on 28 March.
    overleg.one(f"!lid add {POL} Politie")
    overleg.one("!overleg plan 30-3-2027 14:00")
    code = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    overleg.one(f"!agenda add M1 {code}")
    from tests.unit.test_actions import run_until

    sent = run_until(session, renderer, NOW, datetime(2027, 3, 31, tzinfo=UTC))
    agenda = [(t, r) for t, r in sent if r.room_id == ROOM and r.body.startswith("Agenda")]
    nudges = [(t, r) for t, r in sent if "laten weten of u komt" in r.body]
    summaries = [(t, r) for t, r in sent if r.room_id == CHAIR and r.body.startswith("Stand")]
    [(t_agenda, _)] = agenda
    [(t_nudge, nudge)] = nudges
    assert t_agenda.astimezone(AMS) == datetime(2027, 3, 25, 9, 0, tzinfo=AMS)  # winter time
    assert t_nudge.astimezone(AMS) == datetime(2027, 3, 28, 9, 0, tzinfo=AMS)  # summer time
    assert t_agenda.hour == 8 and t_nudge.hour == 7  # in UTC: the wall clock stays 09:00
    assert POL in nudge.mentions and "Politie" in nudge.body
    assert len(summaries) == 1 and "niet compleet" in summaries[0][1].body


def test_agenda_missed_while_down_is_sent_late_once_but_not_after_start(
        overleg: Say, session: Session, renderer: Renderer) -> None:
    overleg.one("!overleg plan 10-12-2026 14:00")
    overleg.one("!overleg plan 11-12-2026 14:00")
    code = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    overleg.one(f"!agenda add M1 {code}")
    overleg.one(f"!agenda add M2 {code}")
    # Down from before the agendas were due (5 Dec) until Thursday 10 Dec 15:00: M1 started.
    back = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
    sweep(session, renderer, back)
    sweep(session, renderer, back + timedelta(minutes=1))
    agendas_sent = [r for r in outbox_rows(session) if r.body.startswith("Agenda overleg")]
    assert [r.body.split()[2] for r in agendas_sent] == ["M2"]


def test_empty_agenda_is_looked_at_again_next_day(overleg: Say, session: Session,
                                                  renderer: Renderer) -> None:
    overleg.one("!overleg plan 15-12-2026 14:00")
    sweep(session, renderer, datetime(2026, 12, 10, 8, 0, tzinfo=UTC))  # due, but empty
    assert not [r for r in outbox_rows(session) if r.body.startswith("Agenda overleg")]
    code = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    overleg.one(f"!agenda add M1 {code}", now=datetime(2026, 12, 10, 12, tzinfo=UTC))
    sweep(session, renderer, datetime(2026, 12, 11, 8, 0, tzinfo=UTC))
    assert len([r for r in outbox_rows(session) if r.body.startswith("Agenda overleg")]) == 1
