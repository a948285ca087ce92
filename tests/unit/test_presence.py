"""Presence and confidentiality at a meeting (issue 24), on the fake clock: the question at
the start (or the chair's ``!overleg starten``), once; confirmations by command, reaction and
card; ``!presentie``; no case-level direct message for who did not confirm; audit entries."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from bot.render import Renderer
from bot.teams.cards import TeamsRenderer
from commands.registry import Outgoing, Registry
from storage import audit, overlegs, presence
from storage.models import AuditEntry, Meeting, OutboxMessage, Timer
from tests.unit.conftest import CHAIR, ROOM, Say, sweep
from tests.unit.test_agenda import GEM, JZ, JZ2, POL, deliver, event, meet  # noqa: F401

START = datetime(2026, 12, 15, 13, 0, tzinfo=UTC)  # M1 of ``meet``: 14:00 in Amsterdam
DURING = START + timedelta(minutes=10)
COORD = "@coord:localhost"


@pytest.fixture
def ov(meet: Say) -> Say:  # noqa: F811
    """``test_agenda``'s overleg: Politie, Gemeente, Jeugdzorg (2 members); M1 on 15
    December 14:00; cases A, and B linked to Jeugdzorg."""
    return meet


def _rows(session: Session, template: str, after: int = 0) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).where(
        OutboxMessage.template == template, col(OutboxMessage.id) > after)
        .order_by(col(OutboxMessage.id))))


def _mark(session: Session) -> int:
    return max((r.id or 0 for r in session.exec(select(OutboxMessage))), default=0)


def _meeting(session: Session) -> Meeting:
    m = session.exec(select(Meeting).where(Meeting.number == 1)).one()
    session.refresh(m)
    return m


def _started(ov: Say, session: Session, renderer: Renderer) -> OutboxMessage:
    """Run the clock to M1's start (its agenda went out five days before); the question that
    went out (delivered: it has an ID)."""
    sweep(session, renderer, START - timedelta(days=5))
    sweep(session, renderer, START)
    [question] = _rows(session, "presence/question")
    deliver(session)
    session.refresh(question)
    return question


def test_the_question_goes_out_at_the_start_to_every_member_once(
        ov: Say, session: Session, renderer: Renderer) -> None:
    ov.one(f"!agenda add M1 {ov.a}")  # type: ignore[attr-defined]
    sweep(session, renderer, START - timedelta(minutes=1))
    assert _rows(session, "presence/question") == []  # not before the start
    question = _started(ov, session, renderer)
    assert question.room_id == ROOM and question.ref == f"presence:{_meeting(session).id}"
    assert set(question.mentions.split()) == {CHAIR, POL, GEM, JZ, JZ2}
    m = _meeting(session)
    assert m.presence_asked_at == START and m.presence_confidential is True
    # Once per meeting: the chair's start afterwards is refused, no timer asks again.
    assert ov.key("!overleg starten M1", now=DURING) == "presence/already_asked"
    sweep(session, renderer, START + timedelta(days=1))
    assert len(_rows(session, "presence/question")) == 1
    [entry] = [e for e in audit.entries(session) if e.action == "presence.ask"]
    assert entry.actor == "casusbot" and entry.subject.startswith("M1 confidentiality asked=")
    assert JZ2 in entry.subject


def test_the_chair_starts_on_the_day_only_and_the_start_time_asks_no_more(
        ov: Say, session: Session, renderer: Renderer) -> None:
    assert ov.key("!overleg starten M1") == "presence/not_today"  # two weeks early
    assert ov.key("!overleg starten M1", sender=POL,
                    now=START - timedelta(hours=1)) == "error/chair_only"
    assert ov.keys("!meeting start M1", now=START - timedelta(hours=1)) == [
        "presence/question"]
    assert _meeting(session).presence_asked_at == START - timedelta(hours=1)
    sweep(session, renderer, START)
    assert len(_rows(session, "presence/question")) == 1
    assert [e.actor for e in audit.entries(session) if e.action == "presence.ask"] == [CHAIR]


def test_a_cancelled_meeting_or_a_day_missed_asks_nothing(
        ov: Say, session: Session, renderer: Renderer) -> None:
    ov.one("!overleg plan 16-12-2026 14:00")
    ov.one("!overleg annuleren M1")
    # The bot is down from before M2's start until the next day: no question afterwards.
    sweep(session, renderer, datetime(2026, 12, 17, 9, tzinfo=UTC))
    assert _rows(session, "presence/question") == []
    pending = session.exec(select(Timer).where(Timer.kind == "meeting.start",
                                               col(Timer.handled_at).is_(None))).all()
    assert pending == []


def test_confirm_by_command_and_reaction_and_a_removed_reaction_withdraws(
        ov: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    assert ov.key("!aanwezig M1", sender=POL, now=START - timedelta(hours=1)) \
        == "presence/not_asked"
    question = _started(ov, session, renderer)
    out = ov.out("!aanwezig M1", sender=POL, now=DURING)
    assert out.template == "presence/confirmed" and out.values["partner"] == "Politie"
    assert ov.key("!present M1", sender=POL, now=DURING) == "presence/already"
    # ✅ on the question (any form); another emoji is no answer; a stranger is told.
    assert [r.template for r in event(session, registry, renderer, sender=JZ, kind="reaction",
                                      relates_to=question.remote_id, key="✅\ufe0f",
                                      event_id="$p1", sent_at=DURING)] == ["presence/confirmed"]
    assert event(session, registry, renderer, sender=GEM, kind="reaction",
                 relates_to=question.remote_id, key="🎉", sent_at=DURING) == []
    assert [r.template for r in event(session, registry, renderer, sender="@x:localhost",
                                      kind="reaction", relates_to=question.remote_id,
                                      key="✅", sent_at=DURING)] == ["error/not_a_member"]
    rows = presence.history(session, _meeting(session).id or 0)
    assert [(r.user_id, r.source, r.confidential) for r in rows] == [
        (POL, "command", True), (JZ, "reaction", True)]
    # The reaction removed: JZ's confirmation is gone, POL's (a command) stays.
    assert [r.template for r in event(session, registry, renderer, sender=JZ,
                                      kind="redaction", redacts="$p1", sent_at=DURING)] == [
        "presence/withdrawn"]
    assert set(presence.current(session, _meeting(session).id or 0)) == {POL}
    # Only on the meeting's day (Amsterdam): the next day is too late.
    assert ov.key("!aanwezig M1", sender=GEM,
                    now=datetime(2026, 12, 15, 23, 1, tzinfo=UTC)) == "presence/closed"
    # A reaction on the question of a meeting cancelled since is not recorded.
    ov.one("!overleg annuleren M1", now=DURING)
    assert [r.template for r in event(session, registry, renderer, sender=GEM,
                                      kind="reaction", relates_to=question.remote_id,
                                      key="✅", sent_at=DURING)] == ["meeting/not_planned"]
    actions = [(e.actor, e.action, e.subject) for e in audit.entries(session)
               if e.action.startswith("presence.") and e.action != "presence.ask"]
    assert actions == [(POL, "presence.confidential", "M1 Politie"),
                       (JZ, "presence.confidential", "M1 Jeugdzorg"),
                       (JZ, "presence.withdraw", "M1 Jeugdzorg")]
    assert audit.verify(session) is None


def test_a_card_button_on_teams_confirms(ov: Say, session: Session, registry: Registry,
                                         renderer: Renderer) -> None:
    question = _started(ov, session, renderer)
    replies = event(session, registry, renderer, sender=GEM, kind="card",
                    relates_to=question.remote_id, key="present", data={}, sent_at=DURING)
    assert [r.template for r in replies] == ["presence/confirmed"]
    [row] = presence.history(session, _meeting(session).id or 0)
    assert (row.user_id, row.source) == (GEM, "card")
    # The question on Teams is a card with that one button.
    teams = TeamsRenderer(Renderer(platform="teams"))
    rendered = teams(Outgoing("presence/question", {
        "meeting": _meeting(session), "users": [GEM], "confidential": True, "late": False,
        "late_since": START}, room="19:c"), "19:c")
    assert rendered is not None and rendered.content_json is not None
    card = json.loads(rendered.content_json)["card"]
    assert [a["data"] for a in card["actions"]] == [{"verb": "present"}]


def test_the_attendance_list_per_partner(ov: Say, session: Session,
                                         renderer: Renderer) -> None:
    assert ov.key("!presentie M1") == "presence/not_asked"
    _started(ov, session, renderer)
    ov.one("!aanwezig M1", sender=JZ, now=DURING)
    ov.one("!aanwezig M1", sender=POL, now=DURING)
    out = ov.out("!presentie M1", now=DURING)
    assert out.template == "presence/list"
    groups = {g["partner"]: [(p["user"], p["confirmed"]) for p in g["people"]]
              for g in out.values["groups"]}
    assert groups == {"Gemeente": [(GEM, False)], "Jeugdzorg": [(JZ, True), (JZ2, False)],
                      "Politie": [(POL, True)], None: [(CHAIR, False)]}
    assert (out.values["confirmed"], out.values["total"]) == (2, 5)
    assert ov.key("!attendance M1", sender=POL, now=DURING) == "error/chair_only"


def test_with_confidentiality_switched_off_only_attendance_is_asked(
        ov: Say, session: Session, renderer: Renderer) -> None:
    changed = ov.out("!instellingen geheimhouding uit")
    assert changed.template == "settings/changed"
    assert changed.values["s"]["ask_confidentiality"] is False
    question = _started(ov, session, renderer)
    assert question.template == "presence/question"
    assert _meeting(session).presence_confidential is False
    ov.one("!aanwezig M1", sender=POL, now=DURING)
    [row] = presence.history(session, _meeting(session).id or 0)
    assert row.confidential is False
    assert [e.action for e in session.exec(select(AuditEntry).where(
        col(AuditEntry.action).like("presence.%")))] == ["presence.ask", "presence.present"]
    assert ov.out("!settings confidentiality on").values["s"]["ask_confidentiality"] is True


def test_who_did_not_confirm_gets_no_direct_message_about_the_meetings_cases(
        ov: Say, session: Session, renderer: Renderer) -> None:
    """Jeugdzorg's two members get direct reminders of Jeugdzorg's action on case B; after
    M1 began, where B was discussed and only JZ confirmed, JZ2 gets no agenda line, no
    reminder by DM (the room still does), and the coordinator who did not confirm gets no
    digest line of B, still of case C (on no agenda)."""
    ov.one(f"!lid add {COORD} Gemeente coordinator")
    o = overlegs.by_room(session, ROOM)
    assert o is not None
    o.remind_by_dm = True
    overlegs.save(session, o)
    a, b = ov.a, ov.b  # type: ignore[attr-defined]
    ov.one(f"!agenda add M1 {b}")
    ov.one(f"!actie add {b} Jeugdzorg 16-12-2026 Gesprek plannen")
    c = re.search(r"C-\w+", ov.one("!casus open"))[0]  # type: ignore[index]
    ov.one(f"!actie add {c} Politie 16-12-2026 Huisbezoek")
    _started(ov, session, renderer)
    ov.one("!aanwezig M1", sender=JZ, now=DURING)
    # The agenda changed during the meeting: sent again, its line of B by DM only to JZ.
    mark = _mark(session)
    ov("!agenda toevoegen M1 " + a, now=DURING + timedelta(minutes=1))
    again = _rows(session, "agenda/agenda", mark)
    assert {r.room_id for r in again} == {ROOM, JZ}
    mark = _mark(session)
    sweep(session, renderer, datetime(2026, 12, 17, 8, 0, tzinfo=UTC))  # 09:00, overdue
    overdue = _rows(session, "action/overdue", mark)
    rooms = {r.room_id for r in overdue if "Gesprek" in r.body}
    assert ROOM in rooms and JZ in rooms
    assert JZ2 not in rooms and COORD not in rooms
    assert COORD in {r.room_id for r in overdue if "Huisbezoek" in r.body}  # C: not on M1
    room_copy = next(r for r in overdue if r.room_id == ROOM and "Gesprek" in r.body)
    assert JZ2 in room_copy.mentions.split()  # the organisation still sees its own line
    mark = _mark(session)
    sweep(session, renderer, datetime(2026, 12, 18, 8, 0, tzinfo=UTC))  # digest 08:30 Fri
    [digest] = [r for r in _rows(session, "action/digest", mark) if r.room_id == COORD]
    assert c in digest.body and b not in digest.body
    # Once JZ2 confirms (still on the meeting's day, late), the direct messages come again.
    ov.one("!aanwezig M1", sender=JZ2, now=datetime(2026, 12, 15, 20, 0, tzinfo=UTC))
    mark = _mark(session)
    sweep(session, renderer, datetime(2026, 12, 21, 8, 0, tzinfo=UTC))
    assert JZ2 in {r.room_id for r in _rows(session, "action/overdue", mark)}


def test_a_member_added_after_the_question_is_not_missing_and_keeps_direct_messages(
        ov: Say, session: Session, renderer: Renderer) -> None:
    """#24 (a second breaking try-out): someone added to the overleg after M1's question was
    never asked: not listed as 'niet bevestigd', not counted, and not cut off from direct
    messages about M1's cases."""
    o = overlegs.by_room(session, ROOM)
    assert o is not None
    o.remind_by_dm = True
    overlegs.save(session, o)
    b = ov.b  # type: ignore[attr-defined]
    ov.one(f"!agenda add M1 {b}")
    ov.one(f"!actie add {b} Jeugdzorg 16-12-2026 Gesprek plannen")
    _started(ov, session, renderer)
    late = "@jeugd3:localhost"
    ov.one(f"!lid add {late} Jeugdzorg", now=DURING)
    shown = ov.out("!presentie M1", now=DURING).values
    people = {p["user"] for g in shown["groups"] for p in g["people"]}
    assert late not in people and JZ in people
    mark = _mark(session)
    sweep(session, renderer, datetime(2026, 12, 17, 8, 0, tzinfo=UTC))
    rooms = {r.room_id for r in _rows(session, "action/overdue", mark)}
    assert late in rooms and JZ not in rooms  # JZ was asked and did not confirm


