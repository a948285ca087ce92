"""Append-only audit log as a hash chain: altering or deleting a row breaks every later hash."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import AuditEntry

GENESIS = "0" * 64


def _digest(prev: str, at: datetime, overleg_id: int | None, actor: str, action: str,
            subject: str) -> str:
    payload = json.dumps([prev, at.isoformat(), overleg_id, actor, action, subject],
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def record(session: Session, *, overleg_id: int | None, actor: str, action: str,
           subject: str, now: datetime) -> AuditEntry:
    """Append one entry. ``subject`` holds IDs only (C-…, M1, partner names), never free text."""
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
    prev = last.hash if last else GENESIS
    entry = AuditEntry(overleg_id=overleg_id, at=now, actor=actor, action=action,
                       subject=subject, prev_hash=prev,
                       hash=_digest(prev, now, overleg_id, actor, action, subject))
    session.add(entry)
    session.flush()
    return entry


def verify(session: Session) -> int | None:
    """None if the chain is intact, else the ID of the first entry that does not fit."""
    prev = GENESIS
    for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))):
        if e.prev_hash != prev or e.hash != _digest(prev, e.at, e.overleg_id, e.actor,
                                                     e.action, e.subject):
            return e.id
        prev = e.hash
    return None


def entries(session: Session, overleg_id: int) -> list[AuditEntry]:
    return list(session.exec(select(AuditEntry).where(AuditEntry.overleg_id == overleg_id)
                             .order_by(col(AuditEntry.id))))
