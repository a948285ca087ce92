"""The outbox deliverer with a recording transport (a fake only at the wire)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.deliver import Deliverer, SendResult
from storage import outbox
from storage.db import create_schema, make_engine, session_scope
from storage.models import OutboxLease, OutboxMessage
from storage.outbox import Rendered

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class Wire:
    """Records every attempt; fails on the rules the test sets."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, str, str]] = []  # room, txn_id, body
        self.fail_next: dict[str, list[SendResult]] = {}

    async def send(self, row: outbox.Queued) -> SendResult:
        self.attempts.append((row.room_id, row.txn_id, row.body))
        queued = self.fail_next.get(row.room_id)
        if queued:
            return queued.pop(0)
        return SendResult(remote_id=f"$sent-{row.id}")


class GatedWire(Wire):
    """A wire that holds the send of the row with body ``held`` until ``gate`` is set."""

    def __init__(self, held: str) -> None:
        super().__init__()
        self.held = held
        self.gate = asyncio.Event()

    async def send(self, row: outbox.Queued) -> SendResult:
        if row.body == self.held:
            await self.gate.wait()
        return await super().send(row)


@pytest.fixture
def engine(tmp_path):  # type: ignore[no-untyped-def]
    e = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(e)
    yield e
    e.dispose()


def _enqueue(engine, room: str, *bodies: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        outbox.enqueue(s, [Rendered(room, b, None) for b in bodies], NOW)


async def test_sends_in_order_per_room_and_marks_sent(engine) -> None:  # type: ignore[no-untyped-def]
    wire = Wire()
    _enqueue(engine, "!a", "a1", "a2", "a3")
    _enqueue(engine, "!b", "b1")
    d = Deliverer(engine, wire)
    assert await d.run_once() == 0.0
    assert [b for r, _, b in wire.attempts if r == "!a"] == ["a1", "a2", "a3"]
    assert [b for r, _, b in wire.attempts if r == "!b"] == ["b1"]
    with session_scope(engine) as s:
        rows = s.exec(select(OutboxMessage)).all()
        assert all(r.sent_at is not None and r.remote_id for r in rows)
    await d.run_once()
    assert len(wire.attempts) == 4  # nothing is sent twice


async def test_a_failure_holds_the_room_and_retries_with_the_same_txn_id(engine) -> None:  # type: ignore[no-untyped-def]
    wire = Wire()
    wire.fail_next["!a"] = [SendResult(error="502: bad gateway")]
    _enqueue(engine, "!a", "a1", "a2")
    _enqueue(engine, "!b", "b1")
    d = Deliverer(engine, wire)
    await d.run_once()
    # a1 failed: a2 must wait behind it; b is not held up.
    assert [b for _, _, b in wire.attempts] in (["a1", "b1"], ["b1", "a1"])
    with session_scope(engine) as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.body == "a1")).one()
        assert row.attempts == 1 and row.next_attempt_at is not None
        row.next_attempt_at = datetime.now(UTC)  # let the retry be due now
        s.add(row)
    await d.run_once()
    a_attempts = [(txn, b) for r, txn, b in wire.attempts if r == "!a"]
    assert [b for _, b in a_attempts] == ["a1", "a1", "a2"]
    assert a_attempts[0][0] == a_attempts[1][0]  # the same transaction ID on the retry


async def test_rate_limit_retry_after_is_honoured(engine) -> None:  # type: ignore[no-untyped-def]
    wire = Wire()
    wire.fail_next["!a"] = [SendResult(error="429: M_LIMIT_EXCEEDED", retry_after=42.0)]
    _enqueue(engine, "!a", "a1")
    d = Deliverer(engine, wire)
    await d.run_once()
    with session_scope(engine) as s:
        row = s.exec(select(OutboxMessage)).one()
        assert row.next_attempt_at is not None
        wait = (row.next_attempt_at - datetime.now(UTC)).total_seconds()
        assert 40 < wait <= 42
    # Nothing is ready now; the deliverer says how long to sleep instead of spinning.
    assert 0 < await d.run_once() <= 30
    assert len(wire.attempts) == 1


