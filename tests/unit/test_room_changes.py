"""The room changes under the bot: a member who leaves the overleg's room (or is kicked or
banned) is no longer addressed, and the chairs are told once; back in the room, they are
addressed again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from bot.app import App
from bot.clock import FakeClock
from bot.render import Renderer
from commands.inbound import Inbound, handle
from commands.registry import Registry
from storage import inbound as inbound_store
from storage import outbox, overlegs, timers
from storage.db import session_scope
from storage.models import AuditEntry, Case, Meeting, Member, OutboxMessage, Overleg, Timer
from storage.outbox import Rendered
from tests.unit.apps import throwaway_app
from tests.unit.conftest import CHAIR, NOW, ROOM, SETTINGS, Say, sweep
from tests.unit.test_actions import COORD, case, plan  # noqa: F401  (fixture)


def _membership(say: Say, session: Session, registry: Registry, event_id: str, user: str,
                membership: str, at: datetime = NOW) -> list[str]:
    msg = Inbound(event_id, ROOM, user, "", at, kind="membership", relates_to=user,
                  key=membership)
    return [r.template for r in handle(session, registry, say._render, SETTINGS, msg,
                                       at).replies]


def _digests_to(session: Session, renderer: Renderer, user: str, day: int) -> int:
    mark = max(r.id or 0 for r in session.exec(select(OutboxMessage)))
    sweep(session, renderer, datetime(2026, 12, day, 8, 0, tzinfo=UTC))
    return len(session.exec(select(OutboxMessage).where(
        col(OutboxMessage.id) > mark, OutboxMessage.template == "action/digest",
        OutboxMessage.room_id == user)).all())


def test_a_coordinator_who_leaves_gets_no_digest_and_the_chair_is_told_once(
        plan: Say, session: Session, registry: Registry,  # noqa: F811
        renderer: Renderer) -> None:
    plan.one(f"!actie add {case(plan)} Politie 15-1-2027 Terugkoppeling")
    assert _digests_to(session, renderer, COORD, 2) == 1  # before: the daily digest
    told = _membership(plan, session, registry, "$leave", COORD, "leave")
    assert told == ["member/left_room"]
    rows = list(session.exec(select(OutboxMessage).where(
        OutboxMessage.template == "member/left_room")))
    assert len(rows) == 1 and CHAIR in rows[0].mentions.split()
    member = overlegs.member(session, 1, COORD)
    assert member is not None and member.left_room_at == NOW
    assert _digests_to(session, renderer, COORD, 3) == 0  # no more digests
    # Leaving again (a ban after the leave) tells nobody twice.
    assert _membership(plan, session, registry, "$ban", COORD, "ban") == []
    # Back in the room: addressed again, without a message.
    assert _membership(plan, session, registry, "$back", COORD, "join",
                       NOW + timedelta(days=3)) == []
    assert _digests_to(session, renderer, COORD, 4) == 1
    actions = [a.action for a in session.exec(select(AuditEntry))]
    assert actions.count("member.left_room") == 1 and "member.back_in_room" in actions
    # The member list still shows them (the chair decides), with the time they left.
    listing = plan.out("!lid lijst")
    assert any(r["user"] == COORD for r in listing.values["members"])


def test_the_chairs_are_told_at_once_when_the_bot_may_no_longer_redact(
        plan: Say, session: Session, registry: Registry) -> None:  # noqa: F811
    def levels(event_id: str, power: tuple[int, int], room: str = ROOM,
               settings: object = SETTINGS) -> list[str]:
        msg = Inbound(event_id, room, CHAIR, "", NOW, kind="power_levels", redact_power=power)
        return [r.template for r in handle(session, registry, plan._render, settings,  # type: ignore[arg-type]
                                           msg, NOW).replies]

    assert levels("$pl1", (0, 50)) == ["setup/lost_redact_power"]
    row = session.exec(select(OutboxMessage).where(
        OutboxMessage.template == "setup/lost_redact_power")).one()
    assert row.room_id == ROOM and CHAIR in row.mentions.split()
    assert "overleg.redact_power_lost" in [a.action for a in session.exec(select(AuditEntry))]
    assert levels("$pl2", (50, 50)) == []  # may again: nothing to say
    assert levels("$pl3", (0, 50), room="!other:localhost") == []  # no overleg there
    assert levels("$pl4", (0, 50), settings=replace(SETTINGS, redact_pii=False)) == []


def test_someone_who_is_no_member_leaving_changes_nothing(plan: Say, session: Session,  # noqa: F811
                                                         registry: Registry) -> None:
    assert _membership(plan, session, registry, "$x", "@stranger:localhost", "leave") == []
    assert all(m.left_room_at is None for m in session.exec(select(Member)))


def test_a_partner_whose_member_left_is_not_removed_from_under_them(
        plan: Say, session: Session, registry: Registry) -> None:  # noqa: F811
    from tests.unit.test_actions import POLITIE

    _membership(plan, session, registry, "$pol-left", POLITIE, "leave")
    assert plan.key("!partner remove Politie") == "partner/has_members"  # no crash
    listing = plan.out("!partner lijst")
    assert {r["name"]: r["members"] for r in listing.values["partners"]}["Politie"] == 1


def test_when_the_last_chair_leaves_the_administrators_are_told(
        plan: Say, session: Session, registry: Registry) -> None:  # noqa: F811
    msg = Inbound("$chair-left", ROOM, CHAIR, "", NOW, kind="membership", relates_to=CHAIR,
                  key="leave")
    [told] = handle(session, registry, plan._render, SETTINGS, msg, NOW).replies
    assert told.template == "member/left_room"
    assert set(told.mentions) == set(SETTINGS.admins) - {CHAIR}


# ---- the bot kicked, then invited again (issue 19) ------------------------------------

POL = "@politie1:localhost"
KICKED = NOW + timedelta(hours=1)
BACK = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)  # Friday; A1 (due 2 December) fell overdue


def _said(app: App, event_id: str, text: str, at: datetime, sender: str = CHAIR,
          kind: str = "text") -> list[str]:
    msg = Inbound(event_id, ROOM, sender, text, at, encrypted=True, kind=kind)
    return [r.template for r in app.handle(msg).replies]


def _rows(app: App, template: str) -> list[OutboxMessage]:
    with session_scope(app.engine) as s:
        rows = list(s.exec(select(OutboxMessage).where(OutboxMessage.template == template)))
        s.expunge_all()
    return rows


def test_kicked_then_invited_again_nothing_said_meanwhile_is_carried_out_late(
        tmp_path: Path) -> None:
    """Commands of the time the bot was out of the room are not carried out (the chair is
    told once); reminders due meanwhile wait and are sent once it is back; undecryptable
    messages of that time get one notice per person."""
    clock = FakeClock(NOW)
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", clock)
    app.record_join(ROOM, NOW - timedelta(hours=1))
    for n, line in enumerate(("!setup Overleg", "!partner add Politie core",
                              f"!lid add {POL} Politie", "!casus open")):
        assert _said(app, f"$setup{n}", line, NOW), line
    with session_scope(app.engine) as s:
        code = s.exec(select(Case)).one().code
    assert _said(app, "$a1", f"!actie add C-{code} Politie 2-12-2026 Huisbezoek", NOW)

    app.record_leave(ROOM, KICKED)  # kicked
    clock.set(BACK - timedelta(hours=1))
    app.sweep()  # A1 fell overdue while the bot was out: nothing is sent to the room yet
    assert _rows(app, "action/overdue") == []
    with session_scope(app.engine) as s:
        # The timer waits for the bot's return; the waker does not spin on it.
        assert timers.next_due(s) is None or timers.next_due(s) > clock.now()
        assert inbound_store.away_rooms(s) == {ROOM}

    clock.set(BACK)
    app.record_join(ROOM, BACK)  # invited again and joined: the rejoin sync follows
    # What was said meanwhile comes with the rejoin's timeline (shared history).
    missed = [_said(app, "$m1", "!overleg plan 15-12-2026 14:00", KICKED + timedelta(hours=1)),
              _said(app, "$m2", "!overleg plan 16-12-2026 14:00", KICKED + timedelta(hours=2)),
              _said(app, "$u1", "", KICKED + timedelta(hours=3), POL, "undecryptable"),
              _said(app, "$u2", "", KICKED + timedelta(hours=4), POL, "undecryptable"),
              _said(app, "$u3", "", KICKED + timedelta(hours=5), CHAIR, "undecryptable")]
    # The chair once; Politie once for its undecryptable messages; the chair knows already.
    assert missed == [["room/away_commands"], [], ["room/away_undecryptable"], [], []]
    with session_scope(app.engine) as s:
        assert s.exec(select(Meeting)).all() == []  # neither command was carried out
        assert inbound_store.away_rooms(s) == set()
    [told] = _rows(app, "room/away_commands")
    assert CHAIR in told.mentions.split()
    assert [r.mentions for r in _rows(app, "room/away_undecryptable")] == [POL]

    # The reminder that fell due meanwhile is sent now, late, once.
    app.sweep()
    app.sweep()
    [late] = _rows(app, "action/overdue")
    assert late.room_id == ROOM
    # Back in the room, commands are carried out again.
    assert _said(app, "$after", "!overleg plan 15-12-2026 14:00", BACK + timedelta(minutes=1)
                 ) == ["meeting/planned"]


async def test_messages_for_a_room_the_bot_is_out_of_wait_until_it_is_back(
        tmp_path: Path) -> None:
    """The deliverer neither sends nor gives up a row for a room the bot was removed from
    (a 403 there would drop it for good); they are sent when the bot is back."""
    from bot.deliver import Deliverer, SendResult

    clock = FakeClock(NOW)
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", clock)
    app.record_join(ROOM, NOW - timedelta(hours=1))
    sent: list[str] = []

    class Homeserver:
        async def send(self, row: OutboxMessage) -> SendResult:
            if ROOM in away:
                return SendResult(error="M_FORBIDDEN: not in room", permanent=True)
            sent.append(row.body)
            return SendResult(remote_id=f"$r{len(sent)}")

    away = {ROOM}
    app.record_leave(ROOM, NOW)
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered(room_id=ROOM, body="reminder", html=None,
                                         template="action/overdue")],
                       NOW)
    deliverer = Deliverer(app.engine, Homeserver())
    await deliverer.run_once()
    [row] = _rows(app, "action/overdue")
    assert (row.sent_at, row.last_error, sent) == (None, None, [])
    away.clear()
    app.record_join(ROOM, NOW + timedelta(hours=2))
    await deliverer.run_once()
    assert sent == ["reminder"]


# ---- the room upgraded (m.room.tombstone; issue 19) -----------------------------------

NEW_ROOM = "!upgraded:localhost"


def _in(app: App, room: str, event_id: str, text: str, at: datetime,
        sender: str = CHAIR) -> list[str]:
    msg = Inbound(event_id, room, sender, text, at, encrypted=True)
    return [r.template for r in app.handle(msg).replies]


def test_an_upgraded_room_takes_the_overleg_its_data_and_timers_along(
        tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", clock)
    app.record_join(ROOM, NOW - timedelta(hours=1))
    for n, line in enumerate(("!setup Overleg", "!partner add Politie core",
                              f"!lid add {POL} Politie", "!casus open",
                              "!overleg plan 15-12-2026 14:00")):
        assert _in(app, ROOM, f"$s{n}", line, NOW), line
    with session_scope(app.engine) as s:
        code = s.exec(select(Case)).one().code
    assert _in(app, ROOM, "$a1", f"!actie add C-{code} Politie 2-12-2026 Huisbezoek", NOW)
    with session_scope(app.engine) as s:
        [overleg] = s.exec(select(Overleg)).all()
        pending_before = {(t.kind, t.subject_id) for t in s.exec(select(Timer).where(
            col(Timer.handled_at).is_(None)))}
        outbox.enqueue(s, [Rendered(room_id=ROOM, body="waiting", html=None,
                                    template="action/due_soon", in_reply_to="$a1")], NOW)

    upgraded = NOW + timedelta(hours=1)
    tomb = Inbound("$tomb", ROOM, CHAIR, "", upgraded, kind="tombstone",
                   relates_to=NEW_ROOM)
    assert app.handle(tomb).replies == []  # the bot is not in the new room yet
    assert app.awaits_room(NEW_ROOM)
    # It cannot join (not invited): the chair is asked once, by DM, to invite it.
    assert app.cannot_join_replacement(ROOM) == [CHAIR]
    assert app.cannot_join_replacement(ROOM) == []
    [asked] = _rows(app, "room/invite_needed")
    assert asked.room_id == CHAIR and NEW_ROOM in asked.body
    with session_scope(app.engine) as s:
        assert ROOM in inbound_store.away_rooms(s)  # the old room gets nothing more
    # What is said in the old room after the upgrade is not read: no second overleg there.
    assert _in(app, ROOM, "$old1", "!setup Nog een overleg", upgraded + timedelta(minutes=1)
               ) == []
    assert _in(app, ROOM, "$old2", "!overleg lijst", upgraded + timedelta(minutes=2)) == []

    clock.set(upgraded + timedelta(minutes=5))
    assert app.record_join(NEW_ROOM, upgraded + timedelta(minutes=5))  # invited; joined
    assert not app.awaits_room(NEW_ROOM)
    with session_scope(app.engine) as s:
        [moved] = s.exec(select(Overleg)).all()  # the same overleg, not a second one
        assert (moved.id, moved.room_id) == (overleg.id, NEW_ROOM)
        assert {(t.kind, t.subject_id) for t in s.exec(select(Timer).where(
            col(Timer.handled_at).is_(None)))} == pending_before
        unsent = list(s.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))))
        assert {r.room_id for r in unsent} == {NEW_ROOM, CHAIR}  # (the DM to the chair)
        [waiting] = [r for r in unsent if r.template == "action/due_soon"]
        assert waiting.in_reply_to is None  # the old room's event is not in the new room
        assert "overleg.room_upgraded" in [a.action for a in s.exec(select(AuditEntry))]
    [told] = _rows(app, "room/moved")
    assert told.room_id == NEW_ROOM and CHAIR in told.mentions.split()

    # The overleg works in the new room: its commands, its data, its timers.
    assert _in(app, NEW_ROOM, "$n1", "!setup Nog een overleg", clock.now()) \
        == ["setup/already"]
    assert _in(app, NEW_ROOM, "$n2", "!overleg lijst", clock.now()) == ["meeting/list"]
    clock.set(BACK)
    app.sweep()
    [late] = _rows(app, "action/overdue")
    assert late.room_id == NEW_ROOM


def test_a_tombstone_naming_no_room_or_outside_an_overleg_moves_nothing(
        tmp_path: Path) -> None:
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(hours=1))
    app.record_join(NEW_ROOM, NOW - timedelta(hours=1))
    bare = Inbound("$t0", ROOM, CHAIR, "", NOW, kind="tombstone", relates_to=NEW_ROOM)
    assert app.handle(bare).replies == [] and not app.awaits_room(NEW_ROOM)  # no overleg
    assert _in(app, ROOM, "$s", "!setup Overleg", NOW + timedelta(minutes=1))
    empty = Inbound("$t1", ROOM, CHAIR, "", NOW, kind="tombstone", relates_to="")
    assert app.handle(empty).replies == []
    with session_scope(app.engine) as s:
        assert s.exec(select(Overleg)).one().room_id == ROOM


def _state(version: str, creator: str, levels: dict[str, object] | None,
           **create: object) -> list[dict[str, object]]:
    events: list[dict[str, object]] = [{"type": "m.room.create", "state_key": "",
                                        "sender": creator,
                                        "content": {"room_version": version, **create}}]
    if levels is not None:
        events.append({"type": "m.room.power_levels", "state_key": "", "sender": creator,
                       "content": levels})
    return events


def test_only_a_tombstone_sent_with_the_power_to_is_acted_on() -> None:
    """The room's state decides (a homeserver that let anyone tombstone a room must not
    move an overleg): in room version 12 its creators; else the power level for
    m.room.tombstone, else state_default; without power levels only the creator."""
    from bot.matrix.events import may_tombstone

    stranger = "@stranger:localhost"
    v10 = _state("10", CHAIR, {"users": {CHAIR: 100, POL: 50},
                               "events": {"m.room.tombstone": 100}, "state_default": 50})
    assert may_tombstone(v10, CHAIR)
    assert not may_tombstone(v10, POL) and not may_tombstone(v10, stranger)
    by_default = _state("10", CHAIR, {"users": {CHAIR: 100, POL: 50}})  # state_default 50
    assert may_tombstone(by_default, POL) and not may_tombstone(by_default, stranger)
    # Room version 12: creators are not in "users" and outrank everyone.
    v12 = _state("12", CHAIR, {"users": {POL: 100}, "events": {"m.room.tombstone": 150}},
                 additional_creators=["@cochair:localhost"])
    assert may_tombstone(v12, CHAIR) and may_tombstone(v12, "@cochair:localhost")
    assert not may_tombstone(v12, POL)
    # Before version 12 the creator has only the level the power levels give it.
    assert not may_tombstone(_state("11", CHAIR, {"users": {}}), CHAIR)
    bare = _state("10", CHAIR, None)
    assert may_tombstone(bare, CHAIR) and not may_tombstone(bare, POL)


async def test_a_send_refused_because_the_bot_was_removed_waits_for_its_return(
        tmp_path: Path) -> None:
    """A reminder sent just after a kick, before the sync says so: the homeserver's 403 and
    its list of joined rooms make it wait for the bot's return, not be given up."""
    import asyncio

    from nio import JoinedRoomsResponse, MatrixRoom, RoomSendError, RoomSendResponse

    from bot.deliver import Deliverer
    from bot.matrix.sending import Sending
    from bot.timing import OwnWork

    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(hours=1))
    joined: list[str] = []

    class Homeserver:
        # (the client still knows the room: the sync has not told of the removal yet)
        def __init__(self) -> None:
            self.rooms = {ROOM: MatrixRoom(ROOM, "@bot:localhost")}

        async def room_send(self, room_id: str, *_: object, **__: object) -> object:
            if room_id not in joined:
                return RoomSendError("not in room", "M_FORBIDDEN", room_id=room_id)
            return RoomSendResponse("$sent", room_id)

        async def joined_rooms(self) -> JoinedRoomsResponse:
            return JoinedRoomsResponse(list(joined))

    class Transport(Sending):
        def __init__(self) -> None:
            self.client = Homeserver()  # type: ignore[assignment]
            self.app, self.db = app, deliverer.db
            self.ready, self.own_work = asyncio.Event(), OwnWork()

        async def _limit_key_sharing(self, room_id: str) -> None:
            return None

        async def _withhold(self, room_id: str, before: str | None) -> None:
            return None  # an unencrypted room: no room key to withhold

    deliverer = Deliverer(app.engine, None)  # type: ignore[arg-type]
    deliverer.sender = Transport()
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered(room_id=ROOM, body="reminder", html=None,
                                    template="action/overdue")], NOW)
    await deliverer.run_once()
    [row] = _rows(app, "action/overdue")
    assert (row.sent_at, row.remote_id) == (None, None)  # kept, not given up
    with session_scope(app.engine) as s:
        assert inbound_store.away_rooms(s) == {ROOM}
    joined.append(ROOM)
    app.record_join(ROOM, NOW + timedelta(hours=1))
    await deliverer.run_once()
    [row] = _rows(app, "action/overdue")
    assert row.remote_id == "$sent"


