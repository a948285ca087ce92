"""Prepared statements (storage.db.Prepared): on SQLite they go straight to the driver.

The direct path must give what SQLAlchemy's own path gives: the same values both ways
(aware datetimes, defaults baked into the statement), SQLAlchemy's exception types (the
retry and inline logic catch those), no parameters in an error's text, and statement
observers (cursor-event listeners) still see every statement.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from storage import inbound, outbox, timers
from storage.db import (
    Prepared,
    core_insert,
    core_insert_one,
    create_schema,
    make_engine,
    read,
    session_scope,
)
from storage.models import OutboxMessage, Overleg, Timer

NOW = datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)
_TIMERS = Timer.__table__  # type: ignore[attr-defined]


@pytest.fixture
def engine(tmp_path):  # type: ignore[no-untyped-def]
    e = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(e)
    with session_scope(e) as s:
        s.add(Overleg(id=1, room_id="!r:localhost", name="Overleg", created_at=NOW))
    yield e
    e.dispose()


def _observed(engine) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: seen.append(statement))
    return seen


def _rows(engine) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    """Reads through both paths: plain, then with an observer (SQLAlchemy's own path)."""
    due = Prepared(select(Timer.id, Timer.due_at, Timer.handled_at, Timer.cancelled)
                   .where(Timer.kind == bindparam("kind")).order_by(Timer.id))
    with session_scope(engine) as s:
        direct = [tuple(r) for r in read(s, due, {"kind": "reminder"})]
        first = timers.next_due(s)
    seen = _observed(engine)
    with session_scope(engine) as s:
        ordinary = [tuple(r) for r in read(s, due, {"kind": "reminder"})]
        assert timers.next_due(s) == first
    assert any("FROM timer" in q for q in seen)  # the observer saw the reads
    assert direct == ordinary
    return direct


def test_the_direct_path_reads_and_writes_what_sqlalchemy_would(engine) -> None:  # type: ignore[no-untyped-def]
    later = NOW + timedelta(days=3, hours=5)
    with session_scope(engine) as s:
        new_id = core_insert_one(s, _TIMERS, {"overleg_id": 1, "kind": "reminder",
                                              "subject_id": 7, "due_at": later,
                                              "cancelled": False})
        core_insert(s, _TIMERS, [{"overleg_id": 1, "kind": "reminder", "subject_id": 8,
                                  "due_at": NOW, "cancelled": True}])
    rows = _rows(engine)
    assert rows == [(new_id, later, None, False), (new_id + 1, NOW, None, True)]
    assert rows[0][1].tzinfo is UTC  # aware on the way out, as the ORM gives it
    # A value baked into the statement (not a parameter) is bound too.
    handle = Prepared(update(_TIMERS).where(_TIMERS.c.id == bindparam("p_id"))
                      .values(handled_at=bindparam("p_at"), subject_id=_TIMERS.c.subject_id + 5))
    with session_scope(engine) as s:
        read(s, handle, {"p_id": new_id, "p_at": later})
    with session_scope(engine) as s:
        timer = s.get(Timer, new_id)
        assert timer is not None and (timer.subject_id, timer.handled_at) == (12, later)
        assert timers.next_due(s) == NOW  # min() of an aware column comes back aware


def test_driver_errors_come_out_as_sqlalchemys_without_parameters(engine) -> None:  # type: ignore[no-untyped-def]
    secret = "casusbot-secret-txn"
    with session_scope(engine) as s:
        outbox.enqueue(s, [outbox.Rendered("!r:localhost", "eerste", None)], NOW)
        txn = s.exec(select(OutboxMessage.txn_id)).one()
    row = {"room_id": "!r:localhost", "txn_id": txn, "msgtype": "m.notice",
           "body": secret, "created_at": NOW, "attempts": 0, "mentions": "",
           "event_type": "m.room.message"}
    with pytest.raises(IntegrityError) as caught, session_scope(engine) as s:
        core_insert(s, OutboxMessage.__table__, [row])  # type: ignore[attr-defined]
    assert "UNIQUE" in str(caught.value) and secret not in str(caught.value)
    with session_scope(engine) as s:  # rolled back whole; the session is usable again
        assert [r.body for r in outbox.pending(s)] == ["eerste"]


def test_the_dedupe_insert_answers_once_on_both_paths(engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        assert inbound.first_time(s, "$a", "!r:localhost", NOW)
        assert not inbound.first_time(s, "$a", "!r:localhost", NOW)
    seen = _observed(engine)
    with session_scope(engine) as s:
        assert not inbound.first_time(s, "$a", "!r:localhost", NOW)
        assert inbound.first_time(s, "$b", "!r:localhost", NOW)
    assert sum("INSERT INTO inboundevent" in q for q in seen) == 2


def test_plain_overleg_and_member_rows_have_every_column() -> None:
    """Commands read the overleg and the sender's membership as plain rows: a column added
    to the table must be added to the row too (or commands would not see it)."""
    from dataclasses import fields

    from storage.models import Member, MemberRow, OverlegRow

    for row, table in ((OverlegRow, Overleg), (MemberRow, Member)):
        assert [f.name for f in fields(row)] == \
            [c.key for c in table.__table__.columns]  # type: ignore[attr-defined]


def test_the_command_path_reads_overleg_and_member_as_values(engine) -> None:  # type: ignore[no-untyped-def]
    from storage import overlegs

    with session_scope(engine) as s:
        overlegs.put_member(s, overleg_id=1, user_id="@c:localhost", partner_id=None,
                            role="chair", now=NOW)
    with session_scope(engine) as s:
        overleg, member = overlegs.by_room_with_member(s, "!r:localhost", "@c:localhost",
                                                       lock=True)
        assert overleg is not None and (overleg.id, overleg.name, overleg.created_at) == \
            (1, "Overleg", NOW)
        assert member is not None and (member.role, member.partner_id) == ("chair", None)
        assert overlegs.by_room_with_member(s, "!r:localhost", "@x:localhost") == (overleg, None)
        assert overlegs.by_room_with_member(s, "!other:localhost", "@c:localhost") == \
            (None, None)


def test_cancelling_timers_touches_only_the_subjects_pending_ones_by_index(engine) -> None:  # type: ignore[no-untyped-def]
    rows = [{"overleg_id": 1, "kind": kind, "subject_id": subject, "due_at": NOW,
             "cancelled": False, "handled_at": None}
            for subject in (7, 8) for kind in ("action.due_soon", "action.overdue", "other")]
    with session_scope(engine) as s:
        core_insert(s, _TIMERS, rows)
        assert timers.cancel(s, kinds=("action.due_soon", "action.overdue"), subject_id=7,
                             now=NOW) == 2
        assert timers.cancel(s, kinds=("action.due_soon", "action.overdue"), subject_id=7,
                             now=NOW) == 0  # already cancelled
    with session_scope(engine) as s:
        left = {(t.subject_id, t.kind) for t in s.exec(select(Timer)) if t.handled_at is None}
        assert left == {(7, "other"), (8, "action.due_soon"), (8, "action.overdue"),
                        (8, "other")}
        sql = timers._cancel_of(("action.due_soon",)).direct(engine.dialect).sql
        plan = s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql,
                                              (None, True, 7, "x")).all()
        # Not a walk over every pending timer of every overleg (342,000 at national scale).
        assert "ix_timer_pending_subject" in str(plan), plan
