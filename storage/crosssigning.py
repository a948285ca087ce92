"""The bot account's one cross-signing identity (``models.CrossSigningIdentity``).

Rows only: sealing and the Matrix side live in ``bot.crosssign``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from storage.db import session_scope
from storage.models import CrossSigningIdentity


def identity(engine: Engine, user_id: str) -> CrossSigningIdentity | None:
    """The account's identity as stored, or None before the first instance made one."""
    with session_scope(engine) as session:
        return session.get(CrossSigningIdentity, user_id)


def claim(engine: Engine, user_id: str, master_public: str, sealed: str,
          now: datetime) -> bool:
    """Store a new identity unless one exists: True if this one is now the account's, False
    if another instance stored one first (then use that one: ``identity``)."""
    try:
        with session_scope(engine) as session:
            session.add(CrossSigningIdentity(user_id=user_id, master_public=master_public,
                                             sealed=sealed, created_at=now))
        return True
    except IntegrityError:
        return False


def replace(engine: Engine, user_id: str, master_public: str, sealed: str,
            now: datetime) -> None:
    """Put a new identity in place of the old one (``casusbot crosssign reset``), or reseal
    the same keys under the current configuration key."""
    with session_scope(engine) as session:
        row = session.get(CrossSigningIdentity, user_id)
        if row is None:
            session.add(CrossSigningIdentity(user_id=user_id, master_public=master_public,
                                             sealed=sealed, created_at=now))
        else:
            row.master_public, row.sealed = master_public, sealed
            session.add(row)
