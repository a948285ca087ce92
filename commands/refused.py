"""A message the platform refused for good is never silent: the notice to its room.

The deliverer (bot/deliver.py) gives a refused row up, logs it and counts it; this is what
the room is told, in the overleg's language, where the refused message would have been (the
same reply, the same thread). Nothing here reads the clock or knows a platform: the bot
says whether the refusal was for size.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from commands.registry import Outgoing, Render, render_all
from storage import outbox, overlegs
from storage.models import Overleg
from storage.outbox import Queued, Rendered

NOT_REDACTED = "privacy/not_redacted"
TOO_LARGE = "error/too_large"
NOT_DELIVERED = "error/not_delivered"
NOTICES = frozenset({TOO_LARGE, NOT_DELIVERED, NOT_REDACTED})
"""The notices of a refused message: one of them refused in turn is not told again."""
REDACTION = "m.room.redaction"


def tell(session: Session, render: Render, row: Queued, *, too_large: bool,
         now: datetime) -> list[Rendered]:
    """Enqueue the notice of ``row``, refused for good; the rows enqueued ([]: none).
    Too large (commands/fitting.py keeps messages under the limit; this is the last guard):
    how to ask for less; a redaction (the bot may not remove messages there): the chairs,
    once (``_not_redacted``); anything else (a malformed message, no permission): that the
    administrator finds the cause in the log, once until a message there arrives again. A
    refused notice is not told again."""
    if row.template in NOTICES:
        return []
    overleg = overlegs.by_room(session, row.room_id)
    if row.event_type == REDACTION:
        notice = _not_redacted(session, row, overleg)
        if notice is None:
            return []
    else:
        key = TOO_LARGE if too_large else NOT_DELIVERED
        if key == NOT_DELIVERED and outbox.told_since_success(session, row.room_id, key, None):
            return []  # told once per episode: until a message there arrives again
        notice = Outgoing(key, {"what": row.template}, room=row.room_id,
                          locale=overleg.locale if overleg else None,
                          timezone=overleg.timezone if overleg else None)
    rendered = [replace(r, in_reply_to=row.in_reply_to, thread_root=row.thread_root)
                for r in render_all(render, [notice], row.room_id)]
    outbox.enqueue(session, rendered, now)
    return rendered


def _not_redacted(session: Session, row: Queued, overleg: Overleg | None) -> Outgoing | None:
    """A refused redaction of a message with personal data (the bot may not remove others'
    messages in the room): the chairs are told at once that it stays visible and what to do
    (``privacy/not_redacted``, mentioning them). Told once per room, and again only after a
    redaction there has worked (``outbox.told_since_success``): not per refused message.
    None: told already."""
    if outbox.told_since_success(session, row.room_id, NOT_REDACTED, row.template):
        return None
    chairs = tuple(m.user_id for m in overlegs.members(session, overleg.id)
                   if m.role == "chair") if overleg and overleg.id else ()
    return Outgoing(NOT_REDACTED, {"chairs": ", ".join(chairs)}, room=row.room_id,
                    locale=overleg.locale if overleg else None,
                    timezone=overleg.timezone if overleg else None, mentions=chairs)
