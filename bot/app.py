"""Wiring: ``bootstrap(config, clock) -> App``. No module-level state: two Apps can coexist."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from bot.clock import Clock
from bot.config import Config
from bot.dbcalls import is_locked
from bot.deliver import is_too_large
from bot.render import Renderer
from commands import default_registry, refused, rooms, timed, verification
from commands.inbound import Inbound, handle, may_concern
from commands.ratelimit import RateLimiter
from commands.registry import Outcome, Registry, Render, Settings
from storage import crosssigning, overlegs
from storage import inbound as inbound_store
from storage.db import checkpoint, make_engine, migrate, session_scope
from storage.outbox import Queued, Rendered

Claim = Callable[[Session, str], list[Queued]]
"""A room's rows claimed for sending, in the caller's transaction (``Deliverer.claim_now``)."""


@dataclass(frozen=True)
class Handled(Outcome):
    """``App.handle``'s result: the core's ``Outcome``, and the rows of the replies' rooms
    the deliverer claimed in the same transaction (room -> rows in order): sent at once,
    without a transaction of their own (bot/deliver.py). A matter of the bot, not of the
    core, which knows nothing of sending."""

    claimed: dict[str, list[Queued]] = field(default_factory=dict)

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 3600.0  # seconds between WAL checkpoints after a sweep


@dataclass
class App:
    """The transport-neutral bot: configuration, database, commands, rendering, clock."""

    config: Config
    clock: Clock
    engine: Engine
    registry: Registry
    render: Render
    settings: Settings
    limiter: RateLimiter = field(default_factory=RateLimiter)
    _joined: dict[str, datetime] = field(default_factory=dict)
    _checkpointed: float = float("-inf")  # time.monotonic() of the last WAL checkpoint

    def handle(self, msg: Inbound, claim: Claim | None = None) -> Handled:
        """The one entry for an inbound event (blocking: a transport calls it through
        ``bot.dbcalls.DatabaseCalls.run``): handled exactly once, in one transaction,
        retried when the database says it lost a race. Chatter costs no transaction; an
        event from before the bot joined the room is never handled (a tombstone is: it is the
        room's state). ``claim`` (the deliverer's ``claim_now``): the replies' rooms' rows,
        claimed for sending in the same transaction (``Handled.claimed``)."""
        if not may_concern(msg, self.settings.prefix):
            return Handled([])
        joined = self._joined_at(msg.room_id)
        # A tombstone is the room's state, not history: one sent before the bot joined says
        # the room it joins was replaced already (commands/rooms.py).
        if msg.kind != "tombstone" and (joined is None or msg.sent_at < joined):
            return Handled([])

        def attempt() -> Handled:
            with session_scope(self.engine) as session:
                done = handle(session, self.registry, self.render, self.settings, msg,
                              self.clock.now(), self.limiter)
                if claim is None or not done.replies:
                    return Handled(done.replies, done.next_due)
                return Handled(done.replies, done.next_due, {
                    room: rows for room in rooms_of(done.replies)
                    if (rows := claim(session, room))})

        return retrying(attempt)

    def tell_refused(self, row: Queued, error: str) -> None:
        """A row the platform refused for good (``error``: the deliverer's): its notice to
        the room, in a transaction of its own (``commands.refused.tell``)."""
        with session_scope(self.engine) as session:
            refused.tell(session, self.render, row, too_large=is_too_large(error),
                         now=self.clock.now())

    def _joined_at(self, room_id: str) -> datetime | None:
        """When the bot joined; fixed once known, so it is read from the database once."""
        if room_id not in self._joined:
            with session_scope(self.engine) as session:
                at = inbound_store.joined_at(session, room_id)
            if at is None:
                return None
            self._joined[room_id] = at
        return self._joined[room_id]

    def sweep(self) -> Outcome:
        """Run a batch of the timed work that is due (blocking). At most once an hour the
        write-ahead log is checkpointed and truncated afterwards (``storage.db.checkpoint``),
        so what the sweep's retention purge deleted does not linger in it."""
        def attempt() -> Outcome:
            with session_scope(self.engine) as session:
                return timed.sweep(self.registry, session, self.render, self.clock.now())

        done = retrying(attempt)
        if time.monotonic() - self._checkpointed >= CHECKPOINT_EVERY:
            self._checkpointed = time.monotonic()
            try:
                checkpoint(self.engine)
            except OperationalError:
                log.warning("WAL checkpoint postponed (the database is busy)")
        return done

    def key_recipients(self, room_id: str) -> set[str] | None:
        """Who may get the room keys of ``room_id``: the overleg's members (None: no limit)."""
        with session_scope(self.engine) as session:
            overleg = overlegs.by_room(session, room_id)
            if overleg is None or overleg.id is None:
                return None
            return {m.user_id for m in overlegs.members(session, overleg.id)}

    def direct_room(self, user_id: str) -> str | None:
        with session_scope(self.engine) as session:
            return inbound_store.direct_room(session, user_id)

    def forget_direct_room(self, user_id: str, room_id: str) -> bool:
        with session_scope(self.engine) as session:
            return inbound_store.forget_direct_room(session, user_id, room_id)

    def save_direct_room(self, user_id: str, room_id: str) -> None:
        with session_scope(self.engine) as session:
            inbound_store.save_direct_room(session, user_id, room_id, self.clock.now())

    def record_join(self, room_id: str, at: datetime, *, invited_again: bool = False) -> bool:
        """The bot joined ``room_id`` at ``at`` (the join event's server time). True: it is
        back after an absence (``storage.inbound.record_join``), or an overleg moved here
        from the room this one replaced (``commands.rooms.arrived``): the room's waiting
        messages and timers can go now."""
        with session_scope(self.engine) as session:
            back = inbound_store.record_join(session, room_id, at, invited_again=invited_again)
            if invited_again:  # (the invite's join: the client learns of the room from
                return back    # the next sync, whose join event moves an overleg here)
            moved = rooms.arrived(session, self.render, self.settings, room_id,
                                  self.clock.now())
            return back or bool(moved)

    # ---- an administrator's verification of the bot (commands.verification) ----------
    def verification_requested(self, flow_id: str, device_id: str, user_id: str,
                               other_device: str, room_id: str | None) -> str:
        """``answer``, ``decline`` or ``known`` (``commands.verification.requested``)."""
        with session_scope(self.engine) as session:
            verdict = verification.requested(session, self.settings, self.render, flow_id,
                                             device_id, user_id, other_device,
                                             self.clock.now(), room_id)
            return verdict

    def verification_not_direct(self, user_id: str) -> list[str]:
        """An in-room request outside a direct room (``verification.not_direct``); the
        rooms to send to."""
        with session_scope(self.engine) as session:
            sent = verification.not_direct(session, self.settings, self.render, user_id,
                                           self.clock.now())
            return rooms_of(sent)

    def verification_ended(self, flow_ids: list[str]) -> list[str]:
        """Of the flows a device holds, those ended meanwhile (``verification.ended``)."""
        with session_scope(self.engine) as session:
            return verification.ended(session, flow_ids)

    def verification_compare(self, flow_id: str, indices: list[int], decimals: list[int],
                             device_name: str | None = None) -> list[str]:
        """The emoji shown to the administrator; the rooms to send to."""
        with session_scope(self.engine) as session:
            sent = verification.compare(session, self.render, flow_id, indices, decimals,
                                        self.clock.now(), device_name)
            return rooms_of(sent)

    def verification_decided(self, device_id: str) -> list[tuple[str, str]]:
        with session_scope(self.engine) as session:
            return verification.decided(session, device_id)

    def verification_end(self, flow_id: str, reason: str | None,
                         device_only: bool = False) -> list[str]:
        """End the flow (``commands.verification.end``); the rooms to send to."""
        with session_scope(self.engine) as session:
            sent = verification.end(session, self.render, flow_id, reason, self.clock.now(),
                                    device_only=device_only)
            return rooms_of(sent)

    def verification_stale(self, device_id: str,
                           all_open: bool) -> list[tuple[str, str, str, str | None]]:
        """Open flows of ``device_id`` to cancel: all of them (at start), else those past
        the 10-minute limit; each (flow ID, user ID, their device, room or None)."""
        with session_scope(self.engine) as session:
            rows = verification.abandoned(session, device_id) if all_open \
                else verification.expired(session, device_id, self.clock.now())
            return [(r.flow_id, r.user_id, r.other_device, r.room_id) for r in rows]

    def master_key(self) -> str | None:
        """The bot account's master cross-signing key (public, base64), as stored."""
        row = crosssigning.identity(self.engine, self.config.user_id)
        return row.master_public if row else None

    def cannot_join_replacement(self, old_room: str) -> list[str]:
        """The bot could not join the room that replaced ``old_room``: the chairs are asked
        once to invite it (``commands.rooms.cannot_join``); the rooms to send to."""
        with session_scope(self.engine) as session:
            sent = rooms.cannot_join(session, self.render, self.settings, old_room,
                                     self.clock.now())
            return rooms_of(sent)

    def in_room(self, room_id: str) -> bool:
        """Whether the bot has joined ``room_id`` and is not out of it (the database's word,
        which can be ahead of the Matrix client's between a join and the next sync)."""
        with session_scope(self.engine) as session:
            return inbound_store.joined_at(session, room_id) is not None \
                and not inbound_store.away(session, room_id)

    def awaits_room(self, room_id: str) -> bool:
        """Whether an overleg waits to move into ``room_id`` (its room was replaced by it):
        the bot should join it."""
        with session_scope(self.engine) as session:
            return overlegs.upgrade_into(session, room_id) is not None

    def record_leave(self, room_id: str, at: datetime | None) -> bool:
        """The bot left or was removed from ``room_id`` at ``at`` (None: not known when).
        Until it joins again, what is said there is not carried out late and nothing is
        sent there (``storage.inbound.record_leave``). True when this opened the absence."""
        with session_scope(self.engine) as session:
            return inbound_store.record_leave(session, room_id, at)

    def sync_token(self, device_key: str) -> str | None:
        with session_scope(self.engine) as session:
            return inbound_store.sync_token(session, device_key)

    def save_sync_token(self, device_key: str, token: str) -> None:
        with session_scope(self.engine) as session:
            inbound_store.save_sync_token(session, device_key, token)


T = TypeVar("T")


def retrying(work: Callable[[], T], attempts: int = 5) -> T:
    """Run one transaction again when the database says it lost a race.

    With two instances on PostgreSQL, a deadlock or a unique-key race rolls a transaction
    back; running it again is safe because every effect, the dedupe row included, was rolled
    back with it.
    """
    for attempt in range(attempts):
        try:
            return work()
        except (OperationalError, IntegrityError) as e:
            if attempt == attempts - 1 or is_locked(e):
                raise  # (SQLite's lock: it waited its busy timeout already, or may not wait)
            log.warning("transaction lost a race, retrying",
                        extra={"error": type(e.orig).__name__, "attempt": attempt + 1})
            time.sleep(0.01 * (2 ** attempt) * (1 + random.random()))
    raise AssertionError("unreachable")


def bootstrap(config: Config, clock: Clock) -> App:
    """Build the app: engine (schema created if missing), registry, renderer."""
    engine = make_engine(config.database_url)
    migrate(engine, now=clock.now())
    settings = Settings(prefix=config.prefix, admins=config.admins, timezone=config.timezone,
                        locale=config.locale, ref_key=config.ref_key,
                        previous_ref_keys=config.previous_ref_keys,
                        require_e2ee=config.require_e2ee, redact_pii=config.redact_pii,
                        agenda_days=config.agenda_days, nudge_days=config.nudge_days,
                        platform=config.platform)
    shown_prefix = config.prefix  # before commands in help and examples
    if config.platform == "teams":
        from bot.teams.cards import MENTION_PREFIX

        shown_prefix = MENTION_PREFIX  # the bot's @mention: what Teams delivers to a bot
    renderer = Renderer(prefix=shown_prefix, default_locale=config.locale,
                        default_timezone=config.timezone, guide_url=config.guide_url,
                        platform=config.platform)
    render: Render = renderer
    if config.platform == "teams":
        from bot.teams.cards import TeamsRenderer

        render = TeamsRenderer(renderer)
    return App(config=config, clock=clock, engine=engine, registry=default_registry(),
               render=render, settings=settings, limiter=RateLimiter(config.rate_limit))


def rooms_of(sent: list[Rendered]) -> list[str]:
    """The rooms (or people) the messages go to, each once, in order: where to poke the
    deliverer after a call that enqueued them."""
    return list(dict.fromkeys(r.room_id for r in sent))


def offline_app(database_url: str, clock: Clock, **env: str) -> App:
    """An App built as the bot builds it, from a minimal configuration whose homeserver is
    never contacted (127.0.0.1:9): for tests, the benchmark and tools that drive the core
    directly. ``env`` adds or overrides ``CASUSBOT_*`` settings."""
    from bot.config import load

    return bootstrap(load({"CASUSBOT_HOMESERVER": "http://127.0.0.1:9",
                           "CASUSBOT_USER_ID": "@casusbot:localhost",
                           "CASUSBOT_PASSWORD": "unused", "CASUSBOT_REF_KEY": "offline-" * 3,
                           "CASUSBOT_DATABASE_URL": database_url, **env}), clock)
