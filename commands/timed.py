"""The sweep: the one way timed work is done.

Every reminder is a ``Timer`` row. ``sweep`` runs the registry's upkeep, claims a batch of
the rows whose time has come, applies each one's rule (declared with ``@timer`` in the module
of its noun: ``commands/action.py``, ``agenda.py``, ``covenant.py``, ``retention.py``),
renders the messages into the outbox and marks the rows handled, all in the caller's
transaction. What fell due while the bot was down is simply due now, and is sent late, once.
Nothing here reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from commands.registry import Batch, Outcome, Registry, Render, render_all
from storage import outbox, overlegs, timers

log = logging.getLogger(__name__)

BATCH_SIZE = 200
"""Timers claimed per sweep (per transaction): short enough that a command waiting for the
database is not held up long; the waker sweeps again at once while more are due."""


class TimerFailed(Exception):
    """A timer's rule raised (a bug): ``sweep`` rolls its batch back and sets the timer
    aside (``timer_id``, ``kind``), then sweeps again without it."""

    def __init__(self, timer_id: int, kind: str) -> None:
        super().__init__(kind)
        self.timer_id = timer_id
        self.kind = kind


HELD_PAUSE = timedelta(seconds=1)
"""How long the waker waits before sweeping again when every due timer is held by another
transaction (it would otherwise sweep again at once, in a loop, until that one commits)."""


def sweep(registry: Registry, session: Session, render: Render, now: datetime, *,
          limit: int = BATCH_SIZE) -> Outcome:
    """Handle up to ``limit`` timers whose time has come; the messages enqueued and when the
    next timer is due (``now`` or earlier: more are waiting). In the caller's transaction,
    which it may roll back and begin again (``storage.db.session_scope`` allows it).

    A rule that raises (a bug) never wedges the reminders: the batch is rolled back, that
    timer is marked handled without a message (logged as an error with its ID and kind,
    no content), and the batch is swept again without it, in the same transaction. As
    ``commands.inbound.handle`` does for a command that raises: without it, the same timer
    was claimed again at every sweep and no reminder of any overleg went out."""
    while True:
        try:
            return _sweep(registry, session, render, now, limit)
        except TimerFailed as failed:
            session.rollback()
            log.error("timer rule failed; the timer is set aside", exc_info=failed.__cause__,
                      extra={"timer": failed.timer_id, "kind": failed.kind})
            timers.set_aside(session, failed.timer_id, now)


def _sweep(registry: Registry, session: Session, render: Render, now: datetime,
           limit: int) -> Outcome:
    for work in registry.upkeep:
        work(session, now)
    claimed = timers.claim_due(session, now, limit)
    if not claimed:
        next_due = timers.next_due(session)
        if next_due is not None and next_due <= now:
            # Due, and held by another transaction (PostgreSQL: another instance's sweep, an
            # erasure; SKIP LOCKED passed them): look again in a moment, not at once.
            next_due = now + HELD_PAUSE
        return Outcome([], next_due)
    batch = Batch(session, now, claimed,
                  {o.id or 0: o for o in overlegs.by_ids(session, {t.overleg_id
                                                                   for t in claimed})})
    rendered = []
    for due in claimed:
        overleg = batch.overlegs.get(due.overleg_id)
        rule = registry.timers.get(due.kind)
        if overleg is None or rule is None:
            log.warning("timer without rule", extra={"timer": due.id, "kind": due.kind})
            continue
        try:
            rendered += render_all(render, rule(batch, overleg, due), overleg.room_id)
        except Exception as e:
            raise TimerFailed(due.id, due.kind) from e
    timers.mark_all_handled(session, claimed, now)
    timers.schedule_all(session, batch.planned)
    outbox.enqueue(session, rendered, now)
    return Outcome(rendered, timers.next_due(session))
