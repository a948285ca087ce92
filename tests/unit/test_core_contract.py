"""The h11 contract for our core: no text makes ``handle`` raise or change state wrongly."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from bot.render import Renderer
from commands import default_registry
from commands.inbound import Inbound, handle
from commands.registry import Registry
from storage.db import create_schema, make_engine
from tests.unit.conftest import CHAIR, NOW, ROOM, SETTINGS

_ids = itertools.count()
WORDS = ["!setup", "!partner", "!lid", "!member", "!overleg", "!meeting", "!casus", "!case",
         "!help", "!hulp", "add", "list", "remove", "plan", "move", "cancel", "open", "close",
         "find", "ref", "M1", "C-7K2FJ", "8-12-2026", "14:00", "90m", "op", "Politie", "core",
         "@x:localhost", "chair", "dinsdag", "8", "dec"]
_REGISTRY = default_registry()
_RENDER = Renderer()
_ENGINE = make_engine("sqlite://")
create_schema(_ENGINE)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join),
    st.tuples(st.sampled_from(WORDS[:9]), st.text(max_size=60)).map(" ".join),
))
def test_no_text_makes_the_core_raise(text: str) -> None:
    registry: Registry = _REGISTRY
    # Each example on a new database: the schema once, each example's transaction rolled
    # back (the same as a new in-memory database, at a tenth of the time).
    with Session(_ENGINE) as session:
        setup = Inbound(f"$s{next(_ids)}", ROOM, CHAIR, "!setup X", NOW, encrypted=True)
        handle(session, registry, _RENDER, SETTINGS, setup, NOW)
        msg = Inbound(f"$f{next(_ids)}", ROOM, CHAIR, text, NOW, encrypted=True)
        replies = handle(session, registry, _RENDER, SETTINGS, msg, NOW).replies
        session.rollback()
        for r in replies:
            assert r.template != "error/internal", text  # no internal error
            assert r.template.partition("/")[2], (text, r.template)  # from a template
            assert r.body.strip()
