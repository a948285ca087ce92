"""The transactional outbox: rows written with the change that caused them, sent later."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlmodel import Session, select

from storage.db import PerDialect, Prepared, core_insert, insert_for, read
from storage.models import OutboxLease, OutboxMessage


@dataclass(frozen=True)
class Rendered:
    """A message ready to send: the plain body, the HTML body, the room."""

    room_id: str
    body: str
    html: str | None
    msgtype: str = "m.notice"
    mentions: tuple[str, ...] = ()
    event_type: str = "m.room.message"
    content_json: str | None = None
    attachment: str | None = None
    attachment_name: str | None = None
    ref: str | None = None
    deferred: str | None = None  # template and values to render when sending (body empty)
    template: str = ""  # the template it was rendered from, e.g. "action/overdue"


def enqueue(session: Session, messages: list[Rendered], now: datetime) -> int:
    """Write ``messages`` as unsent rows (one multi-row INSERT); returns how many."""
    if not messages:
        return 0
    core_insert(session, OutboxMessage.__table__, [  # type: ignore[attr-defined]
        {"room_id": m.room_id, "txn_id": f"casusbot-{uuid.uuid4().hex}", "msgtype": m.msgtype,
         "body": m.body, "formatted_body": m.html, "mentions": " ".join(m.mentions),
         "event_type": m.event_type, "content_json": m.content_json,
         "attachment": m.attachment, "attachment_name": m.attachment_name, "ref": m.ref,
         "deferred": m.deferred, "template": m.template,
         "created_at": now, "attempts": 0} for m in messages])  # the rest starts NULL
    return len(messages)


@dataclass(slots=True)
class Queued:
    """An unsent row as the deliverer and the senders see it: a plain record read with Core
    (no ORM object, identity map or change tracking: ~0.1 ms less on every command's reply).
    The deliverer fills in a deferred row's rendered fields here before sending; what is
    kept of them is written back by ``mark_sent``."""

    id: int
    room_id: str
    txn_id: str
    msgtype: str
    body: str
    formatted_body: str | None
    attempts: int
    next_attempt_at: datetime | None
    mentions: str
    event_type: str
    content_json: str | None
    attachment: str | None
    attachment_name: str | None
    ref: str | None
    deferred: str | None


_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]
_UNSENT = select(*(_TABLE.c[f.name] for f in fields(Queued))).where(
    _TABLE.c.sent_at.is_(None))
_PENDING_IN_ROOM = Prepared(_UNSENT.where(_TABLE.c.room_id == bindparam("room")).order_by(
    _TABLE.c.id))
_PENDING_ALL = _UNSENT.order_by(_TABLE.c.room_id, _TABLE.c.id)


def pending(session: Session, room_id: str | None = None) -> list[Queued]:
    """Unsent rows in creation order (the order they must be sent in, per room).

    Both forms are answered from the partial index on unsent rows (room, id): sent rows
    stay in the table, and a scan of them would grow with every message ever sent.
    """
    if room_id is not None:
        return [Queued(*r) for r in read(session, _PENDING_IN_ROOM, {"room": room_id})]
    return sorted((Queued(*r) for r in read(session, _PENDING_ALL)), key=lambda r: r.id)


_BACKLOG = select(func.count(), func.min(_TABLE.c.created_at)).where(_TABLE.c.sent_at.is_(None))


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many rows are unsent and when the oldest was written (counted in the database,
    from the partial index on unsent rows: a backlog is never loaded to be counted)."""
    count, oldest = read(session, _BACKLOG).one()
    return int(count), oldest


def next_per_room(rows: list[Queued], now: datetime, limit: int = 50) -> list[Queued]:
    """Of the unsent ``rows``: the oldest of each room, if it is ready to try now."""
    heads: dict[str, Queued] = {}
    for row in rows:
        heads.setdefault(row.room_id, row)
    ready = [r for r in heads.values()
             if r.next_attempt_at is None or r.next_attempt_at <= now]
    return sorted(ready, key=lambda r: r.id or 0)[:limit]


def earliest_retry(rows: list[Queued]) -> datetime | None:
    """When the first of the unsent ``rows`` that waits for a retry may be tried again."""
    times = [r.next_attempt_at for r in rows if r.next_attempt_at is not None]
    return min(times) if times else None


_ONE_UNSENT = (_TABLE.c.id == bindparam("p_id")) & _TABLE.c.sent_at.is_(None)
_SENT_ = update(_TABLE).where(_ONE_UNSENT).values(
    sent_at=bindparam("p_now"), remote_id=bindparam("p_remote"),
    attempts=_TABLE.c.attempts + 1)
_GIVEN_UP_ = _SENT_.values(last_error=bindparam("p_error"))
_RENDERED: dict[str, Any] = {"body": bindparam("p_body"), "formatted_body": bindparam("p_html"),
             "deferred": None}
_SENT, _GIVEN_UP = Prepared(_SENT_), Prepared(_GIVEN_UP_)
_SENT_RENDERED = Prepared(_SENT_.values(**_RENDERED))
_GIVEN_UP_RENDERED = Prepared(_GIVEN_UP_.values(**_RENDERED))
_FAILED = Prepared(update(_TABLE).where(_TABLE.c.id == bindparam("p_id")).values(
    attempts=_TABLE.c.attempts + 1, last_error=bindparam("p_error"),
    next_attempt_at=bindparam("p_retry")).returning(_TABLE.c.attempts))


def mark_sent(session: Session, row_id: int, remote_id: str | None, now: datetime,
              error: str | None = None, rendered: tuple[str, str | None] | None = None) -> None:
    """Done with a row: sent (``remote_id``), or given up on for good (``error``);
    ``rendered``: the body and HTML a deferred row was sent with (kept as sent: the
    template form is no longer needed). One UPDATE; a row already done is left as it is."""
    params: dict[str, Any] = {"p_id": row_id, "p_now": now, "p_remote": remote_id}
    if error:
        params["p_error"] = error[:500]
    if rendered is not None:
        params["p_body"], params["p_html"] = rendered
        statement = _GIVEN_UP_RENDERED if error else _SENT_RENDERED
    else:
        statement = _GIVEN_UP if error else _SENT
    read(session, statement, params)


def mark_failed(session: Session, row_id: int, error: str, retry_at: datetime) -> int:
    """Record a failed attempt; returns the number of attempts so far (0: no such row)."""
    attempts = read(session, _FAILED, {
        "p_id": row_id, "p_error": error[:500], "p_retry": retry_at}).scalar()
    return int(attempts or 0)


def ref_of_remote(session: Session, remote_id: str) -> str | None:
    """The ``ref`` of the message the homeserver knows as ``remote_id`` (for reactions)."""
    row = session.exec(select(OutboxMessage).where(OutboxMessage.remote_id == remote_id)).first()
    return row.ref if row else None


_LEASES = OutboxLease.__table__  # type: ignore[attr-defined]
_CLAIM = Prepared(PerDialect(lambda dialect: insert_for(dialect, _LEASES).values(
    room_id=bindparam("p_room"), holder=bindparam("p_holder"), until=bindparam("p_until"))
    .on_conflict_do_update(
        index_elements=["room_id"],
        set_={"holder": bindparam("p_holder"), "until": bindparam("p_until")},
        where=(_LEASES.c.holder == bindparam("p_holder")) | (_LEASES.c.until < bindparam("p_now")))
    .returning(_LEASES.c.holder)))


def claim_room(session: Session, room_id: str, holder: str, now: datetime,
               ttl: timedelta) -> bool:
    """Take (or renew) the lease to send ``room_id``'s messages; False if another holds it."""
    return read(session, _CLAIM, {"p_room": room_id, "p_holder": holder,
                                  "p_until": now + ttl, "p_now": now}).first() is not None


_RELEASE = Prepared(_LEASES.delete().where(_LEASES.c.room_id == bindparam("room"),
                                           _LEASES.c.holder == bindparam("holder")))
_ANY_UNSENT = Prepared(select(_TABLE.c.id).where(_TABLE.c.room_id == bindparam("room"),
                                                 _TABLE.c.sent_at.is_(None)).limit(1))


def release_room(session: Session, room_id: str, holder: str) -> None:
    """Give up ``holder``'s lease on the room, unless unsent rows are left: then the holder
    keeps it and sends them (the lease runs out if it cannot)."""
    if not read(session, _ANY_UNSENT, {"room": room_id}):
        read(session, _RELEASE, {"room": room_id, "holder": holder})
