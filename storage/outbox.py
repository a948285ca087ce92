"""The transactional outbox: rows written with the change that caused them, sent later."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import String, bindparam, delete, exists, func, insert, or_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage import inbound
from storage.db import dialect_of, insert_for
from storage.models import OutboxLease, OutboxMessage, table_of


@dataclass(frozen=True)
class Rendered:
    """A message ready to send: the plain body, the HTML body, the room, and the template it
    was rendered from (``template``: what the message says, as a key; tests and logs use it)."""

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
    template: str = ""
    in_reply_to: str | None = None  # the command's event it answers (Matrix m.in_reply_to)
    thread_root: str | None = None  # the thread the command was sent in


_MESSAGES = table_of(OutboxMessage)
_ENQUEUE = insert(_MESSAGES)


def enqueue(session: Session, messages: list[Rendered], now: datetime) -> int:
    """Write ``messages`` as unsent rows; returns how many. One Core INSERT of plain rows
    (executemany), built once: nobody reads these back as objects in this transaction;
    building a model object per row was half a sweep's time (measured: ~170 us each), and
    the ORM's bulk insert costs twice the Core one for the one reply of a command."""
    if messages:
        rows = [
            {"room_id": m.room_id, "txn_id": f"casusbot-{uuid.uuid4().hex}",
             "msgtype": m.msgtype, "body": m.body, "formatted_body": m.html,
             "mentions": " ".join(m.mentions), "event_type": m.event_type,
             "content_json": m.content_json, "attachment": m.attachment,
             "attachment_name": m.attachment_name, "ref": m.ref, "template": m.template,
             "in_reply_to": m.in_reply_to, "thread_root": m.thread_root,
             "created_at": now, "attempts": 0} for m in messages]
        # (One row as one statement: the executemany path costs more for a single row.)
        session.execute(_ENQUEUE, rows[0] if len(rows) == 1 else rows)
    return len(messages)


