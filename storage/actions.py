"""Actions of case plans, their history, and case-partner links."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from storage.models import Action, ActionChange, Case, CasePartner, Overleg, table_of

_OVERLEG = table_of(Overleg)
_NEXT_NUMBER = update(_OVERLEG).where(_OVERLEG.c.id == bindparam("overleg")) \
    .values(last_action_number=_OVERLEG.c.last_action_number + 1) \
    .returning(_OVERLEG.c.last_action_number)


def _next_number(session: Session, overleg_id: int) -> int:
    """The next action number of the overleg: one above the highest ever issued
    (``Overleg.last_action_number``, migration 0022, which set it to the highest number then
    in use), so an erased or purged case's action numbers are never given out again. One
    ``UPDATE … RETURNING`` in the caller's transaction (a row lock on PostgreSQL: two adds
    at once get different numbers)."""
    return int(session.execute(_NEXT_NUMBER, {"overleg": overleg_id}).scalar_one())


def add(session: Session, *, overleg_id: int, case_id: int, partner_id: int, due: date,
        description: str, actor: str, now: datetime) -> Action:
    """Write a new open action and its "created" history row."""
    action = Action(overleg_id=overleg_id, number=_next_number(session, overleg_id),
                    case_id=case_id, partner_id=partner_id, due=due, description=description,
                    status="open", created_at=now)
    session.add(action)
    session.flush()
    change(session, action, actor=actor, kind="created", old=None, new=due.isoformat(), now=now)
    return action


_CHANGE = insert(table_of(ActionChange))


def change(session: Session, action: Action, *, actor: str, kind: str, old: str | None,
           new: str | None, now: datetime) -> None:
    """A row of ``action``'s history (one Core INSERT: nobody reads it back in this
    transaction); the action's own changes are written with it (it is added to the
    session)."""
    session.add(action)
    session.execute(_CHANGE, {"action_id": action.id or 0, "at": now, "actor": actor,
                              "kind": kind, "old": old, "new": new})


def history(session: Session, action_id: int) -> list[ActionChange]:
    return list(session.exec(select(ActionChange).where(ActionChange.action_id == action_id)
                             .order_by(col(ActionChange.id))))


def by_number(session: Session, overleg_id: int, number: int) -> Action | None:
    return session.exec(select(Action).where(Action.overleg_id == overleg_id,
                                             Action.number == number)).first()


def with_case_codes(session: Session, *where: Any) -> list[tuple[Action, str]]:
    """The actions that meet ``where`` (SQLAlchemy conditions on ``Action``), each with its
    case's code, ordered by due date and number: one query for a list, a digest or a
    sweep's batch of reminders."""
    return [(a, code) for a, code in session.exec(
        select(Action, Case.code).join(Case, col(Case.id) == Action.case_id).where(*where)
        .order_by(col(Action.due), col(Action.number)))]


def of_overleg(session: Session, overleg_id: int, *, status: str | None = "open") -> list[Action]:
    """The overleg's actions (all of them with ``status`` None)."""
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


def links_of_case(session: Session, case_id: int) -> list[CasePartner]:
    """The partners linked to a case, with when (``linked_at``)."""
    return list(session.exec(select(CasePartner).where(CasePartner.case_id == case_id)
                             .order_by(col(CasePartner.linked_at))))
