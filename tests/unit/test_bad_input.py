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


def test_a_flood_from_one_person_is_limited_politely_and_others_go_on(
        overleg: Say, session: Session, registry: Registry, renderer: Renderer) -> None:
    overleg.one(f"!lid add {POL} Politie")
    limiter = RateLimiter(per_minute=30)
    replies_to_flood = 0
    answered_others = 0
    for i in range(1000):  # a thousand commands within one minute
        now = NOW + timedelta(milliseconds=55 * i)
        out = handle(session, registry, renderer, SETTINGS,
                      Inbound(f"$f{i}", ROOM, POL, "!overleg list", now, encrypted=True),
                      now, limiter).replies
        replies_to_flood += len(out)
        if i % 100 == 0:
            other = handle(session, registry, renderer, SETTINGS,
                            Inbound(f"$o{i}", ROOM, CHAIR, f"!partner add Extra{i} core", now,
                                    encrypted=True), now, limiter).replies
            answered_others += len(other)
    assert replies_to_flood == 30 + 1  # the allowed ones and one polite notice
    assert answered_others == 10  # nobody else was held up
    assert len(session.exec(select(Partner)).all()) == 3 + 10
    # Every event is recorded as handled (the six of the fixture, too): none is lost or redone.
    assert len(session.exec(select(InboundEvent)).all()) == 1000 + 10 + 6
    later = NOW + timedelta(minutes=2)
    [again] = handle(session, registry, renderer, SETTINGS,
                      Inbound("$later", ROOM, POL, "!overleg list", later, encrypted=True),
                      later, limiter).replies
    assert again.template == "meeting/list"


def test_the_notice_is_polite_and_says_what_to_do(overleg: Say, session: Session,
                                                  registry: Registry,
                                                  renderer: Renderer) -> None:
    limiter = RateLimiter(per_minute=1)
    for i in range(2):
        out = handle(session, registry, renderer, SETTINGS,
                      Inbound(f"$p{i}", ROOM, CHAIR, "!overleg list", NOW, encrypted=True),
                      NOW, limiter).replies
    assert [r.template for r in out] == ["error/rate_limited"]


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

