"""A timer rule that raises (a bug) never wedges the reminders: the other timers of the
batch are handled, that timer is set aside once, and the next sweep goes on."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from commands.inbound import Inbound
from storage.db import session_scope
from storage.models import Case, OutboxMessage, Timer
from tests.unit.apps import CHAIR, throwaway_app

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday
ROOMS = ("!overleg-a:localhost", "!overleg-b:localhost")


def test_a_failing_rule_sets_its_timer_aside_and_the_others_go_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(NOW)
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", clock)
    ids = itertools.count()

    def say(room: str, text: str) -> None:
        assert app.handle(Inbound(f"$e{next(ids)}", room, CHAIR, text, clock.now(),
                                  encrypted=True)).replies

    for room in ROOMS:
        app.record_join(room, NOW - timedelta(days=1))
        for line in ("!setup Overleg", "!partner add Politie core", "!casus open"):
            say(room, line)
    with session_scope(app.engine) as s:
        codes = {c.overleg_id: c.code for c in s.exec(select(Case))}
    for overleg_id, room in enumerate(ROOMS, start=1):
        say(room, f"!actie add C-{codes[overleg_id]} Politie 2-12-2026 Stap")

    rule = app.registry.timers["action.overdue"]
    calls: list[str] = []

    def failing_in_a(batch: Any, overleg: Any, due: Any) -> Any:
        calls.append(overleg.room_id)
        if overleg.room_id == ROOMS[0]:
            raise RuntimeError("a bug in one overleg's rule")
        return rule(batch, overleg, due)

    monkeypatch.setitem(app.registry.timers, "action.overdue", failing_in_a)
    clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))  # both actions overdue
    caplog.set_level(logging.ERROR)
    app.sweep()
    app.sweep()  # the failed timer is not claimed again

    with session_scope(app.engine) as s:
        overdue = [r.room_id for r in s.exec(select(OutboxMessage).where(
            OutboxMessage.template == "action/overdue"))]
        failed = s.exec(select(Timer).where(Timer.kind == "action.overdue")
                        .order_by(Timer.id)).first()  # type: ignore[arg-type]
    assert overdue == [ROOMS[1]]
    assert calls.count(ROOMS[0]) == 1  # set aside after one try
    assert failed is not None and failed.handled_at is not None
    errors = [r for r in caplog.records if r.getMessage().startswith("timer rule failed")]
    assert len(errors) == 1 and getattr(errors[0], "kind", None) == "action.overdue"
    assert "Stap" not in caplog.text and codes[1] not in caplog.text  # no content logged
