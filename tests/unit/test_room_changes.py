"""The room changes under the bot: a member who leaves the overleg's room (or is kicked or
banned) is no longer addressed, and the chairs are told once; back in the room, they are
addressed again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from bot.render import Renderer
from commands.inbound import Inbound, handle
from commands.registry import Registry
from storage import overlegs
from storage.models import AuditEntry, Member, OutboxMessage
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
