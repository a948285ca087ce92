"""A reply claimed in its event's transaction: the apology of a crashing command,
and the event's transaction run again after a lost race (claimed rows of the failed attempt
must not be sent; the retry's are sent once)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

import commands.inbound as inbound_mod
from bot.clock import FakeClock
from bot.deliver import SendResult
from bot.runtime import Runtime
from commands.inbound import Inbound
from storage import outbox
from storage.db import session_scope
from storage.models import OutboxLease, OutboxMessage
from tests.unit.apps import CHAIR, throwaway_app

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROOM = "!a:x"


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send(self, row: outbox.Queued) -> SendResult:
        await asyncio.sleep(0)
        self.sent.append((row.id or 0, row.template))
        return SendResult(remote_id=f"$s{row.id}")


def _runtime(tmp_path, wire: Wire) -> Runtime:  # type: ignore[no-untyped-def]
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.record_join(ROOM, NOW - timedelta(days=1))

    class OnTheWire(Runtime):
        async def send(self, row: outbox.Queued) -> SendResult:
            return await wire.send(row)

    return OnTheWire(app, holder="test")


def _said(text: str, n: int) -> Inbound:
    return Inbound(event_id=f"$e{n}", room_id=ROOM, sender=CHAIR, text=text, sent_at=NOW,
                   encrypted=True)


def _state(engine):  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        rows = [(r.id, r.template, r.remote_id is not None)
                for r in s.exec(select(OutboxMessage).order_by(OutboxMessage.id))]
        leases = [(lease.room_id, lease.holder) for lease in s.exec(select(OutboxLease))]
    return rows, leases


async def test_the_apology_of_a_crashing_command_is_claimed_and_sent_once(
        tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    wire = Wire()
    rt = _runtime(tmp_path, wire)
    await rt.receive(_said("!setup Overleg", 1))
    await rt.deliverer.settle(5)

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("bug")

    monkeypatch.setattr(inbound_mod, "_dispatch", boom)
    done = await rt.receive(_said("!overleg list", 2))
    assert [r.template for r in done.replies] == ["error/internal"]
    assert list(done.claimed) == [ROOM]
    await rt.deliverer.settle(5)
    await rt.deliverer.run_once()
    rows, leases = _state(rt.app.engine)
    assert all(sent for _, _, sent in rows), rows
    assert sorted(i for i, _ in wire.sent) == [i for i, _, _ in rows]  # each once
    assert leases == []
    await rt.deliverer.stop()
    rt.app.engine.dispose()


async def test_a_transaction_run_again_after_a_lost_race_sends_its_reply_once(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire = Wire()
    rt = _runtime(tmp_path, wire)
    await rt.receive(_said("!setup Overleg", 1))
    await rt.deliverer.settle(5)
    real = rt.deliverer.claim_now
    calls = [0]

    def racing(session, room):  # type: ignore[no-untyped-def]
        rows = real(session, room)
        calls[0] += 1
        if calls[0] == 1:  # the commit of this attempt loses a race: rolled back, run again
            raise IntegrityError("INSERT", {}, Exception("lost a race"))
        return rows

    done = await rt.db.run(rt.app.handle, _said("!overleg list", 2), racing)
    assert calls[0] == 2 and list(done.claimed) == [ROOM]
    for room, rows in done.claimed.items():
        rt.deliverer.send_claimed(room, rows)
    await rt.deliverer.settle(5)
    await rt.deliverer.run_once()
    rows, leases = _state(rt.app.engine)
    assert all(sent for _, _, sent in rows), rows
    assert sorted(i for i, _ in wire.sent) == [i for i, _, _ in rows]
    assert leases == []
    await rt.deliverer.stop()
    rt.app.engine.dispose()