def test_in_an_encrypted_room_the_first_unreadable_message_tells_the_chair_too(
        tmp_path: Path) -> None:
    """Everything of the absence is undecryptable there: the chairs still hear once that
    nothing of that time was read, and each sender once."""
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(hours=1))
    for n, line in enumerate(("!setup Overleg", "!partner add Politie core",
                              f"!lid add {POL} Politie")):
        assert _said(app, f"$setup{n}", line, NOW), line
    app.record_leave(ROOM, KICKED)
    app.record_join(ROOM, BACK)
    first = _said(app, "$u1", "", KICKED + timedelta(hours=1), POL, "undecryptable")
    again = [_said(app, "$u2", "", KICKED + timedelta(hours=2), POL, "undecryptable"),
             _said(app, "$u3", "", KICKED + timedelta(hours=3), CHAIR, "undecryptable")]
    assert first == ["room/away_commands", "room/away_undecryptable"]
    assert again == [[], []]
    # A second absence tells again, once.
    app.record_leave(ROOM, BACK + timedelta(days=1))
    app.record_join(ROOM, BACK + timedelta(days=2))
    assert _said(app, "$u4", "", BACK + timedelta(days=1, hours=1), POL, "undecryptable") \
        == ["room/away_commands", "room/away_undecryptable"]


