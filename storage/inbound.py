"""Inbound dedupe, rooms joined and the sync token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from storage.db import insert_for
from storage.models import DirectRoom, InboundEvent, JoinedRoom, SyncState

_EVENTS = InboundEvent.__table__  # type: ignore[attr-defined]


def first_time(session: Session, event_id: str, room_id: str, now: datetime,
               sender: str | None = None, thread_root: str | None = None,
               refused: bool = False) -> bool:
    """Record ``event_id``; False if it was already recorded (by us or another instance).

    INSERT … ON CONFLICT DO NOTHING: on PostgreSQL a second instance waits for the first
    insert's transaction, then inserts nothing.
    """
    # RETURNING, not rowcount: psycopg reports -1 for a skipped ON CONFLICT insert.
    inserted = session.execute(
        insert_for(session, _EVENTS).values(event_id=event_id, room_id=room_id, handled_at=now,
                                            sender=sender, thread_root=thread_root,
                                            refused=refused)
        .on_conflict_do_nothing().returning(_EVENTS.c.event_id))
    return inserted.first() is not None


def joined_at(session: Session, room_id: str) -> datetime | None:
    row = session.get(JoinedRoom, room_id)
    return row.joined_at if row else None


def record_join(session: Session, room_id: str, at: datetime) -> None:
    """Remember the first time the bot joined ``room_id`` (later joins keep the first)."""
    if session.get(JoinedRoom, room_id) is None:
        session.add(JoinedRoom(room_id=room_id, joined_at=at))
        session.flush()


def sync_token(session: Session, device_key: str) -> str | None:
    row = session.get(SyncState, device_key)
    return row.token if row else None


_SYNC = SyncState.__table__  # type: ignore[attr-defined]


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


def state(session: Session, event_id: str) -> InboundEvent | None:
    """How an event was handled (None: never handled as a command)."""
    return session.get(InboundEvent, event_id)


def took_effect(session: Session, event_id: str) -> None:
    """The event's command (or an edit of it) changed something: a later edit of it is not
    carried out (an event is recorded as changing nothing until then)."""
    session.execute(update(InboundEvent).where(col(InboundEvent.event_id) == event_id)
                    .values(refused=False).execution_options(synchronize_session=False))
