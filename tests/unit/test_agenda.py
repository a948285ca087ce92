"""Agendas of case IDs, answers by command, reaction and poll, nudges, all with a fake clock."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from bot.render import Renderer
from commands.agenda import status_view
from commands.inbound import Inbound, handle
from commands.registry import Registry
from storage import agendas, outbox, overlegs
from storage.models import Attendance, Meeting, OutboxMessage
from storage.outbox import Rendered
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


def event(session: Session, registry: Registry, renderer: Renderer,
          **kw: object) -> list[Rendered]:
    defaults: dict[str, object] = {"event_id": f"$ev{next(_n)}", "room_id": ROOM, "text": "",
                                   "sent_at": NOW, "encrypted": True}
    msg = Inbound(**{**defaults, **kw})  # type: ignore[arg-type]
    return handle(session, registry, renderer, SETTINGS, msg,
                   kw.get("sent_at", NOW)).replies  # type: ignore[arg-type]


def agenda_cases(say: Say, line: str = "!agenda show M1") -> list[tuple[str, str]]:
    """The (case, kind) lines of the agenda as ``!agenda show`` gives them."""
    out = say.out(line)
    assert out.template == "agenda/show", out.template
    return [(ln["case"], ln["kind"]) for ln in out.values["lines"]]


def test_agenda_add_show_remove(meet: Say) -> None:
    a, b = meet.a, meet.b  # type: ignore[attr-defined]
    added = meet.out(f"!agenda add M1 {a}")
    assert (added.template, added.values["kind"]) == ("agenda/added", "new")
    added = meet.out(f"!agenda add M1 {b} review")
    assert (added.template, added.values["kind"]) == ("agenda/added", "review")
    assert meet.key(f"!agenda add M1 {a}") == "agenda/already_on"
    assert agenda_cases(meet) == [(a, "new"), (b, "review")]
    assert [ln["partners"] for ln in meet.out("!agenda show M1").values["lines"]] == [
        [], ["Jeugdzorg"]]
    show = meet.one("!agenda show M1")
    assert show.index(a) < show.index(b) and "Jeugdzorg" in show
    assert meet.key(f"!agenda remove M1 {a}") == "agenda/removed"
    assert agenda_cases(meet) == [(b, "review")]
    assert a not in meet.one("!agenda show M1")
    assert meet.key(f"!agenda remove M1 {a}") == "agenda/not_on"


def test_agenda_lines_carry_ids_only(meet: Say, session: Session) -> None:
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    meet.one("!actie add " + meet.a + " Politie 14-12-2026 Zeer geheime omschrijving")  # type: ignore[attr-defined]
    for r in meet("!agenda send M1"):
        assert "geheime" not in r.body and "geheime" not in (r.content_json or "")
        assert "geheime" not in (r.attachment or "")


def test_second_agenda_kind_defaults_to_review(meet: Say) -> None:
    meet.one("!overleg plan 22-12-2026 14:00")
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    added = meet.out(f"!agenda add M2 {meet.a}")  # type: ignore[attr-defined]
    assert (added.template, added.values["kind"]) == ("agenda/added", "review")


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


def test_send_refusals(meet: Say, session: Session) -> None:
    assert meet.key("!agenda send M1") == "agenda/empty"
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    assert meet.key("!agenda send M1", now=datetime(2026, 12, 15, 13, 5, tzinfo=UTC)) == \
        "agenda/started"
    assert meet.key("!agenda send M1", sender=POL) == "error/chair_only"
    assert session.exec(select(Meeting)).first().agenda_sent_at is None  # type: ignore[union-attr]


def test_changes_after_sending_send_again_marked_changed(meet: Say) -> None:
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    meet("!agenda send M1")
    out = meet(f"!agenda add M1 {meet.b}")  # type: ignore[attr-defined]
    sent = list(zip(meet.sent, out, strict=True))
    reply = sent[0][0]
    assert (reply.template, reply.values["sent"]) == ("agenda/added", True)  # resent, it says
    agendas_ = [(r.room_id, o.values["changed"]) for o, r in sent if o.template == "agenda/agenda"]
    assert sorted(agendas_) == sorted([(ROOM, True), (JZ, True), (JZ2, True)])


def test_cancel_and_move_send_notices_only_after_sending(meet: Say) -> None:
    meet.one(f"!agenda add M1 {meet.b}")  # type: ignore[attr-defined]
    assert len(meet("!overleg move M1 16-12-2026 14:00")) == 1  # not sent yet: no notice
    meet("!agenda send M1")
    moved = meet("!overleg move M1 17-12-2026 14:00")
    notices = [(r.room_id, o.values["moved"]) for o, r in zip(meet.sent, moved, strict=True)
               if o.template == "agenda/cancelled"]
    assert sorted(notices) == sorted([(ROOM, True), (JZ, True), (JZ2, True)])
    meet("!agenda send M1")
    cancelled = meet("!overleg cancel M1")
    notices = [(r.room_id, o.values["moved"]) for o, r in
               zip(meet.sent, cancelled, strict=True) if o.template == "agenda/cancelled"]
    assert sorted(notices) == sorted([(ROOM, False), (JZ, False), (JZ2, False)])


# ---- answers -------------------------------------------------------------------------------
def test_confirm_last_answer_wins_and_history_is_kept(meet: Say, session: Session) -> None:
    yes = meet.reply("!bevestig M1 ja", sender=POL)
    assert yes.template == "agenda/confirmed" and "Politie" in yes.body and "M1" in yes.body
    assert meet.key("!confirm M1 no", sender=POL) == "agenda/confirmed"
    assert [a.attends for a in agendas.history(session, 1)] == [True, False]
    assert agendas.current_answers(session, 1)[1].attends is False


def test_delegation_must_be_a_member_of_the_same_partner(meet: Say, session: Session) -> None:
    refused = meet.out(f"!bevestig M1 ja gedelegeerd {POL}", sender=JZ)
    assert refused.template == "agenda/bad_delegate"
    assert (refused.values["delegate"], refused.values["partner"]) == (POL, "Jeugdzorg")
    assert session.exec(select(Attendance)).all() == []
    reply = meet.reply(f"!bevestig M1 ja gedelegeerd {JZ2}", sender=JZ)
    assert reply.template == "agenda/confirmed" and JZ2 in reply.body
    [answer] = session.exec(select(Attendance)).all()
    assert (answer.user_id, answer.delegate, answer.attends) == (JZ, JZ2, True)


def test_answers_need_a_partner_and_a_coming_meeting(meet: Say, session: Session) -> None:
    assert meet.key("!bevestig M1 ja") == "agenda/no_partner"  # the chair
    later = datetime(2026, 12, 15, 14, 0, tzinfo=UTC)
    assert meet.key("!bevestig M1 ja", sender=POL, now=later) == "agenda/started"
    assert meet.key("!bevestig M7 ja", sender=POL) == "meeting/unknown"
    assert meet.key("!bevestig M1 misschien", sender=POL) == "error/bad_choice"
    assert session.exec(select(Attendance)).all() == []


def test_info_per_case_and_need_to_know(meet: Say) -> None:
    a, b = meet.a, meet.b  # type: ignore[attr-defined]
    meet.one(f"!agenda add M1 {a}")
    assert meet.key(f"!informatie M1 {b} ja", sender=POL) == "agenda/not_on"
    meet.one(f"!agenda add M1 {b}")
    holds = meet.out(f"!informatie M1 {a} ja", sender=POL)
    assert (holds.template, holds.values["partner"], holds.values["holds"]) == (
        "agenda/info", "Politie", True)
    assert meet.key(f"!info M1 {a} yes", sender=JZ) == "case/unknown"  # not linked to A
    none = meet.out(f"!info M1 {b} no", sender=JZ)
    assert (none.template, none.values["partner"], none.values["holds"]) == (
        "agenda/info", "Jeugdzorg", False)


def test_status_quorum_of_core_partners(meet: Say) -> None:
    a, b = meet.a, meet.b  # type: ignore[attr-defined]
    meet.one(f"!agenda add M1 {a}")
    meet.one(f"!agenda add M1 {b}")
    meet.one(f"!informatie M1 {a} ja", sender=GEM)
    meet.one("!bevestig M1 ja", sender=POL)
    def status() -> dict[str, Any]:
        out = meet.out("!status M1")
        assert out.template == "agenda/status"
        return dict(out.values["status"])

    now = status()
    assert now["quorum"] is False
    assert {p["name"]: (p["state"], p["by"]) for p in now["partners"]} == {
        "Politie": ("yes", POL), "Gemeente": ("none", None), "Jeugdzorg": ("none", None)}
    assert [(ln["case"], ln["holders"]) for ln in now["lines"]] == [(a, ["Gemeente"]), (b, [])]
    meet.one("!bevestig M1 nee", sender=GEM)
    assert {p["name"]: p["state"] for p in status()["partners"]}["Gemeente"] == "no"
    meet.one("!bevestig M1 ja", sender=GEM)
    assert status()["quorum"] is True  # externals are not needed
    assert meet.key("!status M1", sender=POL) == "error/chair_only"


def test_reaction_poll_and_withdrawn_reaction(meet: Say, session: Session, registry: Registry,
                                             renderer: Renderer) -> None:
    meet.one(f"!agenda add M1 {meet.b}")  # type: ignore[attr-defined]
    rows = {(r.room_id, r.event_type, r.msgtype): r for r in meet("!agenda send M1")}
    delivered = {r.txn_id: r for r in deliver(session)}
    assert delivered
    room_agenda = next(r for r in outbox_rows(session) if r.room_id == ROOM
                       and r.template == "agenda/agenda")
    poll = next(r for r in outbox_rows(session) if r.room_id == JZ
                and r.event_type == "m.poll.start")
    assert rows

    # ✅ on the room's agenda: Politie attends.
    [reply] = event(session, registry, renderer, sender=POL, kind="reaction",
                    relates_to=room_agenda.remote_id, key="✅", event_id="$react1")
    assert reply.template == "agenda/confirmed"
    assert [(a.attends, a.source) for a in agendas.history(session, 1)] == [(True, "reaction")]
    # A vote in the poll of a DM: Jeugdzorg does not attend.
    [reply] = event(session, registry, renderer, sender=JZ, kind="poll_response",
                    room_id="!dm:localhost", relates_to=poll.remote_id, key="no")
    assert reply.template == "agenda/confirmed"
    assert [(a.user_id, a.attends, a.source) for a in agendas.history(session, 1)][-1] == (
        JZ, False, "poll")
    # ❌ replaces ✅ (the last answer counts); removing ❌ brings ✅ back.
    event(session, registry, renderer, sender=POL, kind="reaction",
          relates_to=room_agenda.remote_id, key="❌", event_id="$react2")
    assert agendas.current_answers(session, 1)[1].attends is False
    [reply] = event(session, registry, renderer, sender=POL, kind="redaction",
                    redacts="$react2")
    assert reply.template == "agenda/withdrawn"
    assert agendas.current_answers(session, 1)[1].attends is True
    [reply] = event(session, registry, renderer, sender=POL, kind="redaction",
                    redacts="$react1")
    assert reply.template == "agenda/withdrawn"
    assert 1 not in agendas.current_answers(session, 1)


def test_reactions_elsewhere_are_ignored_and_not_recorded(
        meet: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    before = len(session.exec(select(OutboxMessage)).all())
    assert event(session, registry, renderer, sender=POL, kind="reaction",
                 relates_to="$something-else", key="✅") == []
    meet.one(f"!agenda add M1 {meet.a}")  # type: ignore[attr-defined]
    meet("!agenda send M1")
    agenda = next(r for r in deliver(session) if r.template == "agenda/agenda")
    assert event(session, registry, renderer, sender=POL, kind="reaction",
                 relates_to=agenda.remote_id, key="🎉") == []
    stranger = event(session, registry, renderer, sender="@x:localhost", kind="reaction",
                     relates_to=agenda.remote_id, key="✅")
    assert [r.template for r in stranger] == ["error/not_a_member"]
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
    agenda = [(t, r) for t, r in sent if r.room_id == ROOM and r.template == "agenda/agenda"]
    nudges = [(t, r) for t, r in sent if r.template == "agenda/nudge"]
    summaries = [(t, r) for t, r in sent if r.room_id == CHAIR and r.template == "agenda/summary"]
    [(t_agenda, _)] = agenda
    [(t_nudge, nudge)] = nudges
    assert t_agenda.astimezone(AMS) == datetime(2027, 3, 25, 9, 0, tzinfo=AMS)  # winter time
    assert t_nudge.astimezone(AMS) == datetime(2027, 3, 28, 9, 0, tzinfo=AMS)  # summer time
    assert t_agenda.hour == 8 and t_nudge.hour == 7  # in UTC: the wall clock stays 09:00
    assert POL in nudge.mentions and "Politie" in nudge.body
    assert len(summaries) == 1
    # Politie did not answer: the summary is the status of M1 with the quorum not reached.
    o = overlegs.by_room(session, ROOM)
    m1 = session.exec(select(Meeting)).one()
    assert o is not None and status_view(session, o, m1)["quorum"] is False


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
    agendas_sent = [r for r in outbox_rows(session) if r.template == "agenda/agenda"]
    assert [re.findall(r"\bM\d+\b", r.body)[0] for r in agendas_sent] == ["M2"]


def test_empty_agenda_is_looked_at_again_next_day(overleg: Say, session: Session,
                                                  renderer: Renderer) -> None:
    overleg.one("!overleg plan 15-12-2026 14:00")
    sweep(session, renderer, datetime(2026, 12, 10, 8, 0, tzinfo=UTC))  # due, but empty
    assert not [r for r in outbox_rows(session) if r.template == "agenda/agenda"]
    code = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    overleg.one(f"!agenda add M1 {code}", now=datetime(2026, 12, 10, 12, tzinfo=UTC))
    sweep(session, renderer, datetime(2026, 12, 11, 8, 0, tzinfo=UTC))
    assert len([r for r in outbox_rows(session) if r.template == "agenda/agenda"]) == 1


def test_time_is_when_the_partner_spoke_not_when_the_bot_handled_it(
        meet: Say, session: Session, registry: Registry) -> None:
    """Sent at 13:40, handled at 14:20 (the bot was restarting): before M1's start, so it
    counts. One sent at 14:05 is refused as too late, however soon it is handled."""
    start = datetime(2026, 12, 15, 13, 0, tzinfo=UTC)  # 14:00 in Amsterdam
    on_time = Inbound("$spoke-early", ROOM, POL, "!bevestig M1 ja",
                      start - timedelta(minutes=20), encrypted=True)
    [reply] = handle(session, registry, meet._render, SETTINGS, on_time,
                     start + timedelta(minutes=20)).replies
    assert reply.template == "agenda/confirmed"
    [answer] = session.exec(select(Attendance)).all()
    assert (answer.user_id, answer.attends) == (POL, True)
    too_late = Inbound("$spoke-late", ROOM, POL, "!bevestig M1 nee",
                       start + timedelta(minutes=5), encrypted=True)
    [refused] = handle(session, registry, meet._render, SETTINGS, too_late,
                       start + timedelta(minutes=5)).replies
    assert refused.template == "agenda/started"
    assert len(session.exec(select(Attendance)).all()) == 1


def test_a_timestamp_from_the_future_is_taken_as_now(meet: Say, session: Session,
                                                     registry: Registry) -> None:
    """A sender's server clock ahead of ours cannot move an answer given after the start
    to before it: the event's time is never later than the bot's now."""
    start = datetime(2026, 12, 15, 13, 0, tzinfo=UTC)
    ahead = Inbound("$ahead", ROOM, POL, "!bevestig M1 ja", start + timedelta(days=1),
                    encrypted=True)
    [reply] = handle(session, registry, meet._render, SETTINGS, ahead,
                     start + timedelta(minutes=5)).replies
    assert reply.template == "agenda/started"
    assert session.exec(select(Attendance)).all() == []


def test_an_events_time_is_believed_at_most_a_day_back(meet: Say, session: Session,
                                                       registry: Registry) -> None:
    """A sender's server clock 30 days behind cannot confirm a meeting two days after it;
    and a date that is past when the command is handled is past, whenever it was said."""
    start = datetime(2026, 12, 15, 13, 0, tzinfo=UTC)
    backdated = Inbound("$backdated", ROOM, POL, "!bevestig M1 ja", start - timedelta(days=30),
                        encrypted=True)
    [reply] = handle(session, registry, meet._render, SETTINGS, backdated,
                     start + timedelta(days=2)).replies
    assert reply.template == "agenda/started"
    assert session.exec(select(Attendance)).all() == []
    handled = datetime(2026, 12, 17, 9, 0, tzinfo=UTC)
    plan = Inbound("$late-plan", ROOM, CHAIR, "!overleg plan 17-12-2026 08:00",
                   handled - timedelta(days=2), encrypted=True)
    [refused] = handle(session, registry, meet._render, SETTINGS, plan, handled).replies
    assert refused.template == "meeting/in_past"
