"""Interactive verifications of the bot (``models.KeyVerification``): rows only; the
protocol lives in ``bot.matrix.verify``, the rules in ``commands.verification``."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import KeyVerification

OPEN = ("ready", "compare", "confirmed", "rejected")
"""States of a flow that has not ended."""


def get(session: Session, flow_id: str) -> KeyVerification | None:
    return session.get(KeyVerification, flow_id)


def waiting_for(session: Session, user_id: str) -> KeyVerification | None:
    """The newest flow of ``user_id`` whose emoji are shown and not yet answered."""
    return session.exec(select(KeyVerification).where(
        KeyVerification.user_id == user_id, KeyVerification.state == "compare")
        .order_by(col(KeyVerification.started_at).desc())).first()


def replaced_by(session: Session, row: KeyVerification) -> list[KeyVerification]:
    """The flows of ``row``'s administrator that ``row``'s request ended (reason
    ``superseded``, at the moment ``row`` started)."""
    return list(session.exec(select(KeyVerification).where(
        KeyVerification.user_id == row.user_id, KeyVerification.reason == "superseded",
        KeyVerification.ended_at == row.started_at)).all())


def open_of_user(session: Session, user_id: str) -> list[KeyVerification]:
    """The flows of ``user_id`` that have not ended, on any of the bot's devices."""
    return list(session.exec(select(KeyVerification).where(
        KeyVerification.user_id == user_id, col(KeyVerification.state).in_(OPEN))).all())


def open_flows(session: Session, device_id: str,
               started_before: datetime | None = None) -> list[KeyVerification]:
    """The flows of the bot's device ``device_id`` that have not ended (only those started
    before ``started_before``, when given), oldest first."""
    query = select(KeyVerification).where(KeyVerification.device_id == device_id,
                                          col(KeyVerification.state).in_(OPEN))
    if started_before is not None:
        query = query.where(col(KeyVerification.started_at) < started_before)
    return list(session.exec(query.order_by(col(KeyVerification.started_at))).all())
