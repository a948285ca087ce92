"""Handle one inbound event exactly once: dedupe, apply, enqueue the replies; one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from commands.registry import Ctx, Outgoing, Registry, Settings, handle
from storage import inbound, outbox, overlegs
from storage.outbox import Rendered

log = logging.getLogger(__name__)

Render = Callable[[Outgoing, str], Rendered]
"""Turns an ``Outgoing`` into the exact message to send to the given default room."""


@dataclass(frozen=True)
class Inbound:
    """A text message from a chat platform, already reduced to plain values."""

    event_id: str
    room_id: str
    sender: str
    text: str
    sent_at: datetime  # the server's timestamp
    encrypted: bool = False


def process(session: Session, registry: Registry, render: Render, settings: Settings,
            msg: Inbound, now: datetime) -> list[Rendered]:
    """Apply ``msg`` once; returns what was enqueued (nothing if it was seen before).

    The caller commits. A bug in a command rolls back that command's changes (savepoint)
    but still records the event as handled and answers with a generic apology, so one bad
    command can never wedge the bot in a retry loop.
    """
    if not msg.text.lstrip().startswith(settings.prefix):
        return []
    if not inbound.first_time(session, msg.event_id, msg.room_id, now):
        return []
    overleg = overlegs.by_room(session, msg.room_id)
    member = overlegs.member(session, overleg.id, msg.sender) if overleg and overleg.id else None
    ctx = Ctx(room=msg.room_id, sender=msg.sender, now=now, session=session, settings=settings,
              overleg=overleg, member=member)
    try:
        with session.begin_nested():
            replies = handle(registry, ctx, msg.text)
    except Exception:
        log.exception("command failed", extra={"event_id": msg.event_id, "room": msg.room_id})
        replies = [ctx.reply("error/internal")]
    rendered = [render(o, msg.room_id) for o in replies]
    outbox.enqueue(session, rendered, now)
    return rendered