async def test_a_transport_exception_is_a_failed_attempt(engine) -> None:  # type: ignore[no-untyped-def]
    class Broken:
        async def send(self, row: outbox.Queued) -> SendResult:
            raise ConnectionError("down")

    _enqueue(engine, "!a", "a1")
    d = Deliverer(engine, Broken())
    await d.run_once()
    with session_scope(engine) as s:
        row = s.exec(select(OutboxMessage)).one()
        assert row.sent_at is None and row.attempts == 1 and "ConnectionError" in (
            row.last_error or "")


async def test_two_deliverers_never_send_the_same_room(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = Wire(), Wire()
    _enqueue(engine, "!a", *[f"a{i}" for i in range(20)])
    _enqueue(engine, "!b", *[f"b{i}" for i in range(20)])
    one, two = Deliverer(engine, a, holder="one"), Deliverer(engine, b, holder="two")
    for _ in range(5):
        await asyncio.gather(one.run_once(), two.run_once())
    sent = [body for _, _, body in a.attempts + b.attempts]
    assert sorted(sent) == sorted([f"a{i}" for i in range(20)] + [f"b{i}" for i in range(20)])
    for wire in (a, b):  # each room's messages in order, by whichever instance sent them
        for room in ("!a", "!b"):
            mine = [body for r, _, body in wire.attempts if r == room]
            assert mine == sorted(mine, key=lambda s: int(s[1:]))


async def test_a_poke_during_a_send_is_not_lost_and_nothing_is_sent_twice(engine) -> None:  # type: ignore[no-untyped-def]
    """poke(room) sends a reply at once; rows that arrive while the room's send is in flight
    go out after it, in order, once each (also when the general pass sees the room)."""

    wire = GatedWire("r1")
    gate = wire.gate
    d = Deliverer(engine, wire)
    _enqueue(engine, "!a", "r1")
    d.poke("!a")
    for _ in range(100):
        if wire.attempts or "!a" in d._busy:
            break
        await asyncio.sleep(0.01)
    _enqueue(engine, "!a", "r2")
    d.poke("!a")  # busy: must not be lost
    gate.set()
    for _ in range(200):
        if len(wire.attempts) >= 2 and not d._busy:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert [b for _, _, b in wire.attempts] == ["r1", "r2"]

    # The general pass skips a room being sent, and leaves nothing behind either.
    gate.clear()
    _enqueue(engine, "!a", "r1")
    d.poke("!a")
    await asyncio.sleep(0.05)
    _enqueue(engine, "!a", "r3")
    await d.run_once()
    gate.set()
    for _ in range(200):
        if len(wire.attempts) >= 4 and not d._busy:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert [b for _, _, b in wire.attempts] == ["r1", "r2", "r1", "r3"]
    await d.stop()


def test_outbox_bookkeeping_in_single_statements(engine) -> None:  # type: ignore[no-untyped-def]
    """What the deliverer writes back, each as one UPDATE: a failure counts and waits, a send
    keeps the remote ID, a row already done is not touched again, and the backlog is counted
    without loading it."""
    from datetime import timedelta

    _enqueue(engine, "!a", "a1", "a2")
    with session_scope(engine) as s:
        s.add(OutboxMessage(room_id="!b", txn_id="t-b", body="text", formatted_body="<p>text</p>",
                            created_at=NOW - timedelta(minutes=5)))
    with session_scope(engine) as s:
        assert outbox.backlog(s) == (3, NOW - timedelta(minutes=5))
        a1, a2, b = outbox.pending(s)  # in creation order across rooms
        assert (a1.body, a2.body, b.body) == ("a1", "a2", "text")
        assert outbox.mark_failed(s, a1.id, "x" * 600, NOW + timedelta(seconds=4)) == 1
        assert outbox.mark_failed(s, a1.id, "503", NOW + timedelta(seconds=9)) == 2
        assert outbox.mark_failed(s, 10_000, "gone", NOW) == 0
        outbox.mark_sent(s, b.id, "$b", NOW)
        outbox.mark_sent(s, a2.id, None, NOW, error="gave up: 403")
        outbox.mark_sent(s, a2.id, "$late", NOW + timedelta(hours=1))  # already done
    with session_scope(engine) as s:
        rows = {r.body: r for r in s.exec(select(OutboxMessage))}
        failed, given_up, sent = rows["a1"], rows["a2"], rows["text"]
        assert (failed.attempts, failed.last_error, failed.sent_at) == (2, "503", None)
        assert failed.next_attempt_at == NOW + timedelta(seconds=9)
        assert (given_up.sent_at, given_up.remote_id, given_up.attempts) == (NOW, None, 1)
        assert given_up.last_error == "gave up: 403"
        assert (sent.formatted_body, sent.remote_id, sent.sent_at) == ("<p>text</p>", "$b", NOW)
        assert outbox.backlog(s) == (1, NOW)
        [head] = outbox.next_per_room(outbox.pending(s), NOW + timedelta(seconds=10))
        assert head.id == failed.id and head.attempts == 2
        assert outbox.next_per_room(outbox.pending(s), NOW) == []  # waits for its retry


async def test_settle_waits_for_the_replies_being_sent_but_not_for_ever(engine) -> None:  # type: ignore[no-untyped-def]
    """The sync loop's next long-poll waits for the replies just poked; a send that takes
    longer holds it up for the timeout only. Afterwards the lease is released too."""

    wire = GatedWire("slow")
    gate = wire.gate
    d = Deliverer(engine, wire)
    await d.settle(5)  # nothing in flight: at once
    _enqueue(engine, "!a", "reply")
    d.poke("!a")
    await d.settle(5)
    assert [b for _, _, b in wire.attempts] == ["reply"]  # sent before settle returned
    _enqueue(engine, "!a", "slow")
    d.poke("!a")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await d.settle(0.2)
    assert 0.15 < loop.time() - started < 2 and [b for _, _, b in wire.attempts] == ["reply"]
    gate.set()
    await d.settle(5)
    assert [b for _, _, b in wire.attempts] == ["reply", "slow"]
    with session_scope(engine) as s:  # all sent: the room's lease was given up with the last
        assert s.exec(select(OutboxLease)).all() == []
        assert outbox.backlog(s) == (0, None)


async def test_a_row_refused_as_too_large_is_told_to_the_room_never_silently(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The last guard behind commands/fitting.py: a homeserver's 413 M_TOO_LARGE gives the
    row up and sends the room a short notice of what was not sent (in its language)."""
    from bot.clock import FakeClock
    from bot.runtime import Runtime
    from tests.unit.apps import throwaway_app

    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    wire = Wire()
    wire.fail_next["!a"] = [SendResult(error="413: M_TOO_LARGE", permanent=True)]

    class OnTheWire(Runtime):
        async def send(self, row: outbox.Queued) -> SendResult:
            return await wire.send(row)

    runtime = OnTheWire(app, holder="test")
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered("!a", "big", None, template="action/list"),
                           Rendered("!a", "after", None, template="meeting/list")], NOW)
    await runtime.deliverer.run_once()
    await runtime.deliverer.run_once()
    await runtime.deliverer.settle(5.0)  # the notice's send, started by a poke
    with session_scope(app.engine) as s:
        rows = list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]
    assert [(r.template, r.sent_at is not None, r.remote_id is not None) for r in rows] == [
        ("action/list", True, False),  # given up, with the reason kept
        ("meeting/list", True, True),  # the room's queue goes on
        ("error/too_large", True, True),  # and the room is told
    ]
    assert "M_TOO_LARGE" in (rows[0].last_error or "")
    await runtime.deliverer.stop()
    app.engine.dispose()


async def test_a_refused_send_is_never_silent(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A 400 from the Bot Connector (or M_FORBIDDEN): the row is given up, logged as an
    error with its shape and no body, counted per code for /metrics, shown by the doctor's
    check, and the room is told once; a notice refused in turn is not told again."""
    import json
    import logging

    from bot.clock import FakeClock
    from bot.health import Metrics, refused_check
    from bot.runtime import Runtime
    from tests.unit.apps import throwaway_app

    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    assert refused_check(app.engine, datetime.now(UTC)).ok
    wire = Wire()
    wire.fail_next["!a"] = [SendResult(error="400: BadArgument", permanent=True)]
    wire.fail_next["!b"] = [SendResult(error="M_FORBIDDEN: no power", permanent=True),
                            SendResult(error="M_FORBIDDEN: no power", permanent=True)]

    class OnTheWire(Runtime):
        async def send(self, row: outbox.Queued) -> SendResult:
            return await wire.send(row)

    runtime = OnTheWire(app, holder="test")
    secret = "geheime inhoud van het bericht"
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered("!a", secret, f"<b>{secret}</b>", template="agenda/agenda",
                                    content_json=json.dumps({"card": {"body": [secret]}})),
                           Rendered("!b", secret, None, template="meeting/list")], NOW)
    with caplog.at_level(logging.INFO, logger="bot.deliver"):
        for _ in range(3):
            await runtime.deliverer.run_once()
        await runtime.deliverer.settle(5.0)  # the notices' sends, started by a poke
    with session_scope(app.engine) as s:
        rows = list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]
    told = [(r.room_id, r.template, r.remote_id is not None) for r in rows[2:]]
    # !a is told (and the notice arrives); !b's notice is refused too and not told again.
    assert sorted(told) == [("!a", "error/not_delivered", True),
                            ("!b", "error/not_delivered", False)]
    assert [r.last_error for r in rows[:2]] == ["gave up: 400: BadArgument",
                                                "gave up: M_FORBIDDEN: no power"]
    assert runtime.refused == {"400": 1, "M_FORBIDDEN": 2}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    first = next(r for r in errors if getattr(r, "room", None) == "!a")
    shape = json.loads(first.shape)  # type: ignore[attr-defined]
    assert shape["template"] == "agenda/agenda" and shape["content"] == {
        "card": {"body": [f"str[{len(secret)}]"]}}
    assert not any(secret in r.getMessage() or secret in json.dumps(r.__dict__, default=str)
                   for r in caplog.records)
    metrics = Metrics(app.engine, runtime).render()
    assert 'casusbot_refused_total{code="400"} 1' in metrics
    assert 'casusbot_refused_total{code="M_FORBIDDEN"} 2' in metrics
    check = refused_check(app.engine, datetime.now(UTC))
    assert not check.ok and "3 not delivered" in check.detail and "2× M_FORBIDDEN" in check.detail
    await runtime.deliverer.stop()
    app.engine.dispose()


