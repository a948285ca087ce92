"""Inbound dedupe, rooms joined and the sync token."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlmodel import Session, col, select

from storage.db import dialect_of, insert_for
from storage.models import (
    DirectRoom,
    InboundEvent,
    JoinedRoom,
    RoomAbsence,
    RoomUpgrade,
    SyncState,
    table_of,
)

_EVENTS = table_of(InboundEvent)
_ABSENT = table_of(RoomAbsence)


def first_time(session: Session, event_id: str, room_id: str, now: datetime,
               sender: str | None = None, thread_root: str | None = None,
               refused: bool = False) -> bool:
    """Record ``event_id``; False if it was already recorded (by us or another instance).

    INSERT … ON CONFLICT DO NOTHING: on PostgreSQL a second instance waits for the first
    insert's transaction, then inserts nothing.
    """
    inserted = session.execute(_first_time(dialect_of(session)), {
        "event_id": event_id, "room_id": room_id, "handled_at": now, "sender": sender,
        "thread_root": thread_root, "refused": refused})
    return inserted.first() is not None


@functools.cache
def _first_time(dialect: str) -> Any:
    """The dedupe insert, built once per database kind (every event runs it). RETURNING,
    not rowcount: psycopg reports -1 for a skipped ON CONFLICT insert."""
    return insert_for(dialect, _EVENTS).values(
        {c: bindparam(c) for c in ("event_id", "room_id", "handled_at", "sender",
                                   "thread_root", "refused")}
    ).on_conflict_do_nothing().returning(_EVENTS.c.event_id)


def joined_at(session: Session, room_id: str) -> datetime | None:
    row = session.get(JoinedRoom, room_id)
    return row.joined_at if row else None


def record_join(session: Session, room_id: str, at: datetime, *,
                invited_again: bool = False) -> bool:
    """Remember the first time the bot joined ``room_id`` (later joins keep the first).
    A join after the bot was out of the room ends the absence at ``at``; with
    ``invited_again`` (the bot accepted an invite to a room it had been in) an absence whose
    leave was not seen (the bot was down) is recorded too, from its previous join. True:
    the bot is back after an absence."""
    if session.get(JoinedRoom, room_id) is None:
        session.add(JoinedRoom(room_id=room_id, joined_at=at))
        session.flush()
        return False
    ended = session.execute(
        update(RoomAbsence).where(col(RoomAbsence.room_id) == room_id,
                                  col(RoomAbsence.back_at).is_(None))
        .values(back_at=at).execution_options(synchronize_session=False))
    if ended.rowcount:  # type: ignore[attr-defined]
        return True
    if invited_again:
        session.add(RoomAbsence(room_id=room_id, left_at=None, back_at=at))
        session.flush()
        return True
    return False


def record_leave(session: Session, room_id: str, at: datetime | None) -> bool:
    """The bot left or was removed from ``room_id`` at ``at`` (None: the homeserver says
    it is not in the room, since when is not known). Until it joins again, what is said
    there is not carried out and nothing is sent there. Idempotent (several instances see
    the same leave); True when this opened the absence."""
    if session.get(JoinedRoom, room_id) is None:
        return False  # never joined: nothing to leave
    open_ = session.exec(select(RoomAbsence).where(
        RoomAbsence.room_id == room_id, col(RoomAbsence.back_at).is_(None))).first()
    if open_ is not None:
        if open_.left_at is None and at is not None:
            open_.left_at = at  # the leave event itself, seen after a refused send
            session.add(open_)
            session.flush()
        return False
    inserted = session.execute(insert_for(session, _ABSENT).values(
        room_id=room_id, left_at=at, told="").on_conflict_do_nothing()
        .returning(_ABSENT.c.id))
    return inserted.first() is not None


_REPLACED = table_of(RoomUpgrade)
_OUT = select(_ABSENT.c.room_id).where(_ABSENT.c.back_at.is_(None))  # left, not back
_GONE = select(_REPLACED.c.old_room_id)  # replaced by an upgrade
_AWAY_ROOMS = _OUT.union_all(_GONE)
_GONE_HERE = _GONE.where(_REPLACED.c.old_room_id == bindparam("room"))
AWAY = _OUT.where(_ABSENT.c.room_id == bindparam("room")).union_all(_GONE_HERE)
"""Rows while nothing is sent to the room bound as ``room`` (``away``; also a condition of
``storage.outbox.sendable``)."""


def away_rooms(session: Session) -> set[str]:
    """The rooms nothing is sent to now: those the bot is out of (left, kicked, banned; not
    back) and those replaced by an upgrade (their messages go to the new room)."""
    return set(session.execute(_AWAY_ROOMS).scalars())


def away(session: Session, room_id: str) -> bool:
    """Whether nothing is sent to ``room_id`` now (``away_rooms``, for one room)."""
    return session.execute(AWAY, {"room": room_id}).first() is not None


_ABSENCE_AT = select(_ABSENT.c.id).where(
    _ABSENT.c.room_id == bindparam("room"),
    or_(_ABSENT.c.left_at.is_(None), _ABSENT.c.left_at <= bindparam("at")),
    or_(_ABSENT.c.back_at.is_(None), _ABSENT.c.back_at > bindparam("at"))
).order_by(_ABSENT.c.id.desc()).limit(1)
_ROOM_AT = select(_GONE_HERE.exists().label("replaced"),
                  _ABSENCE_AT.scalar_subquery().label("absence"))


@dataclass(frozen=True)
class RoomAt:
    """What the bot's relation to a room was at a moment: ``replaced`` (by an upgrade, now:
    its overleg lives in the new room) and ``absence`` (the bot's absence from the room the
    moment falls in; None: it was there)."""

    replaced: bool
    absence: RoomAbsence | None


def room_at(session: Session, room_id: str, at: datetime) -> RoomAt:
    """``RoomAt`` for ``room_id`` at ``at``: one SELECT (every event asks), and the absence's
    row only when there is one. An absence whose leave was not seen runs from the bot's first
    join."""
    replaced, absence = session.execute(_ROOM_AT, {"room": room_id, "at": at}).one()
    return RoomAt(bool(replaced),
                  session.get(RoomAbsence, absence) if absence is not None else None)


def sync_token(session: Session, device_key: str) -> str | None:
    row = session.get(SyncState, device_key)
    return row.token if row else None


_SYNC = table_of(SyncState)


def save_sync_token(session: Session, device_key: str, token: str) -> None:
    """One upsert (no load and flush: it runs after sync responses)."""
    session.execute(insert_for(session, _SYNC).values(device_key=device_key, token=token)
                    .on_conflict_do_update(index_elements=["device_key"],
                                           set_={"token": token}))


def direct_room(session: Session, user_id: str) -> str | None:
    row = session.get(DirectRoom, user_id)
    return row.room_id if row else None


def save_direct_room(session: Session, user_id: str, room_id: str, now: datetime) -> None:
    if session.get(DirectRoom, user_id) is None:
        session.add(DirectRoom(user_id=user_id, room_id=room_id, created_at=now))
        session.flush()


def forget_direct_room(session: Session, user_id: str, room_id: str) -> bool:
    """The person left their direct room ``room_id`` with the bot: it is no longer theirs
    (the next direct message opens a new one). False when another room is recorded now."""
    row = session.get(DirectRoom, user_id)
    if row is None or row.room_id != room_id:
        return False
    session.delete(row)
    session.flush()
    return True


def state(session: Session, event_id: str) -> InboundEvent | None:
    """How an event was handled (None: never handled as a command)."""
    return session.get(InboundEvent, event_id)


_TOOK_EFFECT = update(_EVENTS).where(_EVENTS.c.event_id == bindparam("event")) \
    .values(refused=False)


def took_effect(session: Session, event_id: str) -> None:
    """The event's command (or an edit of it) changed something: a later edit of it is not
    carried out (an event is recorded as changing nothing until then)."""
    session.execute(_TOOK_EFFECT, {"event": event_id})
