"""The outbox deliverer: sends rows in order per room, retries with backoff, honours 429s.

Each row keeps its transaction ID across retries and restarts, so a homeserver that already
accepted a send answers the retry with the same event instead of a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.aio import cancel_and_wait, wait_event
from bot.dbcalls import DatabaseCalls
from storage import inbound, outbox
from storage.db import session_scope
from storage.outbox import Queued

log = logging.getLogger(__name__)
HEARTBEAT = 30.0
LEASE = timedelta(seconds=60)
MAX_BACKOFF = 60.0  # a homeserver back from an outage is used within a minute


@dataclass(frozen=True)
class SendResult:
    """``remote_id`` on success; otherwise an error and maybe a server-given wait."""

    remote_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False  # the homeserver refused for good (403, 400): do not retry
    deferred: bool = False  # the sender set the row's next attempt itself: leave the row be
    shape: str | None = None  # what was sent, as field names and sizes (never a body)

    @property
    def ok(self) -> bool:
        return self.error is None


class Sender(Protocol):
    async def send(self, row: Queued) -> SendResult: ...


def is_too_large(error: str) -> bool:
    """A refusal for size: Matrix ``M_TOO_LARGE`` (HTTP 413), or the Bot Connector's 413."""
    return "M_TOO_LARGE" in error or error.startswith("413") or "TooBig" in error


def refusal_code(error: str) -> str:
    """The platform's code of a refusal: the HTTP status (Teams: ``400``) or the Matrix
    error (``M_FORBIDDEN``), the first word of ``SendResult.error``."""
    code = error.split(":", 1)[0].strip()
    return code if code.replace("_", "").isalnum() and len(code) <= 40 else "other"


def json_shape(value: object, depth: int = 0) -> object:
    """``value`` with every string, number and flag replaced by its type (a string by its
    length): the structure of a message, never what it says."""
    if depth > 6:
        return "…"
    if isinstance(value, dict):
        return {str(k): json_shape(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [json_shape(v, depth + 1) for v in value[:5]] + (["…"] if len(value) > 5 else [])
    if isinstance(value, str):
        return f"str[{len(value)}]"
    return type(value).__name__


def row_shape(row: Queued) -> str:
    """The shape of an outbox row as logged when it is refused: its kind and sizes, the
    structure of its content (``json_shape``), whether it replies; no bodies, no IDs."""
    content: object = None
    if row.content_json:
        try:
            content = json_shape(json.loads(row.content_json))
        except ValueError:
            content = "invalid JSON"
    return json.dumps({
        "event_type": row.event_type, "msgtype": row.msgtype, "template": row.template,
        "body_chars": len(row.body or ""), "html_chars": len(row.formatted_body or ""),
        "mentions": len(row.mentions.split()), "reply": row.in_reply_to is not None,
        "thread": row.thread_root is not None, "attachment": row.attachment is not None,
        "content": content}, separators=(",", ":"))


def _on_loop_thread() -> bool:
    """Whether this runs on a thread with a running event loop (not in a worker thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def send_timeout() -> float:
    """Seconds one send may take before it counts as a failed attempt: a third of the
    lease, so a live holder's lease never runs out during a send (checked before each send:
    at most half of it has gone by). Another instance would then take the room over and
    send the row again from its own device, which the homeserver does not recognise as the
    same transaction (found by a breaking try-out: a PUT hanging past the lease was sent
    twice, and out of order). The retry is this instance's, with the same transaction ID."""
    return LEASE.total_seconds() / 3


def backoff(attempts: int) -> float:
    """Exponential backoff with jitter: ~1 s, 2 s, 4 s… capped at a minute."""
    base: float = min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1))
    return base * (0.75 + random.random() / 2)


