"""Forbidden words, as keyed hashes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from storage.models import ForbiddenWord


def add(session: Session, overleg_id: int, word_hash: str, now: datetime) -> bool:
    if session.get(ForbiddenWord, (overleg_id, word_hash)) is not None:
        return False
    session.add(ForbiddenWord(overleg_id=overleg_id, word_hash=word_hash, added_at=now))
    session.flush()
    return True


def remove(session: Session, overleg_id: int, word_hash: str) -> bool:
    row = session.get(ForbiddenWord, (overleg_id, word_hash))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def hashes(session: Session, overleg_id: int) -> frozenset[str]:
    return frozenset(session.exec(select(ForbiddenWord.word_hash)
                                  .where(ForbiddenWord.overleg_id == overleg_id)).all())


def count(session: Session, overleg_id: int) -> int:
    return len(hashes(session, overleg_id))
