"""What every transport runs beside its own I/O: the outbox deliverer, the sweep's waker,
and the optional /metrics endpoint. A transport subclasses ``Runtime`` and implements
``send`` (the deliverer's ``Sender``)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from bot.aio import cancel_and_wait
from bot.app import App
from bot.deliver import Deliverer, SendResult
from bot.timing import OwnWork
from bot.wake import Waker
from commands.inbound import Inbound, may_concern
from commands.registry import Outcome
from storage import outbox
from storage.db import session_scope
from storage.outbox import Queued

STOP_SETTLE_SECONDS = 5.0  # at a stop, how long the sends under way may take to finish


class Runtime:
    def __init__(self, app: App, holder: str) -> None:
        self.app = app
        self.deliverer = Deliverer(app.engine, self, holder=holder,
                                   refused=app.tell_refused)
        self.db = self.deliverer.db  # short database calls from the loop (bot/dbcalls.py)
        self.waker = Waker(lambda: app.sweep().next_due, app.clock, after=self.deliverer.poke)
        self.handled = 0  # inbound events that produced replies
        self.own_work = OwnWork()
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics: web.AppRunner | None = None

    async def send(self, row: Queued) -> SendResult:
        raise NotImplementedError

    async def receive(self, msg: Inbound) -> Outcome:
        """The one entry for an inbound event on the event loop: handled (``App.handle``:
        one transaction, on the loop thread when SQLite's lock is free, see bot/dbcalls.py),
        then its replies go out (the rows the deliverer claimed in that transaction at once;
        the other rooms' through a poke) and the waker is set to the next due timer."""
        if not may_concern(msg, self.app.settings.prefix):
            self.own_work.discard(msg.room_id)
            return Outcome([])  # chatter: not even a thread hop
        done = await self.db.run(self.app.handle, msg, self.deliverer.claim_now)
        if not done.replies:
            self.own_work.discard(msg.room_id)
            return done
        self.handled += 1
        targets = dict.fromkeys(r.room_id for r in done.replies)
        if msg.room_id not in targets:
            self.own_work.discard(msg.room_id)
        for target in targets:
            if target in done.claimed:
                self.deliverer.send_claimed(target, done.claimed[target])
            else:
                self.deliverer.poke(target)
        if done.next_due is not None:
            self.waker.due(done.next_due)
        # Let the replies' sends start before the caller goes on (on Matrix: with the rest
        # of the sync response; measured, that came first and held a reply back by ~2 ms).
        await asyncio.sleep(0)
        return done

    async def _start_background(self, *loops: tuple[str, Coroutine[Any, Any, None]]) -> None:
        """Start the deliverer, the given loops, the waker and /metrics."""
        self._tasks = [asyncio.create_task(coro, name=name) for name, coro in loops]
        self._tasks.append(asyncio.create_task(self.deliverer.run(), name="deliver"))
        self.waker.start()
        if self.app.config.metrics_port:
            from bot.health import Metrics

            self._metrics = await Metrics(self.app.engine, self).start(
                self.app.config.metrics_port)

    async def _stop_background(self) -> None:
        self.waker.stop()
        await self.waker.settled()
        if self._metrics is not None:
            await self._metrics.cleanup()
        # A send under way finishes (and is recorded) before the stop: cut off, it would be
        # shown but not marked sent, and sent again by the next instance.
        await self.deliverer.settle(STOP_SETTLE_SECONDS)
        await cancel_and_wait(self._tasks)
        await self.deliverer.stop()
        with session_scope(self.app.engine) as session:
            outbox.release_all(session, self.deliverer.holder)

    @property
    def sent(self) -> int:
        return self.deliverer.sent

    @property
    def errors(self) -> int:
        return self.deliverer.failures

    @property
    def refused(self) -> dict[str, int]:
        """Messages refused for good since start, per refusal code (``400``, ``M_FORBIDDEN``)."""
        return dict(self.deliverer.refused)
