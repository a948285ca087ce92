"""What every transport runs beside its own I/O: the outbox deliverer, the sweep's waker,
and the optional /metrics endpoint. A transport subclasses ``Runtime`` and implements
``send`` (the deliverer's ``Sender``)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from bot.aio import cancel_and_wait
from bot.app import App, Handled
from bot.deliver import Deliverer, SendResult
from bot.timing import OwnWork
from bot.wake import Waker
from commands.inbound import Inbound
from storage.outbox import Queued


class Runtime:
    def __init__(self, app: App, holder: str) -> None:
        self.app = app
        self.deliverer = Deliverer(app.engine, self, holder=holder, render=app.render)
        self.waker = Waker(app.sweep, app.clock, after=self.deliverer.poke)
        self.handled = 0  # inbound events that produced replies
        self.own_work = OwnWork()
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics: web.AppRunner | None = None

    async def send(self, row: Queued) -> SendResult:
        raise NotImplementedError

    async def handle(self, msg: Inbound) -> Handled:
        """Handle an inbound event: here on the loop's thread when that cannot block (SQLite,
        its lock free: ``App.handle_now``; chatter costs nothing either way), else in a
        worker thread."""
        done = self.app.handle_now(msg, self.deliverer.take)
        if done is None:
            done = await asyncio.to_thread(self.app.handle, msg, self.deliverer.take)
        return done

    def answered(self, done: Handled, room: str) -> None:
        """After an inbound event was handled: send its replies now, re-arm the waker if
        it planned timed work."""
        if not done.replies:
            self.own_work.discard(room)
            return
        self.handled += 1
        targets = dict.fromkeys(r.room_id for r in done.replies)
        if room not in targets:
            self.own_work.discard(room)
        for target in targets:
            self.deliverer.poke(target, done.ready.get(target))
        if done.timer_due is not None:
            self.waker.due(done.timer_due)

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
        if self._metrics is not None:
            await self._metrics.cleanup()
        await cancel_and_wait(self._tasks)
        await self.deliverer.stop()

    @property
    def sent(self) -> int:
        return self.deliverer.sent

    @property
    def errors(self) -> int:
        return self.deliverer.failures