class Deliverer:
    """Drains the outbox. ``poke()`` after enqueueing; a heartbeat catches everything else."""

    def __init__(self, engine: Engine, sender: Sender, holder: str = "casusbot",
                 refused: Callable[[Queued, str], None] | None = None) -> None:
        self.engine = engine
        self.on_refused = refused  # tells the room a row was refused for good (and why)
        self.db = DatabaseCalls(engine)
        self.sender = sender
        self.holder = holder  # this instance (its device): the lease holder's name
        self._wake = asyncio.Event()
        self._busy: set[str] = set()  # rooms being sent right now (one sender per room)
        self._missed: set[str] = set()  # rooms poked while busy
        self._direct: set[asyncio.Task[Any]] = set()
        self.sent = 0
        self.failures = 0
        self.refused: Counter[str] = Counter()  # rows refused for good, per refusal code

    def poke(self, room_id: str | None = None) -> None:
        """Look again now; with ``room_id``, start sending that room's messages at once
        (the reply to a command skips the pass over every room)."""
        if room_id is None:
            self._wake.set()
        elif room_id in self._busy:
            self._missed.add(room_id)  # its sender looks again when it is done
        else:
            self._start(self._drain_room(room_id))

    def claim(self, session: Session, room_id: str) -> list[Queued]:
        """The room's lease and its sendable rows, in the caller's transaction ([]: another
        instance holds the lease, or nothing is to be sent there). The lease first: on
        PostgreSQL a row read before it could be one another instance sends meanwhile. A
        lease with nothing to send (the bot is out of the room, or it was replaced) is given
        up at once: another instance may send there as soon as the bot is back."""
        if not outbox.claim_room(session, room_id, self.holder, datetime.now(UTC), LEASE):
            return []
        rows = outbox.sendable(session, room_id)
        if not rows:
            outbox.give_up_room(session, room_id, self.holder)
        return rows

    def claim_now(self, session: Session, room_id: str) -> list[Queued]:
        """``claim``, in the transaction of an event handled on the event loop's thread, for
        a room no send of this instance is under way in: the reply goes out at once
        (``send_claimed``), without a transaction of its own to read it (measured: that
        transaction was a twelfth of the bot's CPU per command in `make bench`). [] in a
        worker thread: a send of the room could start on the loop before these rows go."""
        if room_id in self._busy or not _on_loop_thread():
            return []
        return self.claim(session, room_id)

    def send_claimed(self, room_id: str, rows: list[Queued]) -> None:
        """Send ``rows`` (``claim_now``'s, just committed) now. (Were a send of the room
        under way, which on the loop thread cannot be, it sends them after its own.)"""
        if room_id in self._busy:
            self._missed.add(room_id)
            return
        self._busy.add(room_id)
        self._start(self._drain_busy(room_id, rows))

    def _start(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._direct.add(task)
        task.add_done_callback(self._direct.discard)

    async def settle(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the sends ``poke(room)`` started: the
        replies to the commands just handled. The Matrix sync loop waits for them before its
        next long-poll, as a bot that answers inside its callback does: measured, with the
        /sync request in flight beside the reply's PUT, Synapse took 3 ms longer on the PUT
        (p50 22-23 ms against 19.6-20.2; Synapse alone on a core, so little noise)."""
        if self._direct:
            await asyncio.wait(list(self._direct), timeout=timeout)

    def _heads(self, busy: frozenset[str]) -> tuple[list[Queued], datetime | None, set[str]]:
        """The head of each room's queue this instance may send now; when to look again
        (the first retry that falls due, or the first lease of another instance over a
        room with unsent rows that runs out); and which of the ``busy`` rooms (sent by this
        instance now) have unsent rows. Left out: a room the bot is out of (kicked or left:
        its messages wait until it is back, issue 19), one another instance holds (it sends
        what others enqueue there too) and a busy one (its sender looks again when done).
        Found by a breaking try-out: a passed retry time of a room left out made the pass
        loop look again every 50 ms for as long as that room stayed held or busy."""
        with session_scope(self.engine) as session:
            now = datetime.now(UTC)
            away = inbound.away_rooms(session)
            held = outbox.held_elsewhere(session, self.holder, now)
            rows = [r for r in outbox.pending(session) if r.room_id not in away]
        waiting = {r.room_id for r in rows}
        mine = [r for r in rows if r.room_id not in held and r.room_id not in busy]
        runs_out = [held[room] for room in waiting & held.keys()]
        retry = outbox.earliest_retry(mine)
        earliest = min([*runs_out, *([retry] if retry else [])], default=None)
        return outbox.next_per_room(mine, now), earliest, waiting & busy

    def _pending(self, room_id: str) -> list[Queued]:
        """``claim`` in a transaction of its own."""
        with session_scope(self.engine) as session:
            return self.claim(session, room_id)

    def _done(self, row_id: int, remote_id: str | None, error: str | None = None,
              release: str | None = None) -> bool:
        """Mark a row done; with ``release`` (its room, after the last claimed row) give up
        the room's lease in the same transaction, if nothing is left to send there. Two
        Core statements on a connection of their own: no model objects, so no ORM session
        (measured: 89 against 140 us per transaction). False: the lease is kept for rows
        enqueued meanwhile, which this instance then sends."""
        with self.engine.begin() as conn:
            outbox.mark_sent(conn, row_id, remote_id, datetime.now(UTC), error=error)
            return release is None or outbox.release_room(conn, release, self.holder)

    def _failed(self, row: Queued, result: SendResult) -> None:
        self.failures += 1
        wait = result.retry_after if result.retry_after is not None else backoff(
            row.attempts + 1)
        with session_scope(self.engine) as session:
            outbox.mark_failed(session, row.id or 0, result.error or "error",
                               datetime.now(UTC) + timedelta(seconds=wait))
        log.warning("send failed, will retry", extra={"outbox_id": row.id, "room": row.room_id,
                                                       "retry_in_s": round(wait, 1),
                                                       "error": (result.error or "")[:200]})

    async def _drain_room(self, room_id: str) -> bool:
        if room_id in self._busy:
            self._missed.add(room_id)  # the send in progress may miss new rows: again after
            return False
        self._busy.add(room_id)
        return await self._drain_busy(room_id, None)

    async def _drain_busy(self, room_id: str, rows: list[Queued] | None) -> bool:
        """Send the room's rows (``rows``, claimed already; None: claim them now); the room
        is marked busy by the caller and free again after. False: nothing was claimed."""
        try:
            return await self._drain_claimed(room_id, rows)
        finally:
            self._busy.discard(room_id)
            if room_id in self._missed:
                self._missed.discard(room_id)
                self.poke(room_id)

    async def _drain_claimed(self, room_id: str, rows: list[Queued] | None) -> bool:
        """Send what is claimed (or claim it now). True: something was sent or tried (look
        again at once); False: nothing was claimed (another instance holds the room, nothing
        there can be sent) or the room's head waits (its retry, the bot's return)."""
        if rows is None:
            rows = await self.db.run(self._pending, room_id)
        started = datetime.now(UTC)
        for row in rows:
            now = datetime.now(UTC)
            if now - started > LEASE / 2:
                self._missed.add(room_id)  # claim again (renewing the lease) and go on
                return True
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                return False  # the head waits for its retry; later rows wait behind it
            try:
                # In this task (``asyncio.wait_for`` on 3.11 runs the send in a task of its
                # own, which starts only after the sync loop has gone on; see bot/aio.py).
                async with asyncio.timeout(send_timeout()):
                    result = await self.sender.send(row)
            except TimeoutError:
                log.warning("send not answered in time, will retry",
                            extra={"outbox_id": row.id, "room": row.room_id})
                result = SendResult(error="timeout: not answered within a third of the lease")
            except Exception as e:  # a transport bug must not kill delivery
                log.exception("send raised", extra={"outbox_id": row.id})
                result = SendResult(error=f"{type(e).__name__}")
            if result.deferred:
                return False  # the room's head waits; later rows wait behind it
            if not result.ok and result.permanent:
                await self._refused(row, result)
                continue
            if not result.ok:
                await self._record(self._failed, row, result)
                # The pass loop may be asleep for a heartbeat: let it reckon the retry's
                # time (a reply after one 5xx comes a second later, not 30 s later).
                self._wake.set()
                return True
            last = row is rows[-1]  # done and the lease released in one transaction
            released = await self._record(self._done, row.id or 0, result.remote_id, None,
                                          room_id if last else None)
            self.sent += 1
            if last:
                break
        else:
            released = not rows or await self._record(self._release, room_id)
        if not released:
            # Rows came meanwhile, also from another instance, which cannot claim the room
            # while this one holds it: they are this lease's to send, now.
            self._missed.add(room_id)
        return bool(rows)

    async def _refused(self, row: Queued, result: SendResult) -> None:
        """A row the platform refused for good (a malformed message, a bot removed from the
        room, a message too large): never silent. Logged as an error with the message's
        shape (no body), counted per code (``/metrics``), kept on the row (``casusbot
        doctor``), and told to the room (``on_refused``: once per refused message, never
        about a notice that was itself refused)."""
        error = result.error or "refused"
        code = refusal_code(error)
        self.refused[code] += 1
        log.error("send refused for good, not delivered", extra={
            "outbox_id": row.id, "room": row.room_id, "template": row.template,
            "code": code, "error": error[:200], "shape": result.shape or row_shape(row)})
        await self._record(self._done, row.id or 0, None, f"gave up: {error}")
        if self.on_refused is not None:
            await self._record(self.on_refused, row, error)
            self._missed.add(row.room_id)  # send the notice after this pass

    async def _record(self, work: Callable[..., Any], *args: Any) -> Any:
        """A row's outcome, the lease's release: short writes."""
        return await self.db.run(work, *args)

    def _release(self, room_id: str) -> bool:
        """Everything claimed was sent: let any instance take the room's next messages
        (False: rows came meanwhile, the lease is kept for them)."""
        with self.engine.begin() as conn:  # (as ``_done``)
            return outbox.release_room(conn, room_id, self.holder)

    async def run_once(self) -> float:
        """Send what is ready; returns how long to wait before looking again."""
        heads, earliest, busy = await self.db.run(self._heads, frozenset(self._busy))
        self._missed |= busy  # their sender looks again when it is done
        # Look again at once after a pass that sent (more may have come meanwhile).
        if heads and any(await asyncio.gather(*(self._drain_room(r.room_id) for r in heads))):
            return 0.0
        if earliest is not None:
            return max(0.05, min(HEARTBEAT, (earliest - datetime.now(UTC)).total_seconds()))
        return HEARTBEAT

    async def stop(self) -> None:
        """Cancel the sends started by ``poke(room)`` (the ``run`` task is the caller's)."""
        await cancel_and_wait(self._direct)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = await self.run_once()
            except Exception:
                log.exception("deliverer pass failed")
                wait = 5.0
            if wait > 0:
                await wait_event(self._wake, wait)
