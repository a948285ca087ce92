"""Append-only audit log as a hash chain: altering, deleting or reordering rows breaks it.

Each row's hash covers the previous row's hash and a canonical JSON encoding of the row, with
the subject included as its SHA-256 digest. That lets the retention purge erase a subject
(a purged case's ID) while the chain still verifies: only ``subject`` is blanked, its digest
stays. Rows carry IDs and roles, never free text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import insert, text
from sqlmodel import Session, col, func, or_, select

from storage.db import dialect_of
from storage.models import AuditEntry, table_of

GENESIS = "0" * 64
PURGED = "[purged]"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _digest(prev: str, at: datetime, overleg_id: int | None, actor: str, role: str,
            action: str, subject_digest: str) -> str:
    payload = json.dumps({"prev": prev, "at": at.isoformat(), "overleg": overleg_id,
                          "actor": actor, "role": role, "action": action,
                          "subject": subject_digest}, sort_keys=True, separators=(",", ":"))
    return _sha(payload)


_ENTRIES = table_of(AuditEntry)
_LAST_HASH = select(_ENTRIES.c.hash).order_by(_ENTRIES.c.id.desc()).limit(1)
_APPEND = insert(_ENTRIES)


def record(session: Session, *, overleg_id: int | None, actor: str, action: str,
           subject: str, now: datetime, role: str = "") -> None:
    """Append one entry. ``subject`` holds IDs only (C-…, M1, partner names), never free text."""
    if dialect_of(session) == "postgresql":
        # Two instances appending at once would both chain to the same last entry: take
        # turns until this transaction ends (SQLite writers take turns already).
        session.execute(text("SELECT pg_advisory_xact_lock(7246310002)"))
    # The last hash only, LIMIT 1: this table only grows.
    prev = session.execute(_LAST_HASH).scalar() or GENESIS
    subject_digest = _sha(subject)
    # A plain row (one INSERT, built once; written at once: the next entry reads its hash).
    session.execute(_APPEND, {
        "overleg_id": overleg_id, "at": now, "actor": actor, "role": role, "action": action,
        "subject": subject, "subject_digest": subject_digest, "prev_hash": prev,
        "hash": _digest(prev, now, overleg_id, actor, role, action, subject_digest)})


def verify(session: Session) -> int | None:
    """None if the chain is intact, else the ID of the first entry that does not fit."""
    prev = GENESIS
    for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))):
        subject_ok = e.subject == PURGED or _sha(e.subject) == e.subject_digest
        if not subject_ok or e.prev_hash != prev or e.hash != _digest(
                prev, e.at, e.overleg_id, e.actor, e.role, e.action, e.subject_digest):
            return e.id
        prev = e.hash
    return None


def head(session: Session) -> tuple[int, str]:
    """How many entries there are and the last hash (keep it elsewhere to detect truncation)."""
    count = session.exec(select(func.count()).select_from(AuditEntry)).one()
    return int(count), (session.execute(_LAST_HASH).scalar() or GENESIS)


def entries(session: Session, overleg_id: int | None = None, *, since: datetime | None = None,
            until: datetime | None = None) -> list[AuditEntry]:
    query = select(AuditEntry)
    if overleg_id is not None:
        query = query.where(AuditEntry.overleg_id == overleg_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return list(session.exec(query.order_by(col(AuditEntry.id))))


def erase_subjects(session: Session, containing: str, overleg_id: int | None = None) -> int:
    """Blank the subjects that mention ``containing`` (their digests keep the chain valid);
    ``overleg_id``: only that overleg's entries. The number blanked."""
    query = select(AuditEntry).where(col(AuditEntry.subject).contains(containing))
    if overleg_id is not None:
        query = query.where(AuditEntry.overleg_id == overleg_id)
    n = 0
    for e in session.exec(query):
        e.subject = PURGED
        session.add(e)
        n += 1
    session.flush()
    return n


def whole_ids(ids: list[str]) -> re.Pattern[str]:
    """A pattern that finds any of ``ids`` (e.g. ``["A3", "A7"]``) as a whole ID: ``A1``
    does not match in ``A10`` or ``C-A1B2C3``."""
    return re.compile(r"(?<![0-9A-Za-z-])(?:" + "|".join(map(re.escape, ids))
                      + r")(?![0-9A-Za-z])")


def erase_subjects_naming(session: Session, ids: list[str], overleg_id: int | None) -> int:
    """Blank the subjects of ``overleg_id``'s entries (None: of every overleg, for an ID
    unique across them, a case's ``C-…``) that name one of ``ids`` (e.g. ``["A3", "A7"]``)
    as a whole ID: ``A1`` does not match ``A10`` or ``C-A1B2C3``, ``C-7K2FJ`` not
    ``C-7K2FJ7``. The number blanked (their digests keep the chain valid)."""
    if not ids:
        return 0
    pattern = whole_ids(ids)
    query = select(AuditEntry).where(or_(*(col(AuditEntry.subject).contains(i) for i in ids)))
    if overleg_id is not None:
        query = query.where(AuditEntry.overleg_id == overleg_id)
    n = 0
    for e in session.exec(query):
        if e.subject != PURGED and pattern.search(e.subject):
            e.subject = PURGED
            session.add(e)
            n += 1
    session.flush()
    return n


def export_lines(rows: list[AuditEntry]) -> Iterator[str]:
    for e in rows:
        yield json.dumps({"id": e.id, "at": e.at.isoformat(), "overleg": e.overleg_id,
                          "actor": e.actor, "role": e.role, "action": e.action,
                          "subject": e.subject, "subject_digest": e.subject_digest,
                          "prev_hash": e.prev_hash, "hash": e.hash}, sort_keys=True)
