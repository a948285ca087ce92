"""Reminders rendered when sent are the very messages the sweep used to render itself."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.deliver import Deliverer, SendResult
from bot.render import Renderer
from commands import deferred, timed
from commands.registry import Outgoing, Registry
from storage.db import create_schema, make_engine, session_scope
from storage.models import OutboxMessage
from storage.outbox import Queued
from tests.unit.conftest import ADMIN, NOW, Say


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str | None, str]] = []

    async def send(self, row: Queued) -> SendResult:
        self.sent.append((row.room_id, row.body, row.formatted_body, row.mentions))
        return SendResult(remote_id=f"$sent-{row.id}")


def _scenario(db: Path, registry: Registry, renderer: Renderer) -> None:
    engine = make_engine(f"sqlite:///{db}")
    create_schema(engine)
    with session_scope(engine) as s:
        say = Say(s, registry, renderer)
        say.one("!setup Casusoverleg Test")
        say.one("!annex add Jeugdzorg door burgemeester Teststad", sender=ADMIN)
        for p in ("Politie core", "Gemeente core", "Jeugdzorg"):
            say.one(f"!partner add {p}")
        say.one("!lid add @politie1:localhost Politie")
        say.one("!lid add @coord:localhost Gemeente coordinator")
        say.one("!lid add @jeugd:localhost Jeugdzorg")
        code = re.search(r"C-\w+", say.one("!casus open"))[0]  # type: ignore[index]
        say.one(f"!casus partner {code} add Jeugdzorg")
        say.one(f"!actie add {code} Politie 2-12-2026 Huisbezoek")
        say.one(f"!actie add {code} Jeugdzorg 3-12-2026 Gesprek")
        say.one("!overleg plan 10-12-2026 14:00")
    engine.dispose()


async def test_deferred_reminders_are_sent_exactly_as_rendered_ones(
        tmp_path: Path, registry: Registry, renderer: Renderer) -> None:
    _scenario(tmp_path / "a.db", registry, renderer)
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    at = NOW + timedelta(days=4)  # overdue actions, due-soon nudges, a digest
    now_rendered, now_deferred = make_engine(f"sqlite:///{tmp_path / 'a.db'}"), \
        make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with session_scope(now_rendered) as s:
        timed.sweep(s, renderer, at)
        expected = [(r.room_id, r.body, r.formatted_body, r.mentions) for r in s.exec(
            select(OutboxMessage).where(OutboxMessage.sent_at == None)  # noqa: E711
            .order_by(OutboxMessage.id))]  # type: ignore[arg-type]
    with session_scope(now_deferred) as s:
        timed.sweep(s, renderer, at, defer=True)
        waiting = list(s.exec(select(OutboxMessage).where(
            OutboxMessage.deferred != None)))  # noqa: E711
        assert waiting and all(r.body == "" for r in waiting)
    assert len(expected) >= 3
    wire = Wire()
    deliverer = Deliverer(now_deferred, wire, render=renderer)
    while await deliverer.run_once() == 0.0:
        pass
    assert sorted(wire.sent) == sorted(expected)
    with session_scope(now_deferred) as s:  # what was sent is kept as it was sent
        rows = list(s.exec(select(OutboxMessage)))
        assert all(r.sent_at is not None and r.deferred is None for r in rows)
        stored = sorted((r.room_id, r.body, r.formatted_body, r.mentions) for r in rows)
    assert set(expected) <= set(stored)
    now_rendered.dispose()
    now_deferred.dispose()


def test_the_json_form_keeps_dates_tuples_and_nesting() -> None:
    values = {"action": {"id": "A1", "due": date(2026, 12, 2), "overdue_days": 2},
              "owners": ("@a:localhost",), "late_since": datetime(2026, 12, 3, 8, tzinfo=UTC),
              "cases": [{"case": "C-1", "actions": []}], "escalated": False, "note": None}
    out = Outgoing("action/overdue", values, room="!r", locale="nl", timezone="Europe/Amsterdam")
    back = deferred.loads(deferred.dumps(out), room="!r", mentions=(), ref=None)
    assert back.values == values and back.template == out.template
    assert back.locale == "nl" and back.timezone == "Europe/Amsterdam"
    assert isinstance(back.values["owners"], tuple)


@pytest.mark.parametrize("values", [{"when": datetime(2026, 12, 1, 8)}, {"obj": object()},
                                    {"x": {1: "a"}}, {"x": {"__date__": "2026-12-01"}}])
def test_values_that_are_not_plain_data_are_rendered_at_once(values: dict[str, object],
                                                            renderer: Renderer) -> None:
    with pytest.raises(deferred.NotPlainData):
        deferred.dumps(Outgoing("help/overview", values))
    made = deferred.defer_all(renderer, [Outgoing("help/overview", {})], "!r")
    assert made[0].deferred is not None and made[0].body == ""


async def test_a_row_that_cannot_be_rendered_is_given_up_not_retried_for_ever(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(engine)
    from storage import outbox
    with session_scope(engine) as s:
        outbox.enqueue(s, [outbox.Rendered("!r", "", None, deferred=deferred.dumps(
            Outgoing("no/such_template", {})))], NOW)
    wire = Wire()
    await Deliverer(engine, wire, render=Renderer()).run_once()
    assert wire.sent == []
    with session_scope(engine) as s:
        [row] = s.exec(select(OutboxMessage)).all()
        assert row.sent_at is not None and "render failed" in (row.last_error or "")
    engine.dispose()