def test_a_tombstone_for_a_room_the_bot_is_in_already_moves_the_overleg_at_once(
        tmp_path: Path) -> None:
    """Invited to the new room with the upgrade (Element's "invite members"): the bot may
    be in it before it reads the tombstone; then the overleg moves at the tombstone."""
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(hours=1))
    assert _in(app, ROOM, "$s", "!setup Overleg", NOW)
    app.record_join(NEW_ROOM, NOW + timedelta(minutes=1), invited_again=True)  # (on invite)
    assert not app.in_room("!elsewhere:localhost") and app.in_room(NEW_ROOM)
    tomb = Inbound("$tomb", ROOM, CHAIR, "", NOW + timedelta(minutes=1), kind="tombstone",
                   relates_to=NEW_ROOM)
    [moved] = app.handle(tomb).replies
    assert (moved.template, moved.room_id) == ("room/moved", NEW_ROOM)
    assert not app.in_room(ROOM)  # the replaced room gets nothing more
    # The join event the next sync brings moves nothing twice.
    assert not app.record_join(NEW_ROOM, NOW + timedelta(minutes=1))
    assert len(_rows(app, "room/moved")) == 1
    with session_scope(app.engine) as s:
        assert s.exec(select(Overleg)).one().room_id == NEW_ROOM


