"""What every transport runs beside its own I/O: the outbox deliverer, the sweep's waker,
and the optional /metrics endpoint. A transport subclasses ``Runtime`` and implements
``send`` (the deliverer's ``Sender``)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlmodel import Session

from bot.aio import cancel_and_wait
from bot.app import App
from bot.deliver import Deliverer, SendResult, is_too_large
from bot.timing import OwnWork
from bot.wake import Waker
from commands.inbound import Inbound, may_concern
from commands.registry import Outcome, Outgoing, render_all
from storage import outbox, overlegs
from storage.db import session_scope
from storage.models import Overleg
from storage.outbox import Queued

NOT_REDACTED = "privacy/not_redacted"
STOP_SETTLE_SECONDS = 5.0  # at a stop, how long the sends under way may take to finish
NOTICES = frozenset({"error/too_large", "error/not_delivered", NOT_REDACTED})
"""The notices of a refused message: one of them refused in turn is not told again."""
REDACTION = "m.room.redaction"


class Runtime:
    def __init__(self, app: App, holder: str) -> None:
        self.app = app
        self.deliverer = Deliverer(app.engine, self, holder=holder,
                                   refused=self._tell_refused)
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

    def _tell_refused(self, row: Queued, error: str) -> None:
        """A message the platform refused for good: a short notice to the same room or
        person, in the overleg's language, saying what was not sent. Too large
        (commands/fitting.py keeps messages under the limit; this is the last guard): how
        to ask for less; a redaction (the bot may not remove messages there): the chairs,
        once (``_not_redacted``); anything else (a malformed message, no permission): that
        the administrator finds the cause in the log, once until a message there arrives
        again. A refused notice is not told again."""
        if row.template in NOTICES:
            return
        with session_scope(self.app.engine) as session:
            overleg = overlegs.by_room(session, row.room_id)
            if row.event_type == REDACTION:
                notice = self._not_redacted(session, row, overleg)
                if notice is None:
                    return
            else:
                key = "error/too_large" if is_too_large(error) else "error/not_delivered"
                if key == "error/not_delivered" and outbox.told_since_success(
                        session, row.room_id, key, None):
                    return  # told once per episode: until a message there arrives again
                notice = Outgoing(key, {"what": row.template}, room=row.room_id,
                                  locale=overleg.locale if overleg else None,
                                  timezone=overleg.timezone if overleg else None)
            # Where the refused message would have been: the same reply, the same thread.
            rendered = [replace(r, in_reply_to=row.in_reply_to, thread_root=row.thread_root)
                        for r in render_all(self.app.render, [notice], row.room_id)]
            outbox.enqueue(session, rendered, datetime.now(UTC))

    @staticmethod
    def _not_redacted(session: Session, row: Queued, overleg: Overleg | None
                      ) -> Outgoing | None:
        """A refused redaction of a message with personal data (the bot may not remove
        others' messages in the room): the chairs are told at once that it stays visible and
        what to do (``privacy/not_redacted``, mentioning them). Told once per room, and again
        only after a redaction there has worked (``outbox.told_since_success``): not per
        refused message. None: told already."""
        if outbox.told_since_success(session, row.room_id, NOT_REDACTED, row.template):
            return None
        chairs = tuple(m.user_id for m in overlegs.members(session, overleg.id)
                       if m.role == "chair") if overleg and overleg.id else ()
        return Outgoing(NOT_REDACTED, {"chairs": ", ".join(chairs)}, room=row.room_id,
                        locale=overleg.locale if overleg else None,
                        timezone=overleg.timezone if overleg else None, mentions=chairs)

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
