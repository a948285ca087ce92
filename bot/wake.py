"""Wakes the sweep: one APScheduler date job at the next due time, plus a heartbeat.

The database holds every timer; this only decides *when* to look. Nothing is kept only in
memory: after a restart the first sweep finds whatever fell due meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock

log = logging.getLogger(__name__)
HEARTBEAT = timedelta(seconds=60)


class Waker:
    """Runs ``sweep`` (blocking, in a thread) when the next timer is due and on a heartbeat."""

    def __init__(self, sweep: Callable[[], datetime | None], clock: Clock,
                 after: Callable[[], None] = lambda: None,
                 heartbeat: timedelta = HEARTBEAT) -> None:
        self.sweep = sweep
        self.clock = clock
        self.after = after  # e.g. poke the deliverer
        self.heartbeat = heartbeat
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._lock = asyncio.Lock()
        self._again = False  # poked during a sweep: sweep again right after it
        self._armed_for: datetime | None = None  # the clock time the next sweep is set for
        self._held = False
        self.runs = 0

    def hold(self) -> None:
        """Timed work waits until ``release``: the transport has not yet read everything
        said until now (at start, before the first sync's events and any gap are handled;
        while sync fails). A reminder or an agenda must not overtake a command sent before
        it, such as the cancellation of its meeting during an outage."""
        self._held = True

    def release(self) -> None:
        """Everything said so far is handled: sweep what is due."""
        if self._held:
            self._held = False
            self.poke()

    def start(self) -> None:
        self.scheduler.add_job(self.run, IntervalTrigger(seconds=self.heartbeat.total_seconds()),
                               id="heartbeat", coalesce=True, max_instances=1,
                               misfire_grace_time=None)
        self.scheduler.start()
        self.poke()

    def poke(self) -> None:
        """Sweep as soon as possible (after a command that planned something, say).

        During a sweep the scheduler would skip the job (one instance at a time), and the
        sweep in progress may not see what the poke was about: it sweeps once more after."""
        if self._lock.locked():
            self._again = True
            return
        self._arm(datetime.now(UTC))

    def due(self, at: datetime) -> None:
        """Something is due at ``at`` (the clock's time): sweep then, if that is sooner than
        what the waker waits for already. A reminder planned for next week costs no sweep
        now, beside the command's reply."""
        if self._lock.locked():
            self._again = True  # the sweep in progress computes the next time afresh after
            return
        if self._armed_for is not None and at >= self._armed_for:
            return
        if at <= self.clock.now():
            self.poke()
            return
        self._armed_for = at
        delay = (at - self.clock.now()).total_seconds()
        self._arm(datetime.now(UTC) + timedelta(seconds=delay))

    def _arm(self, at: datetime) -> None:
        self.scheduler.add_job(self.run, DateTrigger(run_date=at), id="next",
                               replace_existing=True, coalesce=True, misfire_grace_time=None)

    async def run(self) -> None:
        if self._held:
            return  # ``release`` sweeps
        if self._lock.locked():
            self._again = True  # (the heartbeat, during a sweep)
            return
        async with self._lock:
            while True:
                self._again = False
                try:
                    next_due = await asyncio.to_thread(self.sweep)
                except Exception:
                    log.exception("sweep failed")
                    return
                self.runs += 1
                self.after()
                # More due than one sweep takes (BATCH_SIZE), or poked meanwhile: go on at once.
                # (Re-arming the job from inside it would be skipped by the scheduler.)
                if not (self._again or (next_due is not None
                                        and next_due <= self.clock.now())):
                    break
        self._armed_for = next_due
        if next_due is not None:
            # The clock may be a test's fake clock: wait as long as it says, in real time.
            delay = max(0.0, (next_due - self.clock.now()).total_seconds())
            self._arm(datetime.now(UTC) + timedelta(seconds=delay))

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def settled(self) -> None:
        """After ``stop``: wait for a sweep still running (it ends its transaction), so
        nothing is swept by an instance that has stopped."""
        self._held = True  # (a job the scheduler started just now does not sweep)
        async with self._lock:
            pass