def test_invited_again_after_a_kick_the_bot_did_not_see_nothing_is_carried_out_late(
        tmp_path: Path) -> None:
    """Down during the kick and the invite: the invite to a room it was in is the only
    sign. What it had handled stays handled (no second reply); a command it never read is
    not carried out late, and the chair is told."""
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(hours=1))
    assert _said(app, "$setup", "!setup Overleg", NOW) == ["setup/done"]
    back = NOW + timedelta(days=1)
    assert app.record_join(ROOM, back, invited_again=True)  # (on the invite: joined)
    with session_scope(app.engine) as s:
        assert inbound_store.away_rooms(s) == set()
    # The rejoin's timeline: the handled command again, then ones sent while it was out
    # (one holding an e-mail address: redacted, and the chair still hears it was not read).
    assert _said(app, "$setup", "!setup Overleg", NOW) == []
    unread = _said(app, "$unread", "!overleg plan 15-12-2026 14:00 op iemand@example.org",
                   NOW + timedelta(hours=5))
    assert unread[0] == "error/pii" and "room/away_commands" in unread
    assert _said(app, "$unread2", "!overleg plan 15-12-2026 14:00", NOW + timedelta(hours=6)
                 ) == []
    with session_scope(app.engine) as s:
        assert s.exec(select(Meeting)).all() == []
    # A later join event of the same return changes nothing; commands now are carried out.
    assert not app.record_join(ROOM, back + timedelta(seconds=1))
    assert _said(app, "$now", "!overleg plan 15-12-2026 14:00", back + timedelta(minutes=1)
                 ) == ["meeting/planned"]


