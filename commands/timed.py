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
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from commands.registry import Batch, Outcome, Registry, Render, TimerRule, render_all
from storage import outbox, overlegs, timers
from storage.models import Overleg
from storage.outbox import Rendered
from storage.timers import Due

log = logging.getLogger(__name__)

BATCH_SIZE = 200
"""Timers claimed per sweep (per transaction): short enough that a command waiting for the
database is not held up long; the waker sweeps again at once while more are due."""


HELD_PAUSE = timedelta(seconds=1)
"""How long the waker waits before sweeping again when every due timer is held by another
transaction (it would otherwise sweep again at once, in a loop, until that one commits)."""


def sweep(registry: Registry, session: Session, render: Render, now: datetime, *,
          limit: int = BATCH_SIZE) -> Outcome:
    """Handle up to ``limit`` timers whose time has come; the messages enqueued and when the
    next timer is due (``now`` or earlier: more are waiting). In the caller's transaction,
    which it may roll back and begin again (``storage.db.session_scope`` allows it).

    A rule, an upkeep or a plan that raises (a bug) never wedges the reminders, as a command
    that raises does not wedge the bot (``commands.inbound.handle``): the batch is rolled
    back and swept again with each upkeep and each timer in a savepoint of its own; one that
    fails then is logged as an error (its timer's ID and kind, no content) and its timer
    marked handled without a message, and the rest go out. Two passes at most, however many
    fail. Before, the same timer was claimed again at every sweep and no reminder of any
    overleg went out. The database's own trouble (``OperationalError``: a lock, a lost
    race) is not a bug: it goes to the caller, which retries the transaction."""
    try:
        return _sweep(registry, session, render, now, limit, careful=False)
    except OperationalError:
        raise
    except Exception:
        session.rollback()
        log.warning("sweep failed; swept again with each timer on its own", exc_info=True)
        return _sweep(registry, session, render, now, limit, careful=True)


def _sweep(registry: Registry, session: Session, render: Render, now: datetime,
           limit: int, *, careful: bool) -> Outcome:
    """One pass; ``careful``: each upkeep and each timer (its rule, its messages, the
    timers it plans) in a savepoint of its own, a failing one left out."""
    for work in registry.upkeep:
        if not careful:
            work(session, now)
        elif failed := _isolated(session, partial(work, session, now)):
            log.error("sweep upkeep failed; the rest of the sweep goes on", exc_info=failed,
                      extra={"upkeep": getattr(work, "__name__", "?")})
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
    rendered: list[Rendered] = []
    for due in claimed:
        overleg = batch.overlegs.get(due.overleg_id)
        rule = registry.timers.get(due.kind)
        if overleg is None or rule is None:
            log.warning("timer without rule", extra={"timer": due.id, "kind": due.kind})
            continue
        if not careful:
            rendered += render_all(render, rule(batch, overleg, due), overleg.room_id)
            continue
        planned = len(batch.planned)
        if failed := _isolated(session, partial(_one_timer, session, render, batch, rule,
                                                overleg, due, planned, rendered)):
            del batch.planned[planned:]
            log.error("timer rule failed; the timer is handled without a message",
                      exc_info=failed, extra={"timer": due.id, "kind": due.kind})
    timers.mark_all_handled(session, claimed, now)
    if not careful:
        timers.schedule_all(session, batch.planned)  # (careful: each timer's own, as it went)
    outbox.enqueue(session, rendered, now)
    return Outcome(rendered, timers.next_due(session))


def _one_timer(session: Session, render: Render, batch: Batch, rule: TimerRule,
               overleg: Overleg, due: Due, planned: int, rendered: list[Rendered]) -> None:
    """A careful pass's step: the rule, the next timers it planned (``batch.planned`` from
    index ``planned`` on) written at once, so a bad plan fails in the timer's savepoint,
    and only then its messages added to ``rendered``."""
    out = render_all(render, rule(batch, overleg, due), overleg.room_id)
    timers.schedule_all(session, batch.planned[planned:])
    session.flush()
    rendered += out


def _isolated(session: Session, work: Callable[[], object]) -> Exception | None:
    """``work()`` in a savepoint: what it raised (its writes undone), or None. The
    database's own trouble goes on up."""
    try:
        with session.begin_nested():
            work()
    except OperationalError:
        raise
    except Exception as e:  # a bug in the work: the caller logs it and goes on
        return e
    return None
