"""Forbidden words, as keyed hashes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from storage.models import AnnexOrganisation, Case, ForbiddenWord, Partner, table_of


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


_WORDS = table_of(ForbiddenWord)
_PARTNERS = table_of(Partner)
_ANNEX = table_of(AnnexOrganisation)
# The PII guard reads these for every command with free text: built once.
_HASHES = select(_WORDS.c.word_hash).where(_WORDS.c.overleg_id == bindparam("overleg"))
_ORGANISATIONS = select(_PARTNERS.c.name).where(
    _PARTNERS.c.overleg_id == bindparam("overleg")).union(
    select(_ANNEX.c.name).where(_ANNEX.c.removed_at.is_(None)))


def hashes(session: Session, overleg_id: int) -> frozenset[str]:
    return frozenset(session.execute(_HASHES, {"overleg": overleg_id}).scalars())


def organisation_names(session: Session, overleg_id: int | None) -> tuple[str, ...]:
    """Names that are organisations, not people, for the PII guard: the overleg's partners
    (removed ones too: their name was once accepted) and the organisations on annex 1;
    longest first. One statement."""
    names = session.execute(_ORGANISATIONS, {"overleg": overleg_id}).scalars()
    return tuple(sorted(set(names), key=len, reverse=True))


def count(session: Session, overleg_id: int) -> int:
    return len(hashes(session, overleg_id))


def rewrap(session: Session, transform: Callable[[str], str]) -> tuple[int, int]:
    """Apply ``transform`` to every stored keyed hash (case references, forbidden words)."""
    cases = 0
    for case in session.exec(select(Case).where(col(Case.ref_hash).is_not(None))):
        case.ref_hash = transform(case.ref_hash or "")
        session.add(case)
        cases += 1
    words = list(session.exec(select(ForbiddenWord)))
    for row in words:
        session.delete(row)
    session.flush()
    for row in words:
        session.add(ForbiddenWord(overleg_id=row.overleg_id, word_hash=transform(row.word_hash),
                                  added_at=row.added_at))
    session.flush()
    return cases, len(words)
