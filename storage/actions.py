"""Actions of case plans, their history, and case-partner links."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.db import Prepared, core_insert, core_insert_one, read
from storage.models import Action, ActionChange, Case, CasePartner

_ACTIONS = Action.__table__  # type: ignore[attr-defined]
_LAST_NUMBER = Prepared(select(func.max(Action.number)).where(
    Action.overleg_id == bindparam("overleg")))


def _next_number(session: Session, overleg_id: int) -> int:
    current = read(session, _LAST_NUMBER, {"overleg": overleg_id}).scalar()
    return int(current or 0) + 1


def add(session: Session, *, overleg_id: int, case_id: int, case_code: str, partner_id: int,
        due: date, description: str, actor: str, now: datetime) -> Facts:
    """Write a new open action and its "created" history row; returns its ``Facts``.

    Core INSERTs: the command that adds an action reads nothing of it back as an object,
    and the ORM's unit of work was a tenth of that command's time (measured)."""
    number = _next_number(session, overleg_id)
    action_id = core_insert_one(session, _ACTIONS, {
        "overleg_id": overleg_id, "number": number, "case_id": case_id,
        "partner_id": partner_id, "due": due, "description": description, "status": "open",
        "created_at": now, "done_at": None, "done_by": None})
    core_insert(session, ActionChange.__table__, [  # type: ignore[attr-defined]
        {"action_id": action_id, "at": now, "actor": actor, "kind": "created", "old": None,
         "new": due.isoformat()}])
    return Facts(action_id, overleg_id, number, case_id, case_code, partner_id, due,
                 description, "open")


def change(session: Session, action: Action, *, actor: str, kind: str, old: str | None,
           new: str | None, now: datetime) -> None:
    session.add(action)
    core_insert(session, ActionChange.__table__, [  # type: ignore[attr-defined]
        {"action_id": action.id or 0, "at": now, "actor": actor, "kind": kind, "old": old,
         "new": new}])


def history(session: Session, action_id: int) -> list[ActionChange]:
    return list(session.exec(select(ActionChange).where(ActionChange.action_id == action_id)
                             .order_by(col(ActionChange.id))))


def by_number(session: Session, overleg_id: int, number: int) -> Action | None:
    return session.exec(select(Action).where(Action.overleg_id == overleg_id,
                                             Action.number == number)).first()


class Facts(NamedTuple):
    """An action as reminders, lists and replies show it, read as a plain row with its
    case's code (no ORM object)."""

    id: int
    overleg_id: int
    number: int
    case_id: int
    case_code: str
    partner_id: int
    due: date
    description: str
    status: str


_A, _C = Action.__table__.c, Case.__table__.c  # type: ignore[attr-defined]
_FACTS = sa_select(_A.id, _A.overleg_id, _A.number, _A.case_id, _C.code, _A.partner_id, _A.due,
                   _A.description, _A.status).join_from(
    Action.__table__, Case.__table__, _C.id == _A.case_id)  # type: ignore[attr-defined]


def facts(session: Session, ids: set[int]) -> dict[int, Facts]:
    """``Facts`` of the actions ``ids`` (those that exist), with one query."""
    if not ids:
        return {}
    rows = read(session, _FACTS.where(_A.id.in_(ids)))
    return {row[0]: Facts(*row) for row in rows}


def facts_of_overleg(session: Session, overleg_id: int, *, status: str | None = "open",
                     due_before: date | None = None) -> list[Facts]:
    """``of_overleg`` as ``Facts``: one query, no ORM objects (lists of hundreds)."""
    query = _FACTS.where(_A.overleg_id == overleg_id)
    if status is not None:
        query = query.where(_A.status == status)
    if due_before is not None:
        query = query.where(_A.due < due_before)
    return [Facts(*row) for row in read(session, query.order_by(_A.due, _A.number))]


def facts_of_case(session: Session, case_id: int) -> list[Facts]:
    return [Facts(*row) for row in read(
        session, _FACTS.where(_A.case_id == case_id).order_by(_A.due, _A.number))]


def of_overleg(session: Session, overleg_id: int, *, status: str | None = "open") -> list[Action]:
    """The overleg's actions as ORM objects, to change them (``facts_of_overleg`` to show)."""
    query = select(Action).where(Action.overleg_id == overleg_id)
    if status is not None:
        query = query.where(Action.status == status)
    return list(session.exec(query.order_by(col(Action.due), col(Action.number))))


def of_case(session: Session, case_id: int) -> list[Action]:
    return list(session.exec(select(Action).where(Action.case_id == case_id)
                             .order_by(col(Action.due), col(Action.number))))


def case_of(session: Session, action: Action) -> Case:
    case = session.get(Case, action.case_id)
    assert case is not None
    return case


def link(session: Session, case_id: int, partner_id: int, now: datetime) -> bool:
    """Link a partner to a case; False if it already was."""
    if session.get(CasePartner, (case_id, partner_id)) is not None:
        return False
    session.add(CasePartner(case_id=case_id, partner_id=partner_id, linked_at=now))
    session.flush()
    return True


def unlink(session: Session, case_id: int, partner_id: int) -> bool:
    row = session.get(CasePartner, (case_id, partner_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def linked_partner_ids(session: Session, case_id: int) -> set[int]:
    return set(session.exec(select(CasePartner.partner_id)
                            .where(CasePartner.case_id == case_id)).all())


def cases_linked_to(session: Session, partner_id: int) -> set[int]:
    return set(session.exec(select(CasePartner.case_id)
                            .where(CasePartner.partner_id == partner_id)).all())