async def test_a_room_is_told_once_per_episode_of_refused_sends(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Five messages refused in a row: one notice; a message that arrives ends the episode,
    and the next refusal is told again."""
    from bot.clock import FakeClock
    from bot.runtime import Runtime
    from tests.unit.apps import throwaway_app

    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    wire = Wire()
    wire.fail_next["!a"] = [SendResult(error="400: BadArgument", permanent=True)
                            for _ in range(5)]

    class OnTheWire(Runtime):
        async def send(self, row: outbox.Queued) -> SendResult:
            return await wire.send(row)

    runtime = OnTheWire(app, holder="test")

    def notices() -> int:
        with session_scope(app.engine) as s:
            return len(list(s.exec(select(OutboxMessage).where(
                OutboxMessage.template == "error/not_delivered"))))

    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered("!a", f"bericht {i}", None, template="meeting/list")
                           for i in range(4)], NOW)
    for _ in range(6):
        await runtime.deliverer.run_once()
        await runtime.deliverer.settle(5.0)  # the sends a poke started
    assert notices() == 1  # the fifth refusal was the notice itself
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered("!a", "weer goed", None, template="meeting/list")], NOW)
    await runtime.deliverer.run_once()
    await runtime.deliverer.settle(5.0)
    wire.fail_next["!a"] = [SendResult(error="400: BadArgument", permanent=True)]
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered("!a", "weer fout", None, template="meeting/list")], NOW)
    for _ in range(3):
        await runtime.deliverer.run_once()
        await runtime.deliverer.settle(5.0)
    assert notices() == 2


async def test_a_reply_after_one_5xx_is_retried_after_its_backoff_not_the_heartbeat(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The pass loop asleep for a heartbeat learns of the retry's time at once."""
    import asyncio

    from bot.clock import FakeClock
    from bot.runtime import Runtime
    from tests.unit.apps import throwaway_app

    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    wire = Wire()
    wire.fail_next["!a"] = [SendResult(error="502: Bad Gateway")]

    class OnTheWire(Runtime):
        async def send(self, row: outbox.Queued) -> SendResult:
            return await wire.send(row)

    runtime = OnTheWire(app, holder="test")
    loop_task = asyncio.create_task(runtime.deliverer.run())
    await asyncio.sleep(0.2)  # the loop finds nothing and sleeps for a heartbeat
    with session_scope(app.engine) as s:
        outbox.enqueue(s, [Rendered("!a", "antwoord", None, template="meeting/list")], NOW)
    runtime.deliverer.poke("!a")
    try:
        for _ in range(100):  # the first backoff is about a second
            with session_scope(app.engine) as s:
                [row] = list(s.exec(select(OutboxMessage)))
            if row.remote_id:
                break
            await asyncio.sleep(0.05)
        assert row.remote_id is not None
    finally:
        loop_task.cancel()
        await runtime.deliverer.stop()


def _runtime(tmp_path, wire: Wire):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from bot.clock import FakeClock
    from bot.runtime import Runtime
    from tests.unit.apps import throwaway_app

    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    app.record_join("!a", NOW - timedelta(days=1))

    class OnTheWire(Runtime):
        async def send(self, row: outbox.Queued) -> SendResult:
            return await wire.send(row)

    return OnTheWire(app, holder="test")


def _said(text: str, n: int):  # type: ignore[no-untyped-def]
    from commands.inbound import Inbound
    from tests.unit.apps import CHAIR

    return Inbound(event_id=f"$e{n}", room_id="!a", sender=CHAIR, text=text, sent_at=NOW)


def _transactions(engine) -> list[int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    begun = [0]
    event.listen(engine, "begin", lambda _conn: begun.__setitem__(0, begun[0] + 1))
    return begun


async def test_a_reply_is_claimed_in_its_events_transaction_and_sent_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The reply to a command handled on the loop thread is claimed in the command's own
    transaction and sent at once: two transactions in all (the command; the row's mark
    and the lease's release), not three. Sent once, and the lease is given up."""
    wire = Wire()
    runtime = _runtime(tmp_path, wire)
    engine = runtime.app.engine
    await runtime.receive(_said("!setup Overleg Noord", 1))  # (reads when the bot joined)
    await runtime.deliverer.settle(5)
    begun = _transactions(engine)
    done = await runtime.receive(_said("!overleg list", 2))
    assert list(done.claimed) == ["!a"] and [r.template for r in done.claimed["!a"]] == [
        r.template for r in done.replies]
    await runtime.deliverer.settle(5)
    assert begun[0] == 2
    assert [r for r, _, _ in wire.attempts] == ["!a", "!a"]
    await runtime.deliverer.run_once()
    assert len(wire.attempts) == 2  # nothing is sent twice
    with session_scope(engine) as s:
        assert all(r.remote_id for r in s.exec(select(OutboxMessage)))
        assert s.exec(select(OutboxLease)).all() == []
    await runtime.deliverer.stop()
    engine.dispose()


async def test_a_reply_while_its_room_is_being_sent_waits_its_turn(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A command answered while an earlier message of its room is still being sent: its
    reply is not claimed beside that send (it would be sent twice) but goes after it."""
    wire = GatedWire("earlier")
    runtime = _runtime(tmp_path, wire)
    engine = runtime.app.engine
    _enqueue(engine, "!a", "earlier")
    runtime.deliverer.poke("!a")
    for _ in range(100):
        if "!a" in runtime.deliverer._busy:
            break
        await asyncio.sleep(0.01)
    done = await runtime.receive(_said("!setup Overleg Noord", 1))
    assert done.replies and done.claimed == {}
    wire.gate.set()
    for _ in range(200):
        if len(wire.attempts) >= 2 and not runtime.deliverer._busy:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    bodies = [b for _, _, b in wire.attempts]
    assert bodies[0] == "earlier" and len(bodies) == 2  # the reply, once, after it
    await runtime.deliverer.stop()
    engine.dispose()


async def test_an_event_handled_in_a_worker_thread_claims_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In a worker thread (PostgreSQL; SQLite's lock taken) a send of the room could start
    on the loop before the claimed rows went: the replies go through a poke instead."""
    wire = Wire()
    runtime = _runtime(tmp_path, wire)
    done = await asyncio.to_thread(runtime.app.handle, _said("!setup Overleg Noord", 1),
                                   runtime.deliverer.claim_now)
    assert done.replies and done.claimed == {}
    with session_scope(runtime.app.engine) as s:
        assert s.exec(select(OutboxLease)).all() == []  # (no lease taken either)
    runtime.app.engine.dispose()


def _kicked_with_a_waiting_message(engine) -> None:  # type: ignore[no-untyped-def]
    """The bot joined "!a", was kicked an hour ago; a message for "!a" waits."""
    from datetime import timedelta

    from storage import inbound

    with session_scope(engine) as s:
        inbound.record_join(s, "!a", NOW - timedelta(days=1))
    with session_scope(engine) as s:
        inbound.record_leave(s, "!a", NOW - timedelta(hours=1))
    _enqueue(engine, "!a", "waits")


def _leases(engine) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return [(lease.room_id, lease.holder) for lease in s.exec(select(OutboxLease))]


async def test_a_poke_of_a_room_the_bot_is_away_from_takes_no_lease(engine) -> None:  # type: ignore[no-untyped-def]
    """Nothing can be sent to a room the bot is out of: a poke of it (a reminder of the
    sweep, a reply to a command elsewhere) keeps no lease on it."""
    _kicked_with_a_waiting_message(engine)
    a = Deliverer(engine, Wire(), holder="A")
    a.poke("!a")
    await a.settle(5)
    assert _leases(engine) == []
    await a.stop()


async def test_the_other_instance_sends_at_once_when_the_bot_is_back(engine) -> None:  # type: ignore[no-untyped-def]
    """Two instances: A pokes the room while the bot is away; the bot is invited back and
    instance B (which saw the join) pokes it and sends at once: A kept no lease on a
    room it could send nothing to (else B would wait for A's heartbeat or the lease's
    end)."""
    from storage import inbound

    _kicked_with_a_waiting_message(engine)
    wa, wb = Wire(), Wire()
    a, b = Deliverer(engine, wa, holder="A"), Deliverer(engine, wb, holder="B")
    a.poke("!a")
    await a.settle(5)
    with session_scope(engine) as s:
        assert inbound.record_join(s, "!a", NOW)  # back
    b.poke("!a")
    await b.settle(5)
    assert [body for _, _, body in wb.attempts] == ["waits"], f"leases: {_leases(engine)}"
    assert wa.attempts == []
    await a.stop()
    await b.stop()


async def test_rows_another_instance_enqueues_during_a_send_go_with_the_lease(engine) -> None:  # type: ignore[no-untyped-def]
    """Instance one holds the room's lease while it sends; instance two enqueues a reply
    there meanwhile and cannot claim the room. One sends the reply right after its own rows,
    unpoked (it keeps the lease for them), and two does not keep trying to claim a lease it
    cannot take (it spun on it for as long as one sent)."""
    one_wire, two_wire = GatedWire("r1"), Wire()
    one = Deliverer(engine, one_wire, holder="one")
    two = Deliverer(engine, two_wire, holder="two")
    claims = _counting(two, "claim")
    _enqueue(engine, "!a", "r1", "r2")
    one.poke("!a")
    for _ in range(200):
        if _leases(engine):
            break
        await asyncio.sleep(0.01)
    assert _leases(engine) == [("!a", "one")]
    _enqueue(engine, "!a", "reply")
    passes = asyncio.create_task(two.run())
    two.poke("!a")
    await asyncio.sleep(0.5)  # one's send of r1 hangs meanwhile
    one_wire.gate.set()
    for _ in range(300):
        if len(one_wire.attempts) == 3:
            break
        await asyncio.sleep(0.01)
    passes.cancel()
    await one.stop()
    await two.stop()
    assert [b for _, _, b in one_wire.attempts] == ["r1", "r2", "reply"]
    assert two_wire.attempts == []
    assert len(claims) <= 3, len(claims)  # its poke, its first pass, at most one more
    assert _leases(engine) == []


def _counting(d: Deliverer, name: str) -> list[float]:
    """The times ``d``'s real method ``name`` was called (a pass reading every unsent row,
    a claim): how often an idle instance looks."""
    calls: list[float] = []
    real = getattr(d, name)

    def counted(*args):  # type: ignore[no-untyped-def]
        calls.append(time.monotonic())
        return real(*args)

    setattr(d, name, counted)
    return calls


async def test_a_stopped_holders_room_is_taken_when_its_lease_runs_out_without_polling(
        engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Instance one's send fails (a retry due in 0.2 s) and one stops, holding the lease
    (killed). Two neither polls meanwhile (found by a breaking try-out: the passed retry
    time of the held room made it look every 50 ms) nor waits a heartbeat after the lease
    ran out: it sends when the lease runs out, once."""
    monkeypatch.setattr("bot.deliver.LEASE", timedelta(seconds=1))
    one_wire, two_wire = Wire(), Wire()
    one_wire.fail_next["!a"] = [SendResult(error="502: bad gateway", retry_after=0.2)]
    one = Deliverer(engine, one_wire, holder="one")
    two = Deliverer(engine, two_wire, holder="two")
    passes = _counting(two, "_heads")
    _enqueue(engine, "!a", "r1")
    await one.run_once()  # fails and keeps the lease; one is gone from here on
    assert [r for r, _ in _leases(engine)] == ["!a"]
    started = time.monotonic()
    loop = asyncio.create_task(two.run())
    while not two_wire.attempts and time.monotonic() - started < 3:
        await asyncio.sleep(0.02)
    took = time.monotonic() - started
    loop.cancel()
    await two.stop()
    assert [b for _, _, b in two_wire.attempts] == ["r1"]
    assert took < 2.0, took  # the lease's second, not a heartbeat's 30
    assert len(passes) <= 4, len(passes)


async def test_a_room_being_sent_with_a_passed_retry_time_does_not_make_the_loop_spin(
        engine) -> None:  # type: ignore[no-untyped-def]
    """One instance: the head of !a failed before (its retry time has passed) and its
    retry, started by a poke, hangs. The pass loop leaves the busy room to its sender."""
    wire = GatedWire("r1")
    d = Deliverer(engine, wire, holder="one")
    passes = _counting(d, "_heads")
    _enqueue(engine, "!a", "r1")
    with session_scope(engine) as s:
        outbox.mark_failed(s, 1, "502", datetime.now(UTC) - timedelta(seconds=1))
    d.poke("!a")
    await asyncio.sleep(0.05)
    loop = asyncio.create_task(d.run())
    await asyncio.sleep(1.0)
    wire.gate.set()
    await asyncio.sleep(0.2)
    loop.cancel()
    await d.stop()
    assert [b for _, _, b in wire.attempts] == ["r1"]
    assert len(passes) <= 3, len(passes)


async def test_a_poked_send_longer_than_half_a_lease_claims_again_and_goes_on(
        engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A drain started by a poke renews its lease half-way and goes on at once (found by a
    breaking try-out: it stopped until the next heartbeat)."""
    monkeypatch.setattr("bot.deliver.LEASE", timedelta(seconds=0.6))

    class Slow(Wire):
        async def send(self, row: outbox.Queued) -> SendResult:
            await asyncio.sleep(0.1)
            return await super().send(row)

    wire = Slow()
    d = Deliverer(engine, wire, holder="one")
    loop = asyncio.create_task(d.run())
    await asyncio.sleep(0.05)  # the pass loop now waits a heartbeat
    _enqueue(engine, "!a", *[f"m{i}" for i in range(10)])
    d.poke("!a")
    started = time.monotonic()
    while len(wire.attempts) < 10 and time.monotonic() - started < 5:
        await asyncio.sleep(0.02)
    took = time.monotonic() - started
    loop.cancel()
    await d.stop()
    assert [b for _, _, b in wire.attempts] == [f"m{i}" for i in range(10)]
    assert took < 2.0, took


async def test_a_send_hanging_past_the_lease_is_retried_by_its_holder_not_taken_over(
        engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One's first PUT of r1 hangs longer than the lease (found by a breaking try-out: two
    took the expired lease over and sent r1 and r2, then one's hung r1 went out too). The
    send counts as failed after a third of the lease, one retries it while its lease holds,
    and two sends nothing."""
    monkeypatch.setattr("bot.deliver.LEASE", timedelta(seconds=2.4))
    order: list[tuple[str, str]] = []

    class Hang(Wire):
        def __init__(self, name: str, hang: bool) -> None:
            super().__init__()
            self.name, self.hang = name, hang

        async def send(self, row: outbox.Queued) -> SendResult:
            if row.body == "r1" and self.hang:
                self.hang = False  # the first attempt only
                await asyncio.sleep(3.0)
            order.append((self.name, row.body))
            return await super().send(row)

    one = Deliverer(engine, Hang("one", True), holder="one")
    two = Deliverer(engine, Hang("two", False), holder="two")
    _enqueue(engine, "!a", "r1", "r2")
    loops = [asyncio.create_task(one.run())]
    await asyncio.sleep(0.1)  # one holds the room; its PUT of r1 hangs
    loops.append(asyncio.create_task(two.run()))
    await asyncio.sleep(3.2)
    for loop in loops:
        loop.cancel()
    await one.stop()
    await two.stop()
    assert order == [("one", "r1"), ("one", "r2")]
