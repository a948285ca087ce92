"""An overleg's room replaced by an upgrade (``m.room.tombstone``; issue 19).

The tombstone names the replacement room. Once the bot has joined it (invited, or allowed
to join), the overleg moves there: its row points to the new room, its data and timers go
with it (they hang off the overleg's ID), and its unsent messages are sent there. The
chairs are told in the new room. The old room gets no further messages, and what is said
there after the tombstone is not read: no second overleg can start in it. Who may send a
tombstone is the room's state (its power levels): the transport passes only tombstones
sent with that power (Client-Server API, "Room Upgrades").
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from commands.auditing import audit_change
from commands.registry import Ctx, Outgoing, Render, Settings, render_all
from storage import inbound, outbox, overlegs
from storage.models import Overleg, RoomUpgrade
from storage.outbox import Rendered

log = logging.getLogger(__name__)


def tombstone(ctx: Ctx, new_room: str | None) -> list[Outgoing]:
    """A tombstone in an overleg's room, or in a room an overleg waits to move into (read
    also when sent before the bot joined: it is the room's state): remember its
    replacement; if the bot is in the replacement room already, move the overleg now (else
    when it joins: ``arrived``)."""
    if not new_room or not new_room.startswith("!") or new_room == ctx.room:
        return []
    if ctx.overleg is None and overlegs.upgrade_into(ctx.session, ctx.room) is None:
        return []  # no overleg here, and none on its way here
    # (An overleg on its way here: this room was replaced too before the bot joined it; the
    # overleg goes on to ``new_room`` when it arrives, see ``move``.)
    upgrade = overlegs.record_upgrade(ctx.session, ctx.room, new_room, ctx.sender, ctx.spoken)
    log.info("room replaced by an upgrade", extra={"room": ctx.room, "new_room": new_room,
                                                    "overleg": ctx.overleg.id if ctx.overleg
                                                    else None})
    if ctx.overleg is not None and upgrade.moved_at is None \
            and inbound.joined_at(ctx.session, new_room) is not None \
            and not inbound.away(ctx.session, new_room):
        return move(ctx.session, ctx.settings, upgrade, ctx.now)
    return []


def cannot_join(session: Session, render: Render, settings: Settings, old_room: str,
                now: datetime) -> list[Rendered]:
    """The bot could not join the room that replaced ``old_room`` (not invited, not allowed
    to): the chairs (with none, the administrators) are asked once, by direct message (the
    old room gets no further messages), to invite it there; the overleg waits. The notices
    are enqueued and returned."""
    upgrade = overlegs.upgrade_of(session, old_room)
    if upgrade is None or upgrade.moved_at is not None or upgrade.invite_asked_at is not None:
        return []
    overleg = overlegs.by_room(session, old_room)
    if overleg is None or overleg.id is None:
        return []
    out = _ask_invite(session, settings, overleg, upgrade, now)
    rendered = [r for o in out for r in render_all(render, [o], o.room or old_room)]
    outbox.enqueue(session, rendered, now)
    return rendered


def _ask_invite(session: Session, settings: Settings, overleg: Overleg, upgrade: RoomUpgrade,
                now: datetime) -> list[Outgoing]:
    """The chairs (with none, the administrators), each by direct message, asked to invite
    the bot into ``upgrade.new_room_id``; the upgrade remembers they were asked."""
    upgrade.invite_asked_at = now
    session.add(upgrade)
    chairs = [m.user_id for m in overlegs.members(session, overleg.id or 0)
              if m.role == "chair"]
    return [Outgoing("room/invite_needed", {"name": overleg.name,
                                            "new_room": upgrade.new_room_id},
                     room=chair, locale=overleg.locale, timezone=overleg.timezone)
            for chair in chairs or sorted(settings.admins)]


def arrived(session: Session, render: Render, settings: Settings, room_id: str,
            now: datetime) -> list[Rendered]:
    """The bot joined ``room_id``: if an overleg waits to move there (its room was replaced
    by ``room_id``), it moves now; the notices are enqueued and returned."""
    upgrade = overlegs.upgrade_into(session, room_id)
    if upgrade is None:
        return []
    rendered = render_all(render, move(session, settings, upgrade, now), room_id)
    outbox.enqueue(session, rendered, now)
    return rendered


def move(session: Session, settings: Settings, upgrade: RoomUpgrade,
         now: datetime) -> list[Outgoing]:
    """Move the overleg of ``upgrade.old_room_id`` to ``upgrade.new_room_id``, with its
    unsent messages; the chairs (with none, the administrators) are told there. A
    replacement room that has an overleg of its own already is not taken over: the chairs
    are told in it instead (never two overleggen in one room)."""
    overleg = overlegs.by_room(session, upgrade.old_room_id, lock=True)
    upgrade.moved_at = now
    session.add(upgrade)
    if overleg is None or overleg.id is None:
        return []
    ctx = Ctx(room=upgrade.new_room_id, sender=upgrade.sender, now=now, session=session,
              settings=settings, overleg=overleg)
    chairs = [m.user_id for m in overlegs.members(session, overleg.id) if m.role == "chair"]
    told = chairs or sorted(settings.admins)
    if overlegs.by_room(session, upgrade.new_room_id) is not None:
        log.warning("replacement room has an overleg already; not moved",
                    extra={"room": upgrade.old_room_id, "new_room": upgrade.new_room_id})
        return [replace(ctx.reply("room/upgrade_taken", chairs=told, name=overleg.name),
                        mentions=tuple(told))]
    old = overleg.room_id
    overlegs.move_room(session, overleg, upgrade.new_room_id)
    # Upgraded again before the notice of the previous move went out: this one replaces it
    # (the chairs would read the same notice twice in the newest room).
    outbox.drop_unsent(session, old, "room/moved")
    moved = outbox.move_unsent(session, old, upgrade.new_room_id)
    audit_change(ctx, action="overleg.room_upgraded", subject=f"{old} {upgrade.new_room_id}")
    log.info("overleg moved to the replacement room", extra={
        "room": old, "new_room": upgrade.new_room_id, "overleg": overleg.id,
        "messages": moved})
    onward = overlegs.upgrade_of(session, upgrade.new_room_id)
    if onward is not None and onward.moved_at is None:
        # The new room was itself replaced before the bot joined it: on to the newest room
        # (its notice is the one the chairs get), or, not in that one yet, wait for it.
        if inbound.joined_at(session, onward.new_room_id) is not None \
                and not inbound.away(session, onward.new_room_id):
            return move(session, settings, onward, now)
        asked = [] if onward.invite_asked_at is not None else \
            _ask_invite(session, settings, overleg, onward, now)
        return asked
    return [replace(ctx.reply("room/moved", chairs=told, name=overleg.name),
                    mentions=tuple(told))]
