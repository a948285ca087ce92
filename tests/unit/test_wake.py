"""The waker: a backlog larger than one sweep is worked off at once, and a poke during a
sweep is not lost (APScheduler skips a job that is still running)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

from bot.clock import FakeClock
from bot.wake import Waker

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def test_a_backlog_of_several_sweeps_runs_without_waiting_for_the_heartbeat() -> None:
    clock = FakeClock(NOW)
    left = [3]  # three sweeps' worth of due timers (BATCH_SIZE each)

    def sweep() -> datetime | None:
        left[0] -= 1
        return NOW if left[0] > 0 else NOW + timedelta(days=1)

    waker = Waker(sweep, clock, heartbeat=timedelta(hours=1))
    waker.start()
    try:
        for _ in range(100):
            if waker.runs >= 3:
                break
            await asyncio.sleep(0.02)
        assert waker.runs == 3 and left[0] == 0
    finally:
        waker.stop()


async def test_a_poke_during_a_sweep_sweeps_again() -> None:
    clock = FakeClock(NOW)
    release = threading.Event()
    calls = [0]

    def sweep() -> datetime | None:
        calls[0] += 1
        if calls[0] == 2:
            release.wait(5)  # the second sweep is slow; a poke arrives meanwhile
        return NOW + timedelta(days=1)

    waker = Waker(sweep, clock, heartbeat=timedelta(hours=1))
    waker.start()  # first sweep
    try:
        for _ in range(100):
            if waker.runs >= 1:
                break
            await asyncio.sleep(0.02)
        waker.poke()  # second sweep, held
        for _ in range(100):
            if calls[0] >= 2:
                break
            await asyncio.sleep(0.02)
        waker.poke()  # during the second sweep
        release.set()
        for _ in range(100):
            if calls[0] >= 3:
                break
            await asyncio.sleep(0.02)
        assert calls[0] == 3
    finally:
        release.set()
        waker.stop()


async def test_a_timer_planned_for_later_costs_no_sweep_now_but_a_sooner_one_rearms() -> None:
    clock = FakeClock(NOW)
    calls = [0]

    def sweep() -> datetime | None:
        calls[0] += 1
        return NOW + timedelta(days=1)  # what the waker then waits for

    waker = Waker(sweep, clock, heartbeat=timedelta(hours=1))
    waker.start()
    try:
        for _ in range(100):
            if waker.runs >= 1:
                break
            await asyncio.sleep(0.02)
        waker.due(NOW + timedelta(days=7))  # later than the armed time: nothing to do
        await asyncio.sleep(0.2)
        assert calls[0] == 1
        waker.due(NOW + timedelta(milliseconds=50))  # sooner: armed for then
        for _ in range(100):
            if calls[0] >= 2:
                break
            await asyncio.sleep(0.02)
        assert calls[0] == 2
    finally:
        waker.stop()


async def test_a_held_waker_sweeps_only_after_release() -> None:
    """At start (and while sync fails) timed work waits until what was said meanwhile is
    handled: a reminder must not overtake the command that cancels it."""
    clock = FakeClock(NOW)
    swept: list[datetime] = []

    def sweep() -> datetime | None:
        swept.append(clock.now())
        return None

    waker = Waker(sweep, clock, heartbeat=timedelta(seconds=0.05))
    waker.hold()
    waker.start()  # would sweep at once, and on every heartbeat
    try:
        await asyncio.sleep(0.3)
        waker.due(NOW)  # something fell due: still held
        await asyncio.sleep(0.1)
        assert swept == []
        waker.release()
        for _ in range(100):
            if swept:
                break
            await asyncio.sleep(0.02)
        assert len(swept) >= 1
    finally:
        waker.stop()
