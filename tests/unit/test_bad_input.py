"""Floods, huge messages, commands in rooms that are no overleg: the bot keeps working."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from bot.render import Renderer
from commands import default_registry
from commands.inbound import Inbound, handle
from commands.ratelimit import RateLimiter
from commands.registry import Registry
from storage.models import InboundEvent, Partner
from tests.unit.conftest import CHAIR, NOW, ROOM, SETTINGS, Say

POL = "@politie1:localhost"
_REGISTRY = default_registry()
_RENDER = Renderer()


def test_a_members_flood_is_refused_command_by_command_never_dropped(
        overleg: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    overleg.one(f"!lid add {POL} Politie")
    limiter = RateLimiter(per_minute=30)  # members: 4 x 30 = 120 a minute
    templates: list[str] = []
    answered_others = 0
    for i in range(1000):  # a thousand commands within one minute
        now = NOW + timedelta(milliseconds=55 * i)
        out = handle(session, registry, renderer, SETTINGS,
                     Inbound(f"$f{i}", ROOM, POL, "!overleg list", now, encrypted=True),
                     now, limiter).replies
        templates += [r.template for r in out]
        if i % 100 == 0:
            other = handle(session, registry, renderer, SETTINGS,
                           Inbound(f"$o{i}", ROOM, CHAIR, f"!partner add Extra{i} core", now,
                                   encrypted=True), now, limiter).replies
            answered_others += len(other)
    # Every command got exactly one answer: carried out, or refused by name.
    assert len(templates) == 1000
    assert templates[:120] == ["meeting/list"] * 120  # the first 120, carried out
    assert templates[120:] == ["error/rate_limited_command"] * 880  # then each refused
    assert answered_others == 10  # nobody else was held up
    assert len(session.exec(select(Partner)).all()) == 3 + 10
    # Every event is recorded as handled (the six of the fixture, too): none is lost or redone.
    assert len(session.exec(select(InboundEvent)).all()) == 1000 + 10 + 6
    later = NOW + timedelta(minutes=2)
    [again] = handle(session, registry, renderer, SETTINGS,
                     Inbound("$later", ROOM, POL, "!overleg list", later, encrypted=True),
                     later, limiter).replies
    assert again.template == "meeting/list"


def test_the_refusal_names_the_command_and_when_to_send_it_again(
        overleg: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    limiter = RateLimiter(per_minute=1, trusted_per_minute=1)
    out = []
    for i in range(2):
        at = NOW + timedelta(seconds=i)
        out = handle(session, registry, renderer, SETTINGS,
                     Inbound(f"$p{i}", ROOM, CHAIR, "!overleg list", at, encrypted=True),
                     at, limiter).replies
    [refused] = out
    assert refused.template == "error/rate_limited_command"
    assert "!overleg list" in refused.body
    assert "09:01:00" in refused.body  # sent again from a minute after the first (CET)


def test_a_chair_giving_40_commands_in_20_seconds_has_each_carried_out(
        overleg: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    limiter = RateLimiter()  # the defaults, as deployed
    done = 0
    for i in range(40):
        at = NOW + timedelta(milliseconds=500 * i)
        out = handle(session, registry, renderer, SETTINGS,
                     Inbound(f"$c{i}", ROOM, CHAIR, f"!partner add Snel{i} core", at,
                             encrypted=True), at, limiter).replies
        done += [r.template for r in out] == ["partner/added"]
    assert done == 40


def test_a_flood_from_a_non_member_is_cut_off_after_one_notice(
        overleg: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    limiter = RateLimiter(per_minute=30)
    stranger = "@stranger:localhost"
    templates: list[str] = []
    for i in range(200):
        at = NOW + timedelta(milliseconds=100 * i)
        templates += [r.template for r in handle(
            session, registry, renderer, SETTINGS,
            Inbound(f"$s{i}", ROOM, stranger, "!overleg list", at, encrypted=True),
            at, limiter).replies]
    assert templates.count("error/rate_limited") == 1
    assert len(templates) == 30 + 1  # the allowed ones (each refused as no member) and one notice


def test_unknown_commands_from_a_member_are_cut_off_quietly(
        overleg: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    limiter = RateLimiter(per_minute=5)
    templates: list[str] = []
    for i in range(50):
        at = NOW + timedelta(milliseconds=100 * i)
        templates += [r.template for r in handle(
            session, registry, renderer, SETTINGS,
            Inbound(f"$u{i}", ROOM, CHAIR, "!onzin doe iets", at, encrypted=True),
            at, limiter).replies]
    assert len(templates) == 5 + 1 and templates[-1] == "error/rate_limited"


def test_a_huge_message_is_refused_unread(overleg: Say) -> None:
    huge = "!actie add " + "x" * 70_000
    reply = overleg.reply(huge)
    assert reply.template == "error/message_too_long" and "xxxx" not in reply.body


def test_commands_in_a_room_that_is_no_overleg_change_nothing(overleg: Say,
                                                             session: Session) -> None:
    before = len(session.exec(select(Partner)).all())
    assert overleg.key("!partner add Nieuw core", room="!other:localhost") == \
        "error/not_an_overleg"
    assert len(session.exec(select(Partner)).all()) == before


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["reaction", "poll_response", "redaction", "unknown"]),
       relates=st.one_of(st.none(), st.text(max_size=30)),
       key=st.text(max_size=30))
def test_odd_events_never_break_the_core(kind: str, relates: str | None, key: str) -> None:
    from storage.db import create_schema, make_engine, session_scope

    engine = make_engine("sqlite://")
    create_schema(engine)
    with session_scope(engine) as s:
        msg = Inbound("$odd", ROOM, CHAIR, "", NOW, encrypted=True, kind=kind,
                      relates_to=relates, key=key, redacts=relates)
        assert handle(s, _REGISTRY, _RENDER, SETTINGS, msg, NOW).replies == []
    engine.dispose()



def test_the_limit_counts_by_when_people_spoke_also_out_of_order() -> None:
    """After an outage, room A's events are handled first, then room B's gap with older
    times: a sender who never gave more than three commands a minute is never refused."""
    limiter = RateLimiter(per_minute=30)
    start = NOW
    verdicts = [limiter.check(CHAIR, start + timedelta(minutes=i), trusted=True)
                for i in range(60)]  # room A: one a minute for an hour
    verdicts += [limiter.check(CHAIR, start + timedelta(seconds=23 * i), trusted=True)
                 for i in range(130)]  # room B's gap: one every 23 s, in the same hour
    assert set(verdicts) == {"ok"}


def test_a_members_typo_does_not_count_against_their_commands() -> None:
    limiter = RateLimiter(per_minute=2, trusted_per_minute=3)
    assert [limiter.check(CHAIR, NOW, trusted=False) for _ in range(3)] == \
        ["ok", "ok", "notify"]
    assert [limiter.check(CHAIR, NOW, trusted=True) for _ in range(4)] == \
        ["ok", "ok", "ok", "refuse"]