def test_a_room_upgraded_again_before_its_notice_went_out_tells_the_chair_once(
        tmp_path: Path) -> None:
    """Upgraded twice in a row (A to B, then B to C before the notice in B was sent): the
    overleg ends in C, and C gets one notice, not the stale one of B as well."""
    third = "!upgraded-again:localhost"
    clock = FakeClock(NOW)
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", clock)
    app.record_join(ROOM, NOW - timedelta(hours=1))
    assert _in(app, ROOM, "$s", "!setup Overleg", NOW)
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered(room_id=ROOM, body="waiting", html=None,
                                    template="action/due_soon")], NOW)
    app.record_join(NEW_ROOM, NOW + timedelta(minutes=1))
    app.handle(Inbound("$t1", ROOM, CHAIR, "", NOW + timedelta(minutes=1), kind="tombstone",
                       relates_to=NEW_ROOM))
    app.record_join(third, NOW + timedelta(minutes=2))
    [moved] = app.handle(Inbound("$t2", NEW_ROOM, CHAIR, "", NOW + timedelta(minutes=2),
                                 kind="tombstone", relates_to=third)).replies
    assert (moved.template, moved.room_id) == ("room/moved", third)
    with session_scope(app.engine) as s:
        assert s.exec(select(Overleg)).one().room_id == third
        unsent = list(s.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))))
        assert sorted((r.template, r.room_id) for r in unsent) == [
            ("action/due_soon", third), ("room/moved", third), ("setup/done", third)]
    assert not app.in_room(ROOM) and not app.in_room(NEW_ROOM) and app.in_room(third)
    # A second tombstone in the first room (a server that lets a replaced room be upgraded
    # again) moves nothing: the overleg is no longer there.
    assert app.handle(Inbound("$t3", ROOM, CHAIR, "", NOW + timedelta(minutes=3),
                              kind="tombstone", relates_to="!elsewhere:localhost")
                      ).replies == []
    assert not app.awaits_room("!elsewhere:localhost")
    with session_scope(app.engine) as s:
        assert s.exec(select(Overleg)).one().room_id == third


