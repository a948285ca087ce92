"""The transactional outbox: rows written with the change that caused them, sent later."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from storage.db import PerDialect, core_insert, insert_for
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


def enqueue(session: Session, messages: list[Rendered], now: datetime) -> int:
    """Write ``messages`` as unsent rows (one multi-row INSERT); returns how many."""
    if not messages:
        return 0
    core_insert(session, OutboxMessage.__table__, [  # type: ignore[attr-defined]
        {"room_id": m.room_id, "txn_id": f"casusbot-{uuid.uuid4().hex}", "msgtype": m.msgtype,
         "body": m.body, "formatted_body": m.html, "mentions": " ".join(m.mentions),
         "event_type": m.event_type, "content_json": m.content_json,
         "attachment": m.attachment, "attachment_name": m.attachment_name, "ref": m.ref,
         "deferred": m.deferred,
         "created_at": now, "attempts": 0} for m in messages])  # the rest starts NULL
    return len(messages)


_UNSENT = select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
_PENDING_IN_ROOM = _UNSENT.where(OutboxMessage.room_id == bindparam("room")).order_by(
    col(OutboxMessage.id))


def pending(session: Session, room_id: str | None = None) -> list[OutboxMessage]:
    """Unsent rows in creation order (the order they must be sent in, per room).

    Both forms are answered from the partial index on unsent rows (room, id): sent rows
    stay in the table, and a scan of them would grow with every message ever sent.
    """
    if room_id is not None:
        return list(session.exec(_PENDING_IN_ROOM, params={"room": room_id}))
    rows = session.exec(_UNSENT.order_by(col(OutboxMessage.room_id), col(OutboxMessage.id)))
    return sorted(rows, key=lambda r: r.id or 0)


def next_per_room(rows: list[OutboxMessage], now: datetime,
                  limit: int = 50) -> list[OutboxMessage]:
    """Of the unsent ``rows``: the oldest of each room, if it is ready to try now."""
    heads: dict[str, OutboxMessage] = {}
    for row in rows:
        heads.setdefault(row.room_id, row)
    ready = [r for r in heads.values()
             if r.next_attempt_at is None or r.next_attempt_at <= now]
    return sorted(ready, key=lambda r: r.id or 0)[:limit]


def earliest_retry(rows: list[OutboxMessage]) -> datetime | None:
    """When the first of the unsent ``rows`` that waits for a retry may be tried again."""
    times = [r.next_attempt_at for r in rows if r.next_attempt_at is not None]
    return min(times) if times else None


def mark_sent(session: Session, row_id: int, remote_id: str | None, now: datetime,
              error: str | None = None, rendered: tuple[str, str | None] | None = None) -> None:
    """Done with a row: sent (``remote_id``), or given up on for good (``error``);
    ``rendered``: the body and HTML a deferred row was sent with."""
    row = session.get(OutboxMessage, row_id)
    if row is not None and row.sent_at is None:
        if rendered is not None:  # kept as sent; the template form is no longer needed
            row.body, row.formatted_body = rendered
            row.deferred = None
        row.sent_at = now
        row.remote_id = remote_id
        row.last_error = error[:500] if error else row.last_error
        row.attempts += 1
        session.add(row)
        session.flush()


def mark_failed(session: Session, row_id: int, error: str, retry_at: datetime) -> int:
    """Record a failed attempt; returns the number of attempts so far."""
    row = session.get(OutboxMessage, row_id)
    if row is None:
        return 0
    row.attempts += 1
    row.last_error = error[:500]
    row.next_attempt_at = retry_at
    session.add(row)
    session.flush()
    return row.attempts


def ref_of_remote(session: Session, remote_id: str) -> str | None:
    """The ``ref`` of the message the homeserver knows as ``remote_id`` (for reactions)."""
    row = session.exec(select(OutboxMessage).where(OutboxMessage.remote_id == remote_id)).first()
    return row.ref if row else None


_LEASES = OutboxLease.__table__  # type: ignore[attr-defined]
_CLAIM = PerDialect(lambda dialect: insert_for(dialect, _LEASES).values(
    room_id=bindparam("p_room"), holder=bindparam("p_holder"), until=bindparam("p_until"))
    .on_conflict_do_update(
        index_elements=["room_id"],
        set_={"holder": bindparam("p_holder"), "until": bindparam("p_until")},
        where=(_LEASES.c.holder == bindparam("p_holder")) | (_LEASES.c.until < bindparam("p_now")))
    .returning(_LEASES.c.holder))


def claim_room(session: Session, room_id: str, holder: str, now: datetime,
               ttl: timedelta) -> bool:
    """Take (or renew) the lease to send ``room_id``'s messages; False if another holds it."""
    won: Any = session.connection().execute(_CLAIM(session), {
        "p_room": room_id, "p_holder": holder, "p_until": now + ttl, "p_now": now}).first()
    return won is not None


def release_room(session: Session, room_id: str, holder: str) -> None:
    lease = session.get(OutboxLease, room_id)
    if lease is not None and lease.holder == holder:
        session.delete(lease)
        session.flush()
