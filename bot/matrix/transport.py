"""The Matrix transport on matrix-nio: events in as ``Inbound`` values, outbox rows out.

nio sends; it does not decide. After each sync the room's new events are turned into plain
values and handed to the sans-I/O core in the room's order (bot/matrix/timeline.py). The
sync token is saved only after the batch's events were handled, so a crash replays the
batch and the inbound dedupe drops repeats.
This module holds the runtime class: the client, the sync loop, the callbacks, start and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    PowerLevelsEvent,
    ReactionEvent,
    RedactionEvent,
    RoomGetStateResponse,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomMessageUnknown,
    RoomUpgradeEvent,
    SyncResponse,
    UnknownEvent,
    UploadFilterResponse,
)

from bot.app import App
from bot.matrix.events import (
    POLL_END,
    POLL_RESPONSE,
    _ts,
    may_tombstone,
    poll_answer,
    redact_power,
    redact_power_in,
    said,
)
from bot.matrix.sending import Sending
from bot.matrix.session import Login, _Store
from bot.matrix.timeline import in_timeline_order
from bot.matrix.verify import Verifying
from bot.runtime import Runtime
from commands.inbound import Inbound

log = logging.getLogger(__name__)
SYNC_TIMEOUT_MS = 30_000
TOKEN_SAVE_EVERY = 10.0  # seconds between saves of the sync token (and one at stop)
SETTLE_SECONDS = 0.5  # how long the next /sync waits for the replies just sent


def sync_filter(user_id: str) -> dict[str, Any]:
    """The bot's /sync filter (Client-Server API "Filtering") for the account ``user_id``.

    The timeline is bounded and members load lazily (history before a join is never
    handled). Left out: typing notices and read receipts (``ephemeral``) and presence,
    which the bot reads none of and which would each end a long-poll (a room where people
    type woke the bot at every pause); and the account's own events in the timeline
    (``not_senders``), which the bot never acts on and which came back after every reply,
    a sync each (measured: the bot's CPU per round in ``make bench`` 10.3 -> 9.8 ms). Its
    own join, which says when it joined a room (``App.record_join``), then comes in the
    room's ``state`` section: a homeserver sends a newly joined room's state with the
    syncing user's own membership in it, also when members load lazily (Synapse: "always
    make sure we LL ourselves")."""
    return {"room": {"timeline": {"limit": 100, "not_senders": [user_id]},
                     "state": {"lazy_load_members": True},
                     "ephemeral": {"not_types": ["*"]}},
            "presence": {"not_types": ["*"]}}


class GapUnavailable(Exception):
    """``/messages`` kept failing for a room's gap: the sync is read again, not skipped."""

    def __init__(self, room: str) -> None:
        super().__init__(room)
        self.room = room


class MatrixTransport(Login, Sending, Verifying, Runtime):
    """Logs in, syncs, feeds the core, and sends the outbox through ``room_send``."""

    def __init__(self, app: App) -> None:
        super().__init__(app, holder=f"{app.config.user_id}|{app.config.store_path.resolve()}")
        cfg = app.config
        self.store = Path(cfg.store_path)
        self.client = AsyncClient(
            cfg.homeserver, cfg.user_id, device_id=cfg.device_id or "",
            store_path=str(self.store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False,
                                     store=_Store,
                                     max_limit_exceeded=0, max_timeouts=0,
                                     request_timeout=SYNC_TIMEOUT_MS / 1000 + 30),
        )
        self.ready = asyncio.Event()
        self._allowed = {}
        self._initial = False
        self._token_saved_at: float | None = None
        self._unsaved_token: str | None = None

    # ---- inbound ---------------------------------------------------------------------
    def _device_key(self) -> str:
        return f"{self.client.user_id}|{self.client.device_id}"

    async def on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key != self.client.user_id or event.membership != "invite":
            return
        now = datetime.now(UTC)
        resp = await self.client.join(room.room_id)
        if isinstance(resp, JoinError):
            log.warning("could not join", extra={"room": room.room_id})
            return
        # Invited again to a room it was in: an absence whose leave it did not see (it was
        # down) is recorded too, so what was said meanwhile is not carried out late.
        back = await self.db.run(partial(self.app.record_join, invited_again=True),
                                 room.room_id, now)
        log.info("joined room", extra={"room": room.room_id, "again": back})
        if back:
            self._back_in(room.room_id)

    async def on_member(self, room: MatrixRoom, event: RoomMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "join":
            await self._joined(room.room_id, _ts(event.server_timestamp))

    async def _joined(self, room_id: str, at: datetime) -> None:
        """The bot's own join event of ``room_id`` (server time ``at``), recorded."""
        if await self.db.run(self.app.record_join, room_id, at):
            self._back_in(room_id)

    def _back_in(self, room_id: str) -> None:
        """Back in a room after an absence: its waiting messages and the timers that fell
        due meanwhile go now (late, once)."""
        log.info("back in room", extra={"room": room_id})
        self.deliverer.poke(room_id)
        self.waker.poke()

    async def _left_rooms(self, resp: SyncResponse) -> None:
        """The rooms the bot left or was removed from (kicked, banned) since the last sync,
        as the sync's ``leave`` section says: recorded with the time of its membership event,
        so what is said there until it is back is not carried out late, and nothing is sent
        there meanwhile (issue 19). nio keeps such a room in ``client.rooms``."""
        for room_id, info in resp.rooms.leave.items():
            own = [e for e in [*info.state, *info.timeline.events]
                   if isinstance(e, RoomMemberEvent) and e.state_key == self.client.user_id
                   and e.membership in ("leave", "ban")]
            at = _ts(own[-1].server_timestamp) if own else None
            if await self.db.run(self.app.record_leave, room_id, at):
                log.warning("removed from room; its messages wait until the bot is back",
                            extra={"room": room_id, "membership": own[-1].membership
                                   if own else None})

    async def on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == self.client.user_id:
            return
        self.own_work.started(room.room_id)
        what = said(event.source.get("content") or {})
        msg = Inbound(event_id=event.event_id, room_id=room.room_id, sender=event.sender,
                      text=what.text, sent_at=_ts(event.server_timestamp),
                      encrypted=bool(room.encrypted), replaces=what.replaces,
                      thread_root=what.thread_root,
                      redact_power=redact_power(room, self.client.user_id))
        await self.receive(msg)

    async def on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        if event.sender == self.client.user_id:
            return
        await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="reaction",
                                   sent_at=_ts(event.server_timestamp),
                                   relates_to=event.reacts_to, key=str(event.key)))

    async def on_redaction(self, room: MatrixRoom, event: RedactionEvent) -> None:
        if event.sender == self.client.user_id:
            return
        await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="redaction",
                                   sent_at=_ts(event.server_timestamp), redacts=event.redacts))

    async def on_unknown(self, room: MatrixRoom, event: UnknownEvent) -> None:
        if event.sender == self.client.user_id:
            return
        if event.type.startswith("m.key.verification."):
            await self.on_room_verification(room.room_id, event)
            return
        if event.type in POLL_END:
            # Valid only from the poll's creator (the bot: its own events are not read) or
            # someone with the power to remove others' messages (MSC3381).
            level, need = redact_power(room, event.sender)
            if level < need:
                log.warning("poll end from someone without the power to; ignored",
                            extra={"room": room.room_id, "event_id": event.event_id})
                return
            relates, _ = poll_answer(event.source.get("content") or {})
            await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                       sender=event.sender, text="", kind="poll_end",
                                       sent_at=_ts(event.server_timestamp),
                                       relates_to=relates))
            return
        if event.type not in POLL_RESPONSE:
            return
        relates, answer = poll_answer(event.source.get("content") or {})
        await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="poll_response",
                                   sent_at=_ts(event.server_timestamp), relates_to=relates,
                                   key=answer))

    async def on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        log.warning("cannot decrypt event", extra={"room": room.room_id,
                                                   "event_id": event.event_id,
                                                   "session_id": event.session_id})
        with contextlib.suppress(Exception):
            await self.client.request_room_key(event)
        if event.sender != self.client.user_id:
            await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                       sender=event.sender, text="", kind="undecryptable",
                                       sent_at=_ts(event.server_timestamp)))

    # ---- loop ------------------------------------------------------------------------
    async def _sync_filter(self) -> str | dict[str, Any]:
        """``sync_filter`` uploaded once (``POST /user/{userId}/filter``): each /sync then
        names its ID instead of carrying the filter as JSON in its URL (measured: encoding
        it cost 35 us of every sync). If the upload fails, the filter goes with each sync."""
        wanted = sync_filter(self.client.user_id)
        try:
            resp = await self.client.upload_filter(room=wanted["room"],
                                                   presence=wanted["presence"])
        except (aiohttp.ClientError, TimeoutError) as e:
            resp = e
        if isinstance(resp, UploadFilterResponse):
            return str(resp.filter_id)
        log.warning("sync filter not uploaded; sent with each sync",
                    extra={"error": str(getattr(resp, "message", resp))})
        return wanted

    async def sync_loop(self) -> None:
        token = await self.db.run(self.app.sync_token, self._device_key())
        filter_id = await self._sync_filter()
        self._initial = token is None
        failures = 0
        first = True  # catch up at once after a start; long-poll from then on
        while True:
            resp: Any
            try:
                resp = await self.client.sync(timeout=0 if first else SYNC_TIMEOUT_MS,
                                              since=token, sync_filter=filter_id,
                                              full_state=self._initial or None)
            except (aiohttp.ClientError, TimeoutError) as e:
                resp = e  # the homeserver is unreachable: back off and try again
            if not isinstance(resp, SyncResponse):
                self.waker.hold()  # no reminder before what was said meanwhile is read
                failures += 1
                wait = min(15.0, 2.0 ** failures)
                log.warning("sync failed", extra={"retry_in_s": wait,
                                                  "error": str(getattr(resp, "message", resp))})
                await asyncio.sleep(wait)
                continue
            failures = 0
            first = False
            if self._initial:
                # First start ever: everything so far is history. Remember the rooms we
                # are in as joined now, so only what comes after is handled.
                now = datetime.now(UTC)
                for room_id in self.client.rooms:
                    await self.db.run(self.app.record_join, room_id, now)
                self._initial = False
            else:
                await self._left_rooms(resp)
                try:
                    await self._handle_timelines(resp, token)
                except GapUnavailable as e:
                    failures += 1
                    wait = min(15.0, 2.0 ** failures)
                    log.warning("could not read a gap in a room's timeline; syncing again "
                                "from the same point", extra={"room": e.room,
                                                              "retry_in_s": wait})
                    await asyncio.sleep(wait)
                    continue  # the same since token: the gap comes again, nothing is lost
            token = resp.next_batch
            await self._save_token(token)
            for room_id, joined in resp.rooms.join.items():
                if joined.timeline.limited and room_id in self.client.rooms:
                    # Members are loaded lazily: after a gap, someone may have joined
                    # unseen. Load them all again before the next room key is shared.
                    self.client.rooms[room_id].members_synced = False
            with contextlib.suppress(Exception):
                await self._key_upkeep()
            with contextlib.suppress(Exception):
                await self._verification_upkeep(at_start=not self.ready.is_set())
            self.waker.release()  # everything said until this sync is handled
            # The replies' PUTs before the next long-poll (a queue behind a reply, or a slow
            # homeserver, holds the sync up for at most SETTLE_SECONDS).
            await self.deliverer.settle(SETTLE_SECONDS)
            if not self.ready.is_set():
                await self._cross_sign()
                log.info("first sync done", extra={"rooms": len(self.client.rooms)})
            self.ready.set()

    async def _save_token(self, token: str, *, now: bool = False) -> None:
        """Save the sync token: the first at once, then at most every ``TOKEN_SAVE_EVERY``
        seconds, and the last one at stop. A write per sync response was a large share of
        the bot's CPU under load; a restart from a token a few seconds old gets those
        events again, and each was recorded as handled (it is not answered twice)."""
        loop = asyncio.get_running_loop()
        if now or self._token_saved_at is None or \
                loop.time() - self._token_saved_at >= TOKEN_SAVE_EVERY:
            await self.db.run(self.app.save_sync_token, self._device_key(), token)
            self._token_saved_at, self._unsaved_token = loop.time(), None
        else:
            self._unsaved_token = token

    async def _handle_timelines(self, resp: SyncResponse, since: str | None) -> None:
        """Every joined room's new events, handled in the room's order, after nio has
        decrypted them. A limited timeline's gap (more events than one sync returns, e.g.
        while the bot was down) is fetched first and handled before the events after it.
        The sync token is saved only afterwards, and the inbound dedupe makes any overlap
        harmless."""
        gaps: dict[str, list[list[Any]]] = {}
        for room_id, info in resp.rooms.join.items():  # every gap first: all or nothing
            timeline = info.timeline
            if since is not None and timeline.limited and timeline.prev_batch:
                gaps[room_id] = await self._gap(room_id, timeline.prev_batch, since)
        for room_id, info in resp.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            # The bot's own join comes in the state section (``sync_filter``), before
            # what was said in the room after it.
            for event in info.state:
                if isinstance(event, RoomMemberEvent) and event.state_key == room.own_user_id:
                    if event.membership == "join":
                        await self.on_member(room, event)
                    else:
                        await self._own_join_read(room_id)
            for event in in_timeline_order(gaps.get(room_id, []), info.timeline.events):
                await self._dispatch(room, event)

    async def _own_join_read(self, room_id: str) -> None:
        """The bot's join of a room it is in, read from the room's state on the homeserver:
        a newly joined room's state section can carry an older membership of the bot's (its
        invite) instead of its join. Synapse unites the state at the timeline's start and
        at its end; with more than a timeline's events between invite and join both are
        there under one key, and which one is sent is chance (found by a breaking try-out:
        an overleg then never moved into its upgraded room). Raises ``GapUnavailable``
        when the state cannot be read: the sync is read again from the same point."""
        state = await self.client.room_get_state(room_id)
        if not isinstance(state, RoomGetStateResponse):
            raise GapUnavailable(room_id)
        for e in state.events:
            at = e.get("origin_server_ts")
            if e.get("type") == "m.room.member" and e.get("state_key") == self.client.user_id \
                    and (e.get("content") or {}).get("membership") == "join" \
                    and isinstance(at, int):
                await self._joined(room_id, _ts(at))

    async def _gap(self, room_id: str, start: str, since: str) -> list[list[Any]]:
        """The events between the previous sync (``since``) and a limited timeline's
        ``prev_batch``: ``/messages`` pages, newest first, at most 10,000 events."""
        pages: list[list[Any]] = []
        for _ in range(100):
            page: Any = None
            for attempt in range(4):  # a 429 or 5xx: try again before giving up the sync
                try:
                    page = await self.client.room_messages(
                        room_id, start=start, end=since, direction=MessageDirection.back,
                        limit=100)
                except (aiohttp.ClientError, TimeoutError) as e:
                    page = e
                if isinstance(page, RoomMessagesResponse):
                    break
                await asyncio.sleep(0.5 * 2 ** attempt)
            if not isinstance(page, RoomMessagesResponse):
                raise GapUnavailable(room_id)
            if not page.chunk:
                break
            pages.append(list(page.chunk))
            if not page.end or page.end == start:
                break
            start = page.end
        log.info("handling events from a gap in the timeline",
                 extra={"room": room_id, "events": sum(len(p) for p in pages)})
        return pages

    async def on_membership(self, room: MatrixRoom, event: RoomMemberEvent) -> None:
        """Someone else joined, left, was kicked or banned: the core decides whether that
        is a member of the overleg (who then is, or is no longer, addressed)."""
        if event.state_key == self.client.user_id or event.membership not in ("join", "leave",
                                                                               "ban"):
            return
        if event.membership == "join" and (event.prev_membership or "") == "join":
            return  # a display name or avatar change
        await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="membership",
                                   sent_at=_ts(event.server_timestamp),
                                   relates_to=event.state_key, key=event.membership))

    async def on_tombstone(self, room: MatrixRoom, event: RoomUpgradeEvent) -> None:
        """The room was upgraded (``m.room.tombstone``): acted on only if the room's state
        (read from the homeserver: creators, power levels) lets its sender send it. The
        core remembers the replacement; the bot joins it (if invited or allowed to), and
        the overleg moves there when its join is seen (``App.record_join``); a room it
        cannot join yet waits for an invite."""
        if event.sender == self.client.user_id:
            return
        state = await self.client.room_get_state(room.room_id)
        if not isinstance(state, RoomGetStateResponse):
            log.warning("could not read the room's state; tombstone not acted on",
                        extra={"room": room.room_id, "event_id": event.event_id})
            return
        if not may_tombstone(state.events, event.sender):
            log.warning("tombstone from someone without the power to send it; ignored",
                        extra={"room": room.room_id, "event_id": event.event_id})
            return
        new_room = event.replacement_room
        await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="tombstone",
                                   sent_at=_ts(event.server_timestamp), relates_to=new_room))
        if await self.db.run(self.app.awaits_room, new_room):
            resp = await self.client.join(new_room)
            if isinstance(resp, JoinError):
                log.warning("cannot join the replacement room yet; waiting for an invite",
                            extra={"room": room.room_id, "new_room": new_room,
                                   "error": resp.message})
                for target in await self.db.run(self.app.cannot_join_replacement,
                                                room.room_id):
                    self.deliverer.poke(target)

    async def _dispatch(self, room: MatrixRoom, event: Any) -> None:
        if isinstance(event, RoomUpgradeEvent):
            await self.on_tombstone(room, event)
        elif isinstance(event, RoomMemberEvent):
            await self.on_membership(room, event)
        elif isinstance(event, RoomMessageText):
            await self.on_text(room, event)
        elif isinstance(event, ReactionEvent):
            await self.on_reaction(room, event)
        elif isinstance(event, RedactionEvent):
            await self.on_redaction(room, event)
        elif isinstance(event, UnknownEvent):
            await self.on_unknown(room, event)
        elif isinstance(event, RoomMessageUnknown):
            await self.on_room_verification(room.room_id, event)
        elif isinstance(event, MegolmEvent):
            await self.on_undecryptable(room, event)
        elif isinstance(event, PowerLevelsEvent):
            await self.on_power_levels(room, event)

    async def on_power_levels(self, room: MatrixRoom, event: PowerLevelsEvent) -> None:
        """The room's power levels changed so that the bot may no longer remove others'
        messages (it could before, by the event's ``prev_content``): the core tells the
        chairs at once, not at the first message it fails to remove (issue 23)."""
        content = event.source.get("content") or {}
        before = (event.source.get("unsigned") or {}).get("prev_content")
        have, need = redact_power_in(content, self.client.user_id)
        if have >= need:
            return
        if isinstance(before, dict):
            had, needed = redact_power_in(before, self.client.user_id)
            if had < needed:  # it could not before either: nothing changed for it
                return
        await self.receive(Inbound(event_id=event.event_id, room_id=room.room_id,
                                   sender=event.sender, text="", kind="power_levels",
                                   sent_at=_ts(event.server_timestamp),
                                   redact_power=(have, need)))

    async def start(self) -> None:
        self.waker.hold()  # until the first sync's events (and any gap) are handled
        await self.login()
        self._verification_hooks()
        self.client.add_event_callback(self.on_invite, InviteMemberEvent)
        self.client.add_event_callback(self.on_member, RoomMemberEvent)
        # Timeline events are not nio callbacks: ``_handle_timelines`` takes them after
        # each sync, in the room's order, a gap's events first.
        await self._start_background(("sync", self.sync_loop()))

    async def stop(self) -> None:
        await self._stop_background()
        if self._unsaved_token is not None:
            with contextlib.suppress(Exception):  # (a stop must not fail on it)
                await self._save_token(self._unsaved_token, now=True)
        await self.client.close()
