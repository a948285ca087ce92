"""Stopping never hangs: a cancellation that meets a wake-up in the same tick still stops."""

from __future__ import annotations

import asyncio
import contextlib

from bot.aio import cancel_and_wait, wait_event
from bot.deliver import Deliverer
from storage.db import create_schema, make_engine


class NoWire:
    async def send(self, row):  # type: ignore[no-untyped-def]
        raise AssertionError("nothing is queued")


async def test_the_deliverer_stops_when_poked_and_cancelled_in_the_same_tick() -> None:
    # On Python 3.11, asyncio.wait_for swallowed exactly this cancellation and the
    # deliverer's loop went on for ever (a stop that hung CI).
    engine = make_engine("sqlite://")
    create_schema(engine)
    deliverer = Deliverer(engine, NoWire())
    task = asyncio.create_task(deliverer.run())
    for _ in range(20):  # let it reach its wait
        await asyncio.sleep(0.01)
    deliverer.poke()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()
    engine.dispose()


async def test_wait_event_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True


async def test_wait_event_does_not_swallow_a_cancellation_that_meets_the_event() -> None:
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 30))
    await asyncio.sleep(0.01)
    event.set()
    waiter.cancel()
    done, _ = await asyncio.wait({waiter}, timeout=2)
    assert waiter in done and waiter.cancelled()


async def test_a_task_that_ignores_cancellation_is_given_up_on_not_waited_for() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):  # the bug guarded against
                await asyncio.sleep(10)

    async def polite() -> None:
        await asyncio.sleep(10)

    a, b = asyncio.create_task(stubborn()), asyncio.create_task(polite())
    await asyncio.sleep(0)
    left = await cancel_and_wait([a, b], grace=0.3)
    assert left == [a] and b.cancelled()
    release.set()
    a.cancel()
    await asyncio.wait({a}, timeout=2)
