"""Cases: random IDs only, with an optional keyed hash of an external reference."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from storage.models import Case, CaseTombstone, table_of

_BY_CODE = select(Case).where(Case.overleg_id == bindparam("overleg"),
                              Case.code == bindparam("code"))


def code_taken(session: Session, code: str) -> bool:
    """Whether ``code`` belongs to a case, or did (an erased case's tombstone): an ID is
    never given out twice."""
    return session.execute(_CODE_TAKEN, {"code": code}).first() is not None


_CASES = table_of(Case)
_TOMBSTONES = table_of(CaseTombstone)
_CODE_TAKEN = select(_CASES.c.code).where(_CASES.c.code == bindparam("code")).union_all(
    select(_TOMBSTONES.c.code).where(_TOMBSTONES.c.code == bindparam("code")))


def add(session: Session, *, overleg_id: int, code: str, ref_hash: str | None,
        now: datetime) -> Case:
    """Write a new case (status open, phase melding since ``now``)."""
    case = Case(overleg_id=overleg_id, code=code, ref_hash=ref_hash, status="open",
                phase="melding", phase_since=now, opened_at=now)
    session.add(case)
    session.flush()
    return case


def by_code(session: Session, overleg_id: int, code: str) -> Case | None:
    return session.exec(_BY_CODE, params={"overleg": overleg_id, "code": code}).first()


def by_ref(session: Session, overleg_id: int, ref_hash: str) -> list[Case]:
    return list(session.exec(select(Case).where(
        Case.overleg_id == overleg_id, Case.ref_hash == ref_hash).order_by(col(Case.id))))


def listing(session: Session, overleg_id: int, *, status: str | None = None) -> list[Case]:
    query = select(Case).where(Case.overleg_id == overleg_id)
    if status is not None:
        query = query.where(Case.status == status)
    return list(session.exec(query.order_by(col(Case.opened_at), col(Case.id))))


def close(session: Session, case: Case, now: datetime) -> None:
    case.status = "closed"
    case.closed_at = now
    session.add(case)
    session.flush()


def by_id(session: Session, case_id: int) -> Case | None:
    return session.get(Case, case_id)


def bury(session: Session, *, code: str, overleg_id: int, reason: str,
         now: datetime) -> CaseTombstone:
    """Write the tombstone of the erased case ``code`` (its ID is never given out again)."""
    row = CaseTombstone(code=code, overleg_id=overleg_id, reason=reason, erased_at=now)
    session.add(row)
    session.flush()
    return row


def tombstone(session: Session, code: str) -> CaseTombstone | None:
    """The tombstone of ``code`` (canonical form), or None if it was never erased."""
    return session.get(CaseTombstone, code)


def by_code_anywhere(session: Session, code: str) -> Case | None:
    """The case ``code`` in whichever overleg holds it (codes are unique across overleggen;
    the administrator's command line knows the ID, not the overleg)."""
    return session.exec(select(Case).where(Case.code == code)).first()