class Queued(Protocol):
    """An unsent row as the deliverer and the senders read it: a plain row of the outbox
    (``pending``, ``sendable``: read with Core, measured half the time of loading model
    objects) or an ``OutboxMessage``. Read only: a row's outcome is written with
    ``mark_sent`` or ``mark_failed``."""

    @property
    def id(self) -> int | None: ...
    @property
    def room_id(self) -> str: ...
    @property
    def txn_id(self) -> str: ...
    @property
    def msgtype(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def formatted_body(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def mentions(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def content_json(self) -> str | None: ...
    @property
    def attachment(self) -> str | None: ...
    @property
    def attachment_name(self) -> str | None: ...
    @property
    def ref(self) -> str | None: ...
    @property
    def template(self) -> str: ...
    @property
    def in_reply_to(self) -> str | None: ...
    @property
    def thread_root(self) -> str | None: ...


_UNSENT = _MESSAGES.select().where(_MESSAGES.c.sent_at.is_(None))


def pending(session: Session) -> list[Queued]:
    """Every unsent row, in creation order (the order they must be sent in, per room);
    answered from the partial index on unsent rows (room, id): sent rows stay in the
    table, and a scan of them would grow with every message ever sent."""
    rows = session.execute(_UNSENT.order_by(_MESSAGES.c.room_id, _MESSAGES.c.id)).all()
    return sorted(cast(list[Queued], rows), key=lambda r: r.id or 0)


_SENDABLE_IN_ROOM = _UNSENT.where(_MESSAGES.c.room_id == bindparam("room"),
                                  ~inbound.AWAY.exists()).order_by(_MESSAGES.c.id)


def sendable(session: Session, room_id: str) -> list[Queued]:
    """The room's unsent rows in order, or none while nothing is sent to the room
    (``inbound.away``): one SELECT, the delivery of every reply asks."""
    return cast(list[Queued], session.execute(_SENDABLE_IN_ROOM, {"room": room_id}).all())


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many rows are unsent and when the oldest was written (counted in the database,
    from the partial index on unsent rows: a backlog is never loaded to be counted)."""
    count, oldest = session.exec(select(func.count(), func.min(OutboxMessage.created_at))
                                 .where(col(OutboxMessage.sent_at).is_(None))).one()
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


_MARK_SENT = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("row"),
                                     _MESSAGES.c.sent_at.is_(None)).values(
    sent_at=bindparam("now"), remote_id=bindparam("remote"), attempts=_MESSAGES.c.attempts + 1,
    last_error=func.coalesce(bindparam("error", type_=String), _MESSAGES.c.last_error))


def mark_sent(session: Session | Connection, row_id: int, remote_id: str | None, now: datetime,
              error: str | None = None) -> None:
    """Done with a row: sent (``remote_id``), or given up on for good (``error``). One
    UPDATE; a row already done is left as it is."""
    session.execute(_MARK_SENT, {"row": row_id, "now": now, "remote": remote_id,
                                 "error": error[:500] if error else None})


def mark_failed(session: Session, row_id: int, error: str, retry_at: datetime) -> int:
    """Record a failed attempt; returns the number of attempts so far (0: no such row)."""
    attempts = session.execute(
        update(OutboxMessage).where(col(OutboxMessage.id) == row_id)
        .values(attempts=col(OutboxMessage.attempts) + 1, last_error=error[:500],
                next_attempt_at=retry_at)
        .returning(col(OutboxMessage.attempts)).execution_options(synchronize_session=False)
    ).scalar()
    return int(attempts or 0)


def given_up(session: Session, since: datetime, limit: int = 1000,
             resolved_by_later: tuple[str, ...] = ()) -> list[tuple[str, str, datetime]]:
    """Rows the platform refused for good (``mark_sent`` with ``gave up: …``) since
    ``since``, newest first: (template, error, when). A row of a template in
    ``resolved_by_later`` is left out when a later row of that template in the same room was
    taken (a redaction refused for want of power, and one that worked after the power was
    given: the problem is gone)."""
    later = aliased(OutboxMessage)
    resolved = exists().where(
        col(later.room_id) == col(OutboxMessage.room_id),
        col(later.template) == col(OutboxMessage.template),
        col(later.id) > col(OutboxMessage.id), col(later.remote_id).is_not(None))
    query = (select(OutboxMessage.template, OutboxMessage.last_error, OutboxMessage.sent_at)
             .where(col(OutboxMessage.sent_at) >= since, col(OutboxMessage.remote_id).is_(None),
                    col(OutboxMessage.last_error).startswith("gave up:")))
    if resolved_by_later:
        query = query.where(~(col(OutboxMessage.template).in_(resolved_by_later) & resolved))
    rows = session.exec(query.order_by(col(OutboxMessage.sent_at).desc(),
                                       col(OutboxMessage.id).desc()).limit(limit))
    return [(t or "", e or "", at) for t, e, at in rows if at is not None]


def told_since_success(session: Session, room_id: str, notice: str,
                       success: str | None) -> bool:
    """Whether a row of template ``notice`` was queued in ``room_id`` after the last row of
    template ``success`` (None: of any template) there that the platform took (``remote_id``
    set): a notice about a lasting problem is told once, and again only after the problem
    went away and came back. Row IDs give the order (they only grow)."""
    took = select(func.max(OutboxMessage.id)).where(
        OutboxMessage.room_id == room_id, col(OutboxMessage.remote_id).is_not(None))
    if success is not None:
        took = took.where(OutboxMessage.template == success)
    last_ok = session.exec(took).one()
    told = session.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.room_id == room_id, OutboxMessage.template == notice,
            col(OutboxMessage.id) > (last_ok or 0)).limit(1)).first()
    return told is not None


def sent_with_ref(session: Session, ref: str) -> bool:
    """Whether a message with ``ref`` has reached the homeserver (``sent_at`` set)."""
    return session.exec(select(OutboxMessage.id).where(
        OutboxMessage.ref == ref, col(OutboxMessage.sent_at).is_not(None))).first() is not None


def ref_of_remote(session: Session, remote_id: str) -> str | None:
    """The ``ref`` of the message the homeserver knows as ``remote_id`` (for reactions)."""
    row = session.exec(select(OutboxMessage).where(OutboxMessage.remote_id == remote_id)).first()
    return row.ref if row else None


_LEASES = table_of(OutboxLease)


def claim_room(session: Session, room_id: str, holder: str, now: datetime,
               ttl: timedelta) -> bool:
    """Take (or renew) the lease to send ``room_id``'s messages; False if another holds it."""
    claimed = session.execute(_claim(dialect_of(session)), {
        "room": room_id, "holder": holder, "until": now + ttl, "now": now})
    return claimed.first() is not None


@functools.cache
def _claim(dialect: str) -> Any:
    """The lease's upsert, built once per database kind (every reply claims its room)."""
    return insert_for(dialect, _LEASES).values(
        room_id=bindparam("room"), holder=bindparam("holder"), until=bindparam("until")
    ).on_conflict_do_update(
        index_elements=["room_id"], set_={"holder": bindparam("holder"),
                                          "until": bindparam("until")},
        where=(_LEASES.c.holder == bindparam("holder")) | (_LEASES.c.until < bindparam("now"))
    ).returning(_LEASES.c.holder)


_GIVE_UP = _LEASES.delete().where(_LEASES.c.room_id == bindparam("room"),
                                  _LEASES.c.holder == bindparam("holder"))
_RELEASE = _GIVE_UP.where(~_UNSENT.with_only_columns(_MESSAGES.c.id)
                          .where(_MESSAGES.c.room_id == bindparam("room")).exists())


def held_elsewhere(session: Session, holder: str, now: datetime) -> dict[str, datetime]:
    """The rooms whose send lease another instance than ``holder`` holds at ``now``, with
    when each lease runs out (an instance that stopped without giving it up: then)."""
    rows = session.execute(select(_LEASES.c.room_id, _LEASES.c.until).where(
        _LEASES.c.holder != holder, _LEASES.c.until > now)).all()
    return {room: until for room, until in rows}


def release_room(session: Session | Connection, room_id: str, holder: str) -> bool:
    """Give up ``holder``'s lease on the room, unless unsent rows are left (any instance's):
    then the holder keeps it and must send them (the lease runs out if it cannot). One
    DELETE; True when the lease was given up."""
    result: Any = session.execute(_RELEASE, {"room": room_id, "holder": holder})
    return bool(result.rowcount)


def give_up_room(session: Session, room_id: str, holder: str) -> None:
    """Give up ``holder``'s lease on the room, unsent rows or not (nothing can be sent
    there now: ``sendable`` found none)."""
    session.execute(_GIVE_UP, {"room": room_id, "holder": holder})


def release_all(session: Session, holder: str) -> int:
    """Give up every lease ``holder`` has (a clean stop): another instance, or this one
    started again, sends the rooms' next messages at once instead of after the lease ran
    out. Returns how many were held."""
    result: Any = session.execute(_LEASES.delete().where(_LEASES.c.holder == holder))
    return int(result.rowcount)


def delete_mentioning(session: Session, room_id: str, text: str) -> int:
    """Delete the messages of ``room_id`` (sent or not) whose body, HTML or content
    mentions ``text``; how many."""
    result = session.execute(delete(OutboxMessage).where(
        col(OutboxMessage.room_id) == room_id,
        or_(col(OutboxMessage.body).contains(text),
            col(OutboxMessage.formatted_body).contains(text),
            col(OutboxMessage.content_json).contains(text))))
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def drop_unsent(session: Session, room_id: str, template: str) -> int:
    """Delete the unsent rows of ``template`` for ``room_id`` (a notice that a newer one
    replaces before it went out); how many (one DELETE)."""
    result = session.execute(
        delete(OutboxMessage).where(col(OutboxMessage.room_id) == room_id,
                                    col(OutboxMessage.template) == template,
                                    col(OutboxMessage.sent_at).is_(None))
        .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def move_unsent(session: Session, old_room: str, new_room: str) -> int:
    """The unsent rows of ``old_room`` go to ``new_room`` instead (the room was replaced by
    an upgrade); they no longer answer an event there, which the new room does not have.
    Returns how many (one UPDATE)."""
    result = session.execute(
        update(OutboxMessage).where(col(OutboxMessage.room_id) == old_room,
                                    col(OutboxMessage.sent_at).is_(None))
        .values(room_id=new_room, in_reply_to=None, thread_root=None)
        .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