def test_a_weegoverleg_asks_only_its_own_participants(ov: Say, session: Session,
                                                      renderer: Renderer) -> None:
    """#24 (a second breaking try-out): a weegoverleg is for core partners only, so its
    presence question and list leave out the external partner's members."""
    ov.one("!overleg plannen 16-12-2026 10:00 weging")
    sweep(session, renderer, datetime(2026, 12, 16, 9, 0, tzinfo=UTC))
    [question] = [r for r in _rows(session, "presence/question") if "M2" in r.body]
    asked = set(question.mentions.split())
    assert POL in asked and GEM in asked and JZ not in asked and JZ2 not in asked
    shown = ov.out("!presentie M2", now=datetime(2026, 12, 16, 9, 5, tzinfo=UTC)).values
    people = {p["user"] for g in shown["groups"] for p in g["people"]}
    assert JZ not in people and POL in people


def test_the_question_is_recorded_once_whoever_asks_second(ov: Say, session: Session) -> None:
    """The start timer and the chair's command on two instances: one conditional UPDATE,
    so only the first asks (the second sees the first one's time)."""
    m = _meeting(session)
    assert presence.ask(session, m, confidential=True, now=START) is True
    assert presence.ask(session, m, confidential=False, now=DURING) is False
    assert (m.presence_asked_at, m.presence_confidential) == (START, True)


