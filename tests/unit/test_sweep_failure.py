"""A timer rule that raises (a bug) never wedges the reminders: the other timers of the
batch are handled, the failing one once without a message, and the next sweep goes on."""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
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
    assert calls.count(ROOMS[0]) == 2  # the pass over the batch, then its careful pass
    assert failed is not None and failed.handled_at is not None
    errors = [r for r in caplog.records if r.getMessage().startswith("timer rule failed")]
    assert len(errors) == 1 and getattr(errors[0], "kind", None) == "action.overdue"
    assert "Stap" not in caplog.text and codes[1] not in caplog.text  # no content logged


def _overleg_with_actions(tmp_path: Path, clock: FakeClock, n: int) -> Any:
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", clock)
    app.record_join(ROOMS[0], NOW - timedelta(days=1))
    ids = itertools.count()

    def say(text: str) -> None:
        assert app.handle(Inbound(f"$e{next(ids)}", ROOMS[0], CHAIR, text, clock.now(),
                                  encrypted=True)).replies

    for line in ("!setup Overleg", "!partner add Politie core", "!casus open"):
        say(line)
    with session_scope(app.engine) as s:
        code = s.exec(select(Case)).one().code
    for i in range(n):
        say(f"!actie add C-{code} Politie 2-12-2026 Stap {i}")
    return app


def test_however_many_rules_fail_a_sweep_runs_each_at_most_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The failing timers come after the good ones: each failure must not run the batch
    again (100 failures after 100 good timers were 10,000 rule calls)."""
    clock = FakeClock(NOW)
    app = _overleg_with_actions(tmp_path, clock, 40)
    rule = app.registry.timers["action.overdue"]
    calls: list[int] = []

    def second_half_fails(batch: Any, overleg: Any, due: Any) -> Any:
        calls.append(due.id)
        if due.id % 2:
            raise RuntimeError("a bug")
        return rule(batch, overleg, due)

    monkeypatch.setitem(app.registry.timers, "action.overdue", second_half_fails)
    clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    app.sweep()
    with session_scope(app.engine) as s:
        sent = len(s.exec(select(OutboxMessage).where(
            OutboxMessage.template == "action/overdue")).all())
        left_due = s.exec(select(Timer).where(
            Timer.handled_at == None, Timer.due_at <= clock.now())).all()  # noqa: E711
    assert len(calls) <= 2 * 40 and len(set(calls)) == 40
    assert sent == len([c for c in set(calls) if not c % 2]) and left_due == []


def test_a_failing_upkeep_or_plan_stops_no_reminder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(NOW)
    app = _overleg_with_actions(tmp_path, clock, 2)
    rule = app.registry.timers["action.overdue"]

    def broken_upkeep(session: Any, now: datetime) -> None:
        raise RuntimeError("a bug in upkeep")

    def bad_plan(batch: Any, overleg: Any, due: Any) -> Any:
        out = rule(batch, overleg, due)
        if due.id % 2:
            batch.plan(due, None)  # a next timer without a time: fails when written
        return out

    monkeypatch.setattr(app, "registry", replace(app.registry, upkeep=(
        broken_upkeep, *app.registry.upkeep)))
    monkeypatch.setitem(app.registry.timers, "action.overdue", bad_plan)
    clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    app.sweep()
    with session_scope(app.engine) as s:
        overdue = s.exec(select(OutboxMessage).where(
            OutboxMessage.template == "action/overdue")).all()
    assert len(overdue) == 1  # the one whose plan was good; the other handled without
