"""Teams conversation references (where the bot may post) and "cannot reach" notes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select, update

from storage.models import (
    Member,
    OutboxMessage,
    Overleg,
    TeamsConversation,
    TeamsUnreachable,
)


def save_conversation(session: Session, conversation_id: str, reference_json: str,
                      personal_user: str | None, now: datetime) -> bool:
    """Keep the latest reference of a conversation; True if it is a new personal chat.

    A user's first personal chat also releases the direct messages that waited for it.
    """
    row = session.get(TeamsConversation, conversation_id)
    new_personal = personal_user is not None and personal_chat(session, personal_user) is None
    if row is None:
        row = TeamsConversation(conversation_id=conversation_id, reference_json=reference_json,
                                personal_user=personal_user, updated_at=now)
    elif row.reference_json == reference_json:
        return False  # unchanged: no write on every message
    row.reference_json = reference_json
    row.updated_at = now
    session.add(row)
    if new_personal and personal_user is not None:
        gone = session.get(TeamsUnreachable, personal_user)
        if gone is not None:
            session.delete(gone)
        session.execute(update(OutboxMessage)
                        .where(col(OutboxMessage.room_id) == personal_user,
                               col(OutboxMessage.sent_at).is_(None))
                        .values(next_attempt_at=None))
    session.flush()
    return new_personal


def reference(session: Session, conversation_id: str) -> str | None:
    row = session.get(TeamsConversation, conversation_id)
    return row.reference_json if row else None


def personal_chat(session: Session, user_id: str) -> TeamsConversation | None:
    return session.exec(select(TeamsConversation)
                        .where(TeamsConversation.personal_user == user_id)
                        .order_by(col(TeamsConversation.updated_at).desc())).first()


def note_unreachable(session: Session, user_id: str, now: datetime) -> bool:
    """Remember that ``user_id`` cannot be reached; True only the first time."""
    if session.get(TeamsUnreachable, user_id) is not None:
        return False
    session.add(TeamsUnreachable(user_id=user_id, noted_at=now))
    session.flush()
    return True


def overleg_ids_of(session: Session, user_id: str) -> list[int]:
    return sorted({m.overleg_id for m in session.exec(
        select(Member).where(Member.user_id == user_id))})


MAX_NAME = 120


def remember_names(session: Session, conversation_id: str, names: dict[str, str]) -> int:
    """Keep the display names of the members of the overleg in ``conversation_id`` (user ID
    -> name) where they changed; people who are no member are not kept. How many rows."""
    overleg = session.exec(select(Overleg.id).where(Overleg.room_id == conversation_id)).first()
    if overleg is None or not names:
        return 0
    changed = 0
    for member in session.exec(select(Member).where(
            Member.overleg_id == overleg, col(Member.user_id).in_(list(names)))):
        name = names[member.user_id].strip()[:MAX_NAME]
        if name and member.display_name != name:
            member.display_name = name
            session.add(member)
            changed += 1
    session.flush()
    return changed


def names_of(session: Session, user_ids: list[str]) -> dict[str, str]:
    """The display names kept for ``user_ids`` (any overleg they are a member of)."""
    if not user_ids:
        return {}
    rows = session.exec(select(Member.user_id, Member.display_name).where(
        col(Member.user_id).in_(user_ids), col(Member.display_name).is_not(None)))
    return {user: name for user, name in rows if name}
