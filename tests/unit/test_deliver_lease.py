"""The deliverer's lease on a room the bot is away from (kicked, left):
nothing to send there, so no lease is kept; the instance that sees the bot back sends at
once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.deliver import Deliverer, SendResult
from storage import inbound, outbox
from storage.db import create_schema, make_engine, session_scope
from storage.models import OutboxLease
from storage.outbox import Rendered

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROOM = "!r:localhost"


class Wire:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, row: outbox.Queued) -> SendResult:
        self.sent.append(row.body)
        return SendResult(remote_id=f"$s{row.id}")


@pytest.fixture
def engine(tmp_path):  # type: ignore[no-untyped-def]
    e = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(e)
    yield e
    e.dispose()


def _leases(engine) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return [(lease.room_id, lease.holder) for lease in s.exec(select(OutboxLease))]


async def test_a_poke_of_a_room_the_bot_is_away_from_takes_no_lease(engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        inbound.record_join(s, ROOM, NOW - timedelta(days=1))
    with session_scope(engine) as s:
        inbound.record_leave(s, ROOM, NOW - timedelta(hours=1))  # kicked
    with session_scope(engine) as s:
        outbox.enqueue(s, [Rendered(ROOM, "waits", None)], NOW)
    a = Deliverer(engine, Wire(), holder="A")
    a.poke(ROOM)  # e.g. a reminder of the sweep, or a reply to a command elsewhere
    await a.settle(5)
    assert _leases(engine) == []
    await a.stop()


async def test_the_other_instance_sends_at_once_when_the_bot_is_back(engine) -> None:  # type: ignore[no-untyped-def]
    """Two instances: A pokes the room while the bot is away; the bot is invited back and
    instance B (which saw the join) pokes it and sends at once: A kept no lease on a
    room it could send nothing to (else B would wait for A's heartbeat or the lease's
    end)."""
    with session_scope(engine) as s:
        inbound.record_join(s, ROOM, NOW - timedelta(days=1))
    with session_scope(engine) as s:
        inbound.record_leave(s, ROOM, NOW - timedelta(hours=1))
    with session_scope(engine) as s:
        outbox.enqueue(s, [Rendered(ROOM, "waits", None)], NOW)
    wa, wb = Wire(), Wire()
    a, b = Deliverer(engine, wa, holder="A"), Deliverer(engine, wb, holder="B")
    a.poke(ROOM)
    await a.settle(5)
    with session_scope(engine) as s:
        assert inbound.record_join(s, ROOM, NOW)  # back
    b.poke(ROOM)
    await b.settle(5)
    assert wb.sent == ["waits"], f"not sent by B; leases: {_leases(engine)}"
    await a.stop()
    await b.stop()