def test_a_replacement_room_replaced_before_the_bot_joined_it_is_passed_through(
        tmp_path: Path) -> None:
    """A upgraded to B (the bot not invited yet), then B upgraded to C; the bot invited to
    B reads B's tombstone, sent before it joined: the overleg goes on to C, not into the
    dead room B. Not in C yet, the chairs are asked to invite it there."""
    third = "!upgraded-again:localhost"
    clock = FakeClock(NOW)
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", clock)
    app.record_join(ROOM, NOW - timedelta(hours=1))
    assert _in(app, ROOM, "$s", "!setup Overleg", NOW)
    app.handle(Inbound("$t1", ROOM, CHAIR, "", NOW + timedelta(minutes=1), kind="tombstone",
                       relates_to=NEW_ROOM))
    assert app.awaits_room(NEW_ROOM)
    # Invited to B: its timeline has B's tombstone (before the join), then the join.
    clock.set(NOW + timedelta(minutes=5))
    app.record_join(NEW_ROOM, NOW + timedelta(minutes=5), invited_again=True)
    app.handle(Inbound("$t2", NEW_ROOM, CHAIR, "", NOW + timedelta(minutes=2),
                       kind="tombstone", relates_to=third))
    assert app.awaits_room(third)
    app.record_join(NEW_ROOM, NOW + timedelta(minutes=5))
    [asked] = _rows(app, "room/invite_needed")
    assert (asked.room_id, third in asked.body) == (CHAIR, True)
    assert _rows(app, "room/moved") == []  # nothing to B, a dead room
    app.record_join(third, NOW + timedelta(minutes=6))
    with session_scope(app.engine) as s:
        assert s.exec(select(Overleg)).one().room_id == third
    assert [r.room_id for r in _rows(app, "room/moved")] == [third]
    assert app.in_room(third) and not app.in_room(NEW_ROOM) and not app.in_room(ROOM)
