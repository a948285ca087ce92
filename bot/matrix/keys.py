"""End-to-end encryption upkeep of the Matrix transport: who gets a room's keys (only devices
of the overleg's members; the session is rotated when one that had it is left out), the
device's keys uploaded, queried and claimed after each sync, and the device cross-signed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from nio import AsyncClient, JoinedMembersResponse, ToDeviceMessage

from bot.app import App
from bot.dbcalls import DatabaseCalls

log = logging.getLogger(__name__)


WITHHELD_REASON = "Only members of the overleg may read the bot's messages."
CROSS_SIGN_RETRY = 300.0  # seconds between attempts to sign the device after one failed


class MembershipUnknown(Exception):
    """The room's members could not be loaded: no key is shared until they are."""


async def load_members(client: AsyncClient, room_id: str) -> None:
    """Load ``room_id``'s full, current membership into nio's room (the sync loads members
    lazily: after a restart a room lists only those who spoke since). Raises
    ``MembershipUnknown`` when the homeserver does not answer with it; aiohttp's and
    asyncio's errors pass through."""
    loaded = await client.joined_members(room_id)
    if not isinstance(loaded, JoinedMembersResponse):
        raise MembershipUnknown(f"room members: {getattr(loaded, 'status_code', '')}")


class KeySharing:
    """The transport's part that decides which devices may read what it sends.

    A room's keys go only to devices of the overleg's members, decided per room in one
    place: nio's share of a new room key (``Olm.share_group_session_parallel``) is given
    only the users allowed for that room at that moment (``_allowed``), whatever else the
    client knows of the room. Rooms are decided apart, so a person who is a member of one
    overleg and sits in another's room gets the keys of the first only, even when both send
    at once (a device-wide blacklist, flipped per room, could not promise that).
    """

    app: App
    db: DatabaseCalls
    client: AsyncClient
    store: Path
    _allowed: dict[str, frozenset[str]]
    _tasks: list[asyncio.Task[None]]

    def _filter_shares(self) -> None:
        """Route nio's room-key share through ``_allowed`` (once per Olm machine)."""
        olm = self.client.olm
        if olm is None or getattr(olm, "_casusbot_share_filter", False):
            return
        share = olm.share_group_session_parallel

        def members_only(room_id: str, users: list[str],
                         ignore_unverified_devices: bool = False) -> Iterator[Any]:
            allowed = self._allowed.get(room_id)
            if allowed is None:
                yield from share(room_id, users,
                                 ignore_unverified_devices=ignore_unverified_devices)
                return
            yield from share(room_id, [u for u in users if u in allowed],
                             ignore_unverified_devices=ignore_unverified_devices)
            # The others' devices are left out on purpose: nio counts the session as shared
            # once every device in the room has it or is ignored.
            session = olm.outbound_group_sessions.get(room_id)
            if session is not None:
                session.users_ignored.update(
                    (u, d.id) for u in users if u not in allowed
                    for d in self.client.device_store.active_user_devices(u))

        olm.share_group_session_parallel = members_only
        olm._casusbot_share_filter = True

    async def _limit_key_sharing(self, room_id: str) -> str | None:
        """Decide who may get this room's next key: devices of the overleg's members, from
        the room's full, current membership (loaded when the sync did not bring it all, as
        after a restart: the sync loads members lazily) and the roster read now. Drops the
        current session when a device that has it may no longer read. Returns the current
        session's ID (to see afterwards whether a new one was shared), or None."""
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted or self.client.olm is None:
            return None
        self._filter_shares()
        if not room.members_synced:
            await load_members(self.client, room_id)
        allowed = await self.db.run(self.app.key_recipients, room_id)
        if allowed is None:
            self._allowed.pop(room_id, None)
            return None
        self._allowed[room_id] = frozenset(allowed)
        if self.client.should_query_keys:
            # Know every device before deciding, or a device learnt of later during the
            # key share would get the keys unchecked.
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self.client.keys_query()
        session = self.client.olm.outbound_group_sessions.get(room_id)
        shared = set(getattr(session, "users_shared_with", set())) if session else set()
        if any(user not in allowed for user, _ in shared):
            self.client.olm.outbound_group_sessions.pop(room_id, None)
            log.info("room key rotated to leave out a non-member", extra={"room": room_id})
            session = None
        own = self.client.device_id
        for user in allowed:
            for device in self.client.device_store.active_user_devices(user):
                if device.blacklisted:  # blacklisted by an earlier version: a member again
                    self.client.unblacklist_device(device)
                if session is not None and device.id != own and user in room.users \
                        and (user, device.id) not in session.users_shared_with:
                    # A new member (or a member's new device): share the current session
                    # with it at the next send (nio shares with those that lack it).
                    session.users_ignored.discard((user, device.id))
                    session.shared = False
        return session.id if session else None

    async def _withhold(self, room_id: str, before: str | None) -> None:
        """After a new room key was shared, tell the devices left out that it was withheld
        on purpose (``m.room_key.withheld``, code ``m.unauthorised``; Matrix spec, "Reporting
        that decryption keys are withheld"): their clients show why they cannot read, not a
        generic "unable to decrypt"."""
        olm, room = self.client.olm, self.client.rooms.get(room_id)
        allowed = self._allowed.get(room_id)
        session = olm.outbound_group_sessions.get(room_id) if olm else None
        if olm is None or room is None or allowed is None or session is None \
                or session.id == before:
            return
        content = {"algorithm": "m.megolm.v1.aes-sha2", "room_id": room_id,
                   "session_id": session.id, "code": "m.unauthorised",
                   "reason": WITHHELD_REASON,
                   "sender_key": olm.account.identity_keys["curve25519"]}
        for user in room.users:
            if user in allowed or user == self.client.user_id:
                continue
            for device in self.client.device_store.active_user_devices(user):
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    await self.client.to_device(
                        ToDeviceMessage("m.room_key.withheld", user, device.id, content))


    async def _key_upkeep(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()

    async def _cross_sign(self) -> None:
        """Sign this device with the account's one cross-signing identity (``bot.crosssign``:
        made by the first instance, never replaced here). A homeserver that is slow or
        fails never holds up the start: the bot goes on, and tries again every
        ``CROSS_SIGN_RETRY`` seconds in the background until it has worked."""
        if not await self._try_cross_sign():
            self._tasks.append(asyncio.create_task(self._cross_sign_later(),
                                                   name="cross-sign"))

    async def _cross_sign_later(self) -> None:
        while not await self._try_cross_sign():
            await asyncio.sleep(CROSS_SIGN_RETRY)

    async def _try_cross_sign(self) -> bool:
        """One attempt; True when done (or when it can never work without an
        administrator: then it was logged as an error once)."""
        from bot.crosssign import CrossSigningError, IdentityUnusable, ensure

        config = self.app.config
        olm = self.client.olm
        own = dict(olm.account.identity_keys) if olm is not None else None
        try:
            await ensure(config.homeserver, self.client.user_id, self.client.device_id,
                         self.client.access_token, self.store, config.password,
                         self.app.engine, (config.ref_key, *config.previous_ref_keys),
                         self.app.clock.now(), own_keys=own)
        except IdentityUnusable as e:
            log.error("cross-signing identity not usable, device left unsigned",
                      extra={"error": str(e)[:400]})
            return True
        except (CrossSigningError, aiohttp.ClientError, TimeoutError, ValueError) as e:
            log.warning("cross-signing not set up, trying again later",
                        extra={"error": str(e)[:200] or type(e).__name__,
                               "retry_in_s": CROSS_SIGN_RETRY})
            return False
        return True
