"""Record a change made through a command in the audit chain: who, in which role, what."""

from __future__ import annotations

from commands.policy import role_of
from commands.registry import Ctx
from storage import audit


def audit_change(ctx: Ctx, *, action: str, subject: str, overleg_id: int | None = None,
                 role: str | None = None) -> None:
    """Append an audit entry for ``ctx.sender``; ``subject`` holds IDs, never free text."""
    audit.record(ctx.session, overleg_id=overleg_id if overleg_id is not None else (
        ctx.overleg.id if ctx.overleg else None), actor=ctx.sender,
        role=role or role_of(ctx), action=action, subject=subject, now=ctx.now)