def test_a_reaction_removed_after_the_meetings_day_leaves_the_record_alone(
        ov: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    """#24: the attendance of a past meeting is fixed; removing the ✅ a week later changes
    nothing and suggests no command that would be refused."""
    question = _started(ov, session, renderer)
    event(session, registry, renderer, sender=JZ, kind="reaction",
          relates_to=question.remote_id, key="✅", event_id="$late", sent_at=DURING)
    week = START + timedelta(days=7)
    assert event(session, registry, renderer, sender=JZ, kind="redaction",
                 redacts="$late", sent_at=week) == []
    assert set(presence.current(session, _meeting(session).id or 0)) == {JZ}
    assert [e.action for e in audit.entries(session)
            if e.action == "presence.withdraw"] == []


def test_removing_one_reaction_keeps_a_confirmation_given_in_other_ways(
        ov: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    """#24: ✅, then ``!aanwezig``, then another ✅: removing the first reaction withdraws
    nothing while the command or the other reaction stands; removing all withdraws."""
    question = _started(ov, session, renderer)
    mid = _meeting(session).id or 0
    for key, eid in (("✅", "$a"), ("✅\ufe0f", "$b")):
        event(session, registry, renderer, sender=JZ, kind="reaction",
              relates_to=question.remote_id, key=key, event_id=eid, sent_at=DURING)
        if eid == "$a":
            assert ov.key("!aanwezig M1", sender=JZ, now=DURING) == "presence/already"
    assert event(session, registry, renderer, sender=JZ, kind="redaction", redacts="$a",
                 sent_at=DURING) == []
    assert set(presence.current(session, mid)) == {JZ}
    assert event(session, registry, renderer, sender=JZ, kind="redaction", redacts="$b",
                 sent_at=DURING) == []
    assert set(presence.current(session, mid)) == {JZ}  # the command still stands
    # Reactions only: removing the last one withdraws.
    event(session, registry, renderer, sender=POL, kind="reaction",
          relates_to=question.remote_id, key="✅", event_id="$c", sent_at=DURING)
    assert [r.template for r in event(session, registry, renderer, sender=POL,
                                      kind="redaction", redacts="$c", sent_at=DURING)] == [
        "presence/withdrawn"]
    assert set(presence.current(session, mid)) == {JZ}
    assert [e.actor for e in audit.entries(session) if e.action == "presence.withdraw"] \
        == [POL]


def test_a_start_day_missed_tells_the_chair_once_and_promises_no_past_time(
        ov: Say, session: Session, renderer: Renderer) -> None:
    """#24: the bot was down over M1's whole day: the start timer is handled, the room is
    told once (the chair mentioned), and the replies do not promise the past start."""
    sweep(session, renderer, START - timedelta(days=5))
    later = datetime(2026, 12, 16, 9, tzinfo=UTC)
    sweep(session, renderer, later)
    sweep(session, renderer, later + timedelta(hours=1))
    [missed] = _rows(session, "presence/missed")
    assert missed.room_id == ROOM and CHAIR in missed.mentions.split()
    assert _rows(session, "presence/question") == []
    assert session.exec(select(Timer).where(Timer.kind == "meeting.start",
                                            col(Timer.handled_at).is_(None))).all() == []
    assert [e.action for e in audit.entries(session) if e.action.startswith("presence.")] \
        == ["presence.missed"]
    assert ov.key("!presentie M1", now=later) == "presence/never_asked"
    assert ov.key("!aanwezig M1", sender=POL, now=later) == "presence/closed"


def test_a_meeting_that_ended_cannot_be_cancelled_or_moved(
        ov: Say, session: Session, renderer: Renderer) -> None:
    """#24: cancelling or moving M1 after it took place would drop its attendance and the
    rule on direct messages that follows from it: refused, the meeting stays as it was."""
    _started(ov, session, renderer)
    ov.one("!aanwezig M1", sender=POL, now=DURING)
    after = START + timedelta(days=1)
    assert ov.key("!overleg annuleren M1", now=after) == "meeting/ended"
    assert ov.key("!overleg verplaatsen M1 22-12-2026 14:00", now=after) == "meeting/ended"
    m = _meeting(session)
    assert (m.status, m.starts_at) == ("planned", START)
    # During the meeting it can still be cancelled.
    assert ov.key("!overleg annuleren M1", now=DURING) == "meeting/cancelled"


def test_the_agenda_of_a_meeting_that_ended_stays_as_it_was_discussed(
        ov: Say, session: Session) -> None:
    """#24 (a second breaking try-out): taking a case off (or putting one on) the agenda of
    a meeting held rewrote what was discussed there, the export, and who may get direct
    messages about the case: refused, the agenda stays."""
    a, b = ov.a, ov.b  # type: ignore[attr-defined]
    ov.one(f"!agenda add M1 {b}")
    after = START + timedelta(days=1)
    assert ov.key(f"!agenda verwijderen M1 {b}", now=after) == "meeting/ended"
    assert ov.key(f"!agenda toevoegen M1 {a}", now=after) == "meeting/ended"
    listed = ov.out("!agenda toon M1").values["lines"]
    assert [ln["case"] for ln in listed] == [b]
    assert ov.key(f"!agenda toevoegen M1 {a}", now=DURING) == "agenda/added"  # still on


def test_a_meeting_moved_to_another_day_asks_again_at_the_new_start(
        ov: Say, session: Session, renderer: Renderer) -> None:
    """#24: confirmations of the old day do not count for the new day (the audit keeps
    them); the question goes out again at the new start. A move within the day keeps them."""
    _started(ov, session, renderer)
    ov.one("!aanwezig M1", sender=POL, now=DURING)
    ov.one("!aanwezig M1", sender=JZ, now=DURING)
    ov.one("!overleg verplaatsen M1 15-12-2026 16:00", now=DURING)  # same day
    mid = _meeting(session).id or 0
    assert set(presence.current(session, mid)) == {POL, JZ}
    ov.one("!overleg verplaatsen M1 22-12-2026 14:00", now=DURING)
    assert presence.current(session, mid) == {}
    assert _meeting(session).presence_asked_at is None
    assert ov.key("!presentie M1", now=DURING) == "presence/not_asked"
    new_start = datetime(2026, 12, 22, 13, 0, tzinfo=UTC)
    sweep(session, renderer, new_start)
    assert len(_rows(session, "presence/question")) == 2
    assert _meeting(session).presence_asked_at == new_start
    ov.one("!aanwezig M1", sender=JZ, now=new_start + timedelta(minutes=5))
    assert set(presence.current(session, mid)) == {JZ}
    assert [e.subject for e in audit.entries(session) if e.action == "presence.reset"] == [
        "M1 set_aside=2"]
    assert [e.actor for e in audit.entries(session)
            if e.action == "presence.confidential"] == [POL, JZ, JZ]


@pytest.mark.parametrize("key", ["☑\ufe0f", "☑", "✓", "👍", "👍🏽", "👍\ufe0f", "✔\ufe0f"])
def test_every_check_mark_and_a_thumbs_up_confirm_presence(
        ov: Say, session: Session, registry: Registry, renderer: Renderer, key: str) -> None:
    """#24: other check marks and 👍 (with variation selectors and skin tones) are a yes,
    on the presence question as on an agenda (``commands.attendance.reaction_answer``)."""
    question = _started(ov, session, renderer)
    assert [r.template for r in event(session, registry, renderer, sender=POL,
                                      kind="reaction", relates_to=question.remote_id,
                                      key=key, event_id="$k", sent_at=DURING)] == [
        "presence/confirmed"]
    assert set(presence.current(session, _meeting(session).id or 0)) == {POL}


def test_the_chair_cannot_start_a_meeting_that_has_ended(
        ov: Say, session: Session) -> None:
    """#24: later on the meeting's day, after its end, and days later: refused, nobody asked."""
    end = START + timedelta(minutes=_meeting(session).minutes)
    assert ov.key("!overleg starten M1", now=end + timedelta(hours=2)) == "meeting/ended"
    assert ov.key("!overleg starten M1", now=end + timedelta(days=30)) == "meeting/ended"
    assert _meeting(session).presence_asked_at is None


def test_a_cancel_said_before_the_end_counts_when_handled_after_it(
        ov: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    """#24: the bot was down; the chair's cancel typed during M1 is handled the next day:
    judged by when it was said, it still cancels."""
    from commands.inbound import Inbound, handle
    from tests.unit.conftest import SETTINGS
    msg = Inbound("$late-cancel", ROOM, CHAIR, "!overleg annuleren M1", DURING, encrypted=True)
    replies = handle(session, registry, renderer, SETTINGS, msg,
                     START + timedelta(days=1)).replies
    assert [r.template for r in replies] == ["meeting/cancelled"]
    assert _meeting(session).status == "cancelled"
