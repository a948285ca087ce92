"""Inbound dedupe, rooms joined and the sync token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from storage.models import DirectRoom, InboundEvent, JoinedRoom, SyncState


def first_time(session: Session, event_id: str, room_id: str, now: datetime) -> bool:
    """Record ``event_id``; False if it was already recorded (by us or another instance).

    INSERT … ON CONFLICT DO NOTHING: on PostgreSQL a second instance waits for the first
    insert's transaction, then inserts nothing.
    """
    values = {"event_id": event_id, "room_id": room_id, "handled_at": now}
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite_insert(InboundEvent).values(**values).on_conflict_do_nothing()
    elif dialect == "postgresql":
        stmt = pg_insert(InboundEvent).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - other engines: plain insert, the unique key still guards
        stmt = sa_insert(InboundEvent).values(**values)
    # RETURNING, not rowcount: psycopg reports -1 for a skipped ON CONFLICT insert.
    inserted = session.execute(stmt.returning(InboundEvent.event_id)).first()
    return inserted is not None


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


def save_sync_token(session: Session, device_key: str, token: str) -> None:
    row = session.get(SyncState, device_key)
    if row is None:
        row = SyncState(device_key=device_key, token=token)
    row.token = token
    session.add(row)
    session.flush()



def direct_room(session: Session, user_id: str) -> str | None:
    row = session.get(DirectRoom, user_id)
    return row.room_id if row else None


def save_direct_room(session: Session, user_id: str, room_id: str, now: datetime) -> None:
    if session.get(DirectRoom, user_id) is None:
        session.add(DirectRoom(user_id=user_id, room_id=room_id, created_at=now))
        session.flush()
