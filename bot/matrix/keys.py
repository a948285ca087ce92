"""End-to-end encryption upkeep of the Matrix transport: who gets a room's keys (only devices
of the overleg's members; the session is rotated when one that had it is left out), the
device's keys uploaded, queried and claimed after each sync, and the device cross-signed."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import aiohttp
from nio import AsyncClient

from bot.app import App
from bot.dbcalls import DatabaseCalls

log = logging.getLogger(__name__)


class KeySharing:
    """The transport's part that decides which devices may read what it sends."""

    app: App
    db: DatabaseCalls
    client: AsyncClient
    store: Path

    async def _limit_key_sharing(self, room_id: str) -> None:
        """Share this room's keys only with devices of the overleg's members.

        Anyone else in the room (someone invited by mistake, a former member) cannot read
        what the bot sends. When a device that already had the current session is excluded,
        the session is dropped so the next message starts a new one without it.
        """
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted or self.client.olm is None:
            return
        allowed = await self.db.run(self.app.key_recipients, room_id)
        if allowed is None:
            return
        if self.client.should_query_keys:
            # Know every device before deciding, or a device learnt of later during the
            # key share would get the keys unchecked.
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self.client.keys_query()
        session = self.client.olm.outbound_group_sessions.get(room_id)
        shared = set(getattr(session, "users_shared_with", set())) if session else set()
        rotate = False
        for user in list(room.users):
            if user == self.client.user_id:
                continue
            for device in self.client.device_store.active_user_devices(user):
                if user in allowed and device.blacklisted:
                    self.client.unblacklist_device(device)
                elif user not in allowed and not device.blacklisted:
                    self.client.blacklist_device(device)
                    rotate = rotate or (user, device.id) in shared
        if rotate:
            self.client.olm.outbound_group_sessions.pop(room_id, None)
            log.info("room key rotated to leave out a non-member", extra={"room": room_id})

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
        made by the first instance, never replaced here)."""
        from bot.crosssign import CrossSigningError, IdentityUnusable, ensure

        config = self.app.config
        try:
            await ensure(config.homeserver, self.client.user_id, self.client.device_id,
                         self.client.access_token, self.store, config.password,
                         self.app.engine, (config.ref_key, *config.previous_ref_keys),
                         self.app.clock.now())
        except IdentityUnusable as e:
            log.error("cross-signing identity not usable, device left unsigned",
                      extra={"error": str(e)[:400]})
        except (CrossSigningError, aiohttp.ClientError, ValueError) as e:
            log.warning("cross-signing not set up", extra={"error": str(e)[:200]})
