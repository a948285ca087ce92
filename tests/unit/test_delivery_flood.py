"""Replies claimed in the event's transaction (claim_now/send_claimed) under a flood
of commands, a flaky homeserver and two instances on one SQLite file. Every reply must be
shown exactly once and in order per room, nothing left unsent."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import bot.deliver as deliver_mod
from bot.clock import FakeClock
from bot.deliver import SendResult
from bot.runtime import Runtime
from commands.inbound import Inbound
from storage import outbox
from storage.db import session_scope
from storage.models import OutboxLease, OutboxMessage
from tests.unit.apps import CHAIR, throwaway_app

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROOMS = ["!a:x", "!b:x", "!c:x"]


class Homeserver:
    """One homeserver: a transaction ID repeated by the same device is the same event; by
    another device it is a second visible message."""

    def __init__(self, seed: int, flaky: bool, slow: float = 0.004) -> None:
        self.rng = random.Random(seed)
        self.flaky = flaky
        self.slow = slow
        self.accepted: dict[tuple[str, str], str] = {}  # (device, txn) -> event
        self.shown: dict[str, list[tuple[int, str]]] = defaultdict(list)  # room -> (row id, txn)
        self.in_flight: Counter[str] = Counter()
        self.overlap = 0

    async def send(self, device: str, row: outbox.Queued) -> SendResult:
        self.in_flight[row.room_id] += 1
        if self.in_flight[row.room_id] > 1:
            self.overlap += 1
        try:
            await asyncio.sleep(self.rng.random() * self.slow)
            roll = self.rng.random() if self.flaky else 1.0
            if roll < 0.08:
                return SendResult(error="502: bad gateway")
            if roll < 0.14:
                return SendResult(error="429: M_LIMIT_EXCEEDED", retry_after=0.02)
            if roll < 0.17:
                raise ConnectionError("reset")
            if roll < 0.19 and row.template != "error/not_delivered":
                return SendResult(error="M_UNKNOWN: refused", permanent=True)
            key = (device, row.txn_id)
            if key not in self.accepted:
                self.accepted[key] = f"${device}-{row.id}"
                self.shown[row.room_id].append((row.id or 0, row.txn_id))
            if roll < 0.22:  # accepted, but the answer was lost
                return SendResult(error="network: TimeoutError")
            return SendResult(remote_id=self.accepted[key])
        finally:
            self.in_flight[row.room_id] -= 1


def _runtime(url: str, hs: Homeserver, device: str) -> Runtime:
    app = throwaway_app(url, FakeClock(NOW), CASUSBOT_RATE_LIMIT="10000")

    class OnTheWire(Runtime):
        async def send(self, row: outbox.Queued) -> SendResult:
            return await hs.send(device, row)

    return OnTheWire(app, holder=device)


async def _flood(tmp_path, *, instances: int, flaky: bool, n: int, seed: int,  # type: ignore[no-untyped-def]
                 slow: float = 0.004, contention: bool = False, url: str | None = None) -> tuple[
        Homeserver, list[Runtime]]:
    import sqlite3
    import threading
    import time

    url = url or f"sqlite:///{tmp_path / 'bot.db'}"
    hs = Homeserver(seed, flaky, slow)
    stop = threading.Event()

    def hog() -> None:  # another process taking SQLite's write lock now and then
        r = random.Random(seed)
        conn = sqlite3.connect(tmp_path / "bot.db", isolation_level=None, timeout=30)
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            time.sleep(r.random() * 0.004)
            conn.execute("COMMIT")
            time.sleep(r.random() * 0.006)
        conn.close()
    rts = [_runtime(url, hs, f"DEV{i}") for i in range(instances)]
    for room in ROOMS:
        rts[0].app.record_join(room, NOW - timedelta(days=1))
    tasks = [asyncio.create_task(rt.deliverer.run()) for rt in rts]
    hogger = threading.Thread(target=hog) if contention else None
    if hogger:
        hogger.start()
    rng = random.Random(seed)
    try:
        for i, room in enumerate(ROOMS):
            ev = Inbound(event_id=f"$setup{i}", room_id=room, sender=CHAIR,
                         text=f"!setup Overleg {i}", sent_at=NOW)
            await asyncio.gather(*(rt.receive(ev) for rt in rts))
        pending = []
        for k in range(n):
            room = rng.choice(ROOMS)
            ev = Inbound(event_id=f"$e{k}", room_id=room, sender=CHAIR,
                         text=rng.choice(["!overleg list", "!help", "!zaak list"]),
                         sent_at=NOW)
            for rt in rts:  # every instance sees every event (each syncs the room)
                pending.append(asyncio.create_task(rt.receive(ev)))
            if rng.random() < 0.3:
                await asyncio.sleep(rng.random() * 0.003)
        await asyncio.gather(*pending)
        for _ in range(600):
            with session_scope(rts[0].app.engine) as s:
                left = s.exec(select(OutboxMessage).where(
                    OutboxMessage.sent_at.is_(None))).all()  # type: ignore[union-attr]
            if not left:
                break
            for rt in rts:
                rt.deliverer.poke()
            await asyncio.sleep(0.05)
        for rt in rts:
            await rt.deliverer.settle(5)
    finally:
        stop.set()
        if hogger:
            hogger.join()
        for t in tasks:
            t.cancel()
        for rt in rts:
            await rt.deliverer.stop()
    return hs, rts


def _check(hs: Homeserver, rts: list[Runtime]) -> None:
    with session_scope(rts[0].app.engine) as s:
        rows = s.exec(select(OutboxMessage)).all()
        leases = s.exec(select(OutboxLease)).all()
    assert rows and all(r.sent_at is not None for r in rows), "unsent rows left"
    assert leases == [], "a lease kept after everything was sent"
    shown_txns = Counter(t for room in hs.shown.values() for _, t in room)
    dupes = {t: c for t, c in shown_txns.items() if c > 1}
    assert not dupes, f"shown twice: {len(dupes)}"
    for room, seq in hs.shown.items():
        ids = [i for i, _ in seq]
        assert ids == sorted(ids), f"out of order in {room}: {ids}"
    refused = {r.txn_id for r in rows if r.remote_id is None}
    assert {r.txn_id for r in rows} - refused <= set(shown_txns)
    assert hs.overlap == 0, "two sends of one room at once"


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(deliver_mod, "backoff", lambda attempts: 0.02)


@pytest.mark.parametrize("seed", [1, 2])
async def test_flood_one_instance_flaky(tmp_path, seed: int) -> None:  # type: ignore[no-untyped-def]
    hs, rts = await _flood(tmp_path, instances=1, flaky=True, n=120, seed=seed)
    _check(hs, rts)


@pytest.mark.parametrize("seed", [1, 2])
async def test_flood_two_instances_flaky(tmp_path, seed: int) -> None:  # type: ignore[no-untyped-def]
    hs, rts = await _flood(tmp_path, instances=2, flaky=True, n=120, seed=seed)
    _check(hs, rts)


async def test_flood_two_instances_healthy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    hs, rts = await _flood(tmp_path, instances=2, flaky=False, n=150, seed=7)
    _check(hs, rts)


@pytest.mark.parametrize("seed", [4])
async def test_flood_two_instances_slow_and_locked(tmp_path, seed: int) -> None:  # type: ignore[no-untyped-def]
    hs, rts = await _flood(tmp_path, instances=2, flaky=True, n=150, seed=seed, slow=0.03,
                           contention=True)
    _check(hs, rts)
    assert any(rt.db.in_thread for rt in rts)  # (the lock sent some calls to a thread)


@pytest.mark.parametrize("seed", [6])
async def test_flood_one_instance_slow_and_locked(tmp_path, seed: int) -> None:  # type: ignore[no-untyped-def]
    hs, rts = await _flood(tmp_path, instances=1, flaky=True, n=150, seed=seed, slow=0.03,
                           contention=True)
    _check(hs, rts)


async def test_flood_two_instances_on_postgresql(tmp_path, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    hs, rts = await _flood(tmp_path, instances=2, flaky=True, n=120, seed=11, slow=0.01,
                           url=pg_url)
    _check(hs, rts)
