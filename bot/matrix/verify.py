"""Verifying the bot from Element (issue 22): the to-device side of an administrator's
interactive verification (Matrix spec, "Key verification framework" and "SAS").

nio 0.26 has no ``m.key.verification.request``/``ready``/``done``, and its SAS class
(``nio.crypto.sas``) cannot serve Element: its commitment is hex where the spec says
unpadded base64, it names the MAC method ``hkdf-hmac-sha256`` but computes the v2 MAC,
offers no ``hkdf-hmac-sha256.v2``, MACs only the device key (so Element could never trust the
bot's master key) and cancels after one minute without an event. So nio's own handling of
verification events is switched off (``_verification_hooks``) and this module speaks the
protocol, with ``bot.matrix.sas`` for the cryptography (vodozemac, as nio uses).

The bot answers (never starts): request -> ready; start -> accept; key -> key, and the
emoji go to the administrator's direct room (``commands.verification.compare``). The
administrator's ``!verifieer ja`` (recorded in the database by whichever instance read it)
is acted on after each sync: the bot's MAC over its device key and its master
cross-signing key, the other side's MAC checked against the keys the homeserver lists for
them, then done. ``!verifieer nee``, a cancel from the other side, an error, 10 minutes, or a
restart (the ephemeral keys lived only in memory) end the flow as cancelled, on both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from nio import AsyncClient, ToDeviceEvent, ToDeviceMessage

from bot.app import App
from bot.dbcalls import DatabaseCalls
from bot.deliver import Deliverer
from bot.matrix.events import _ts
from bot.matrix.keys import MembershipUnknown, load_members
from bot.matrix.sas import METHOD, Cancel, Sas
from commands.verification import ELEMENT_TIMEOUT, from_the_future, too_old

log = logging.getLogger(__name__)
PREFIX = "m.key.verification."
DECLINED = "Only the bot's administrators can verify it."
IDLE_CHECK_SECONDS = 60.0
"""With no flow held, how often the upkeep after a sync looks for flows to end."""
NOT_DIRECT = "Verify the bot from its direct room with you, or from its profile."


@dataclass
class Flow:
    """One flow this device takes part in (in memory only: its keys must not outlive it)."""

    flow_id: str
    user: str
    device: str
    room: str | None = None  # an in-room flow's direct room (None: to-device)
    sas: Sas | None = None
    their_mac: dict[str, Any] | None = None
    mac_sent: bool = False
    verified: list[str] | None = None


class Verifying:
    """The transport's part that answers verification requests."""

    app: App
    db: DatabaseCalls
    client: AsyncClient
    deliverer: Deliverer
    _flows: dict[str, Flow]
    _upkept_at: float  # the event loop's time of the last look at the database

    def _verification_hooks(self) -> None:
        """Take verification events from nio (after login: the Olm machine exists)."""
        self._flows = {}
        self._upkept_at = float("-inf")
        olm = self.client.olm
        if olm is not None:
            olm.handle_key_verification = lambda event: None
            olm.clear_verifications = lambda: []
        self.client.add_to_device_callback(self.on_verification, (ToDeviceEvent,))

    async def _send(self, kind: str, flow: Flow, content: dict[str, Any]) -> None:
        """One step to the other side: to its device, or in the flow's room as an event
        that refers to the request (``m.reference``), encrypted as the room is."""
        if flow.room is None:
            message = ToDeviceMessage(PREFIX + kind, flow.user, flow.device,
                                      {**content, "transaction_id": flow.flow_id})
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self.client.to_device(message)
            return
        related = {**content, "m.relates_to": {"rel_type": "m.reference",
                                               "event_id": flow.flow_id}}
        try:
            await self._limit_key_sharing(flow.room)  # type: ignore[attr-defined]
            await self.client.room_send(flow.room, PREFIX + kind, related,
                                        ignore_unverified_devices=True)
        except Exception as e:  # the flow times out on both sides if a step is lost
            log.warning("verification step not sent", extra={"flow": flow.flow_id,
                                                              "error": type(e).__name__})

    async def _tell(self, rooms: list[str]) -> None:
        for room in rooms:
            self.deliverer.poke(room)

    async def _cancel(self, flow: Flow, code: str, reason: str, *,
                      record: str | None = None) -> None:
        """Cancel on both sides: the other device is sent ``code``; the row ends with
        ``record`` (default: ``code``) and the administrator is told if they saw emoji."""
        self._flows.pop(flow.flow_id, None)
        await self._send("cancel", flow, {"code": code, "reason": reason})
        await self._tell(await self.db.run(self.app.verification_end, flow.flow_id,
                                           record or code))
        log.info("verification cancelled", extra={"flow": flow.flow_id, "code": record or code})

    async def on_verification(self, event: ToDeviceEvent) -> None:
        """A to-device ``m.key.verification.*`` event (nio's callback; others are left
        alone): the flow is its ``transaction_id``; a request's ``timestamp`` (ms since the
        epoch, the sender's clock) more than 10 minutes old is ignored."""
        source = getattr(event, "source", None) or {}
        kind = str(source.get("type", ""))
        content = source.get("content")
        if not kind.startswith(PREFIX) or not isinstance(content, dict):
            return
        flow_id = content.get("transaction_id")
        if not isinstance(flow_id, str) or not flow_id:
            return
        stamp = content.get("timestamp")
        sent_at = _ts(stamp) if isinstance(stamp, int) else None
        await self._step(kind[len(PREFIX):], event.sender, flow_id, content, None, sent_at)

    async def on_room_verification(self, room_id: str, event: Any) -> None:
        """An in-room verification event (in a direct room): the request is an
        ``m.room.message`` with ``msgtype`` ``m.key.verification.request`` addressed to the
        bot (``to``); the flow's ID is its event ID, and every later step refers to it."""
        source = getattr(event, "source", None) or {}
        content = source.get("content")
        if event.sender == self.client.user_id or not isinstance(content, dict):
            return
        if source.get("type") == "m.room.message":
            if content.get("msgtype") != PREFIX + "request" \
                    or content.get("to") != self.client.user_id:
                return
            await self._step("request", event.sender, event.event_id, content, room_id,
                             _ts(event.server_timestamp))
            return
        relates = content.get("m.relates_to") or {}
        flow_id = relates.get("event_id") if isinstance(relates, dict) else None
        kind = str(source.get("type", ""))
        if kind.startswith(PREFIX) and isinstance(flow_id, str):
            await self._step(kind[len(PREFIX):], event.sender, flow_id, content, room_id, None)

    async def _step(self, step: str, sender: str, flow_id: str, content: dict[str, Any],
                    room: str | None, sent_at: datetime | None) -> None:
        try:
            await self._on_step(step, sender, flow_id, content, room, sent_at)
        except Exception:  # a bug must not stop the sync loop; the flow is cancelled
            log.exception("verification step failed", extra={"flow": flow_id})
            flow = self._flows.get(flow_id)
            if flow is not None:
                await self._cancel(flow, "m.unexpected_message", "internal error")

    async def _on_step(self, step: str, sender: str, flow_id: str, content: dict[str, Any],
                       room: str | None, sent_at: datetime | None) -> None:
        own = self.client.device_id
        flow = self._flows.get(flow_id)
        if step in ("request", "start") and flow is None:
            device = str(content.get("from_device") or "")
            new = Flow(flow_id, sender, device, room)
            if not device:
                return
            # (the sender's clock against the wall clock, as the spec means it)
            now = datetime.now(UTC)
            if sent_at is not None and too_old(sent_at, now):
                late = not from_the_future(sent_at, now)
                log.info("verification request too old; ignored" if late else
                         "verification request from the future (clock skew); ignored",
                         extra={"flow": flow_id, "user": sender})
                return
            if room is not None and not await self._direct_with(room, sender):
                # Started in a shared room (an overleg): its emoji would be shown to all.
                await self._send("cancel", new, {"code": "m.user", "reason": NOT_DIRECT})
                await self._tell(await self.db.run(self.app.verification_not_direct, sender))
                log.info("verification request outside a direct room declined",
                         extra={"flow": flow_id, "user": sender})
                return
            verdict = await self.db.run(self.app.verification_requested, flow_id, own, sender,
                                        device, room)
            if verdict == "decline":  # not an administrator: declined, nothing shown
                await self._send("cancel", new, {"code": "m.user", "reason": DECLINED})
                log.info("verification request declined: not a bot administrator",
                         extra={"flow": flow_id, "user": sender})
                return
            if verdict != "answer":
                return  # seen before (a sync read again), or sent too long ago
            flow = self._flows[flow_id] = new
            log.info("verification requested", extra={"flow": flow_id, "user": sender})
            await self._drop_ended()  # (this administrator's older flow, if this device
            await self._tell([room or sender])  # holds it; the direct room says so)
            if step == "request":
                if METHOD not in (content.get("methods") or []):
                    await self._cancel(flow, "m.unknown_method", "only m.sas.v1")
                    return
                await self._send("ready", flow, {"from_device": own, "methods": [METHOD]})
                if room is None:
                    await self._open_direct_room(sender)
                return
        if flow is None or sender != flow.user or room != flow.room:
            return  # not ours (another device answered it, or long gone)
        if step == "cancel":
            self._flows.pop(flow_id, None)
            code = str(content.get("code") or "m.user")
            # (Element's one-minute limit is not the bot's 10 minutes: told apart)
            await self._tell(await self.db.run(self.app.verification_end, flow_id,
                                               ELEMENT_TIMEOUT if code == "m.timeout"
                                               else code))
            log.info("verification cancelled by the other side",
                     extra={"flow": flow_id, "code": code})
            return
        try:
            await self._advance(step, flow, content)
        except Cancel as e:
            await self._cancel(flow, e.code, e.reason)

    async def _advance(self, step: str, flow: Flow, content: dict[str, Any]) -> None:
        own = (self.client.user_id, self.client.device_id)
        if step == "start":
            if flow.sas is not None:
                raise Cancel("m.unexpected_message", "a second start")
            flow.sas = Sas(own, (flow.user, flow.device), flow.flow_id, dict(content))
            await self._send("accept", flow, flow.sas.accept())
        elif step == "key":
            if flow.sas is None:
                raise Cancel("m.unexpected_message", "a key before the start")
            flow.sas.receive_key(str(content.get("key") or ""))
            await self._send("key", flow, {"key": flow.sas.public_key})
            indices, decimals = flow.sas.short_string()
            await self._tell(await self.db.run(self.app.verification_compare, flow.flow_id,
                                               indices, decimals, self._device_name(flow)))
        elif step == "mac":
            if flow.sas is None or flow.sas.their_key is None:
                raise Cancel("m.unexpected_message", "a MAC before the keys")
            flow.their_mac = content
            if flow.mac_sent:
                await self._check_their_mac(flow)
        elif step == "done":
            pass  # the bot ends its side when it has checked their MAC
        elif step not in ("ready", "request"):
            raise Cancel("m.unexpected_message", f"unexpected {step}")

    async def _direct_with(self, room_id: str, user_id: str) -> bool:
        """Whether ``room_id`` is a direct room of the bot and ``user_id`` alone: its full,
        current membership (loaded when the lazy-loading sync did not bring it) is the
        two of them, nobody else joined or invited."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return False
        if not room.members_synced:
            try:
                await load_members(self.client, room_id)
            except (MembershipUnknown, aiohttp.ClientError, TimeoutError):
                return False
            if not room.members_synced:
                return False
        return set(room.users) == {self.client.user_id, user_id}

    def _device_name(self, flow: Flow) -> str | None:
        """The display name of the other side's device, when the device store knows it."""
        store = getattr(self.client, "device_store", None)
        try:
            device = store[flow.user].get(flow.device) if store is not None else None
        except KeyError:
            return None
        name = getattr(device, "display_name", None)
        return str(name)[:60] if name else None

    async def _open_direct_room(self, user_id: str) -> None:
        """Open the administrator's direct room now, so they can join it while Element
        and the bot agree on keys (the emoji are sent there)."""
        with contextlib.suppress(Exception):
            await self._direct_room(user_id)  # type: ignore[attr-defined]

    async def _verification_upkeep(self, *, at_start: bool = False) -> None:
        """After each sync: act on the administrators' answers, cancel flows past 10
        minutes; at start, cancel every flow this device had open (its keys are gone).

        With no flow held here, the database is asked at most every ``IDLE_CHECK_SECONDS``
        (for a row left open without a flow in memory): two transactions after every sync
        were a fifth of the bot's CPU under load (docs/PERFORMANCE.md)."""
        own = self.client.device_id
        now = asyncio.get_running_loop().time()
        if not at_start and not self._flows \
                and now - self._upkept_at < IDLE_CHECK_SECONDS:
            return
        self._upkept_at = now
        await self._drop_ended()
        for flow_id, user, device, room in await self.db.run(self.app.verification_stale,
                                                             own, at_start):
            if at_start and flow_id in self._flows:
                continue  # requested in the first sync after the start: a live flow
            flow = self._flows.get(flow_id) or Flow(flow_id, user, device, room)
            if at_start:
                await self._cancel(flow, "m.user", "the bot restarted", record="restart")
            else:
                await self._cancel(flow, "m.timeout", "not completed within 10 minutes")
        if not self._flows:
            return  # (an answer concerns a flow held here)
        for flow_id, state in await self.db.run(self.app.verification_decided, own):
            held = self._flows.get(flow_id)
            if held is None:
                continue
            if state == "rejected":
                await self._cancel(held, "m.mismatched_sas", "the emoji did not match")
            elif not held.mac_sent and held.sas is not None:
                try:
                    await self._send_mac(held)  # (and checks theirs, if it came first)
                except Cancel as e:
                    await self._cancel(held, e.code, e.reason)
                except Exception:
                    log.exception("verification step failed", extra={"flow": flow_id})
                    await self._cancel(held, "m.unexpected_message", "internal error")

    async def _drop_ended(self) -> None:
        """Cancel towards the other side the flows held here whose row ended meanwhile
        (superseded by the same administrator's newer request, read by any instance)."""
        if not self._flows:
            return
        for flow_id in await self.db.run(self.app.verification_ended, list(self._flows)):
            flow = self._flows.pop(flow_id, None)
            if flow is not None:
                await self._send("cancel", flow, {"code": "m.user",
                                                  "reason": "superseded by a newer request"})
                log.info("verification superseded", extra={"flow": flow_id})

    async def _send_mac(self, flow: Flow) -> None:
        assert flow.sas is not None and self.client.olm is not None
        device = self.client.device_id
        keys = {f"ed25519:{device}": self.client.olm.account.identity_keys["ed25519"]}
        master = await self.db.run(self.app.master_key)
        if master:
            keys[f"ed25519:{master}"] = master
        await self._send("mac", flow, flow.sas.mac_content(keys))
        flow.mac_sent = True
        if flow.their_mac is not None:
            await self._check_their_mac(flow)

    async def _their_keys(self, user: str) -> tuple[dict[str, str], dict[str, Any] | None]:
        """The keys the homeserver lists for ``user``: key ID -> public key (their devices'
        ed25519 keys and their master key), and their master key's object."""
        # (nio's keys_query keeps no master keys: asked directly)
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http, \
                http.post(f"{self.app.config.homeserver}/_matrix/client/v3/keys/query",
                          json={"device_keys": {user: []}}) as r:
            if r.status != 200:
                raise Cancel("m.key_mismatch", f"their keys could not be read ({r.status})")
            found = await r.json()
        known: dict[str, str] = {}
        for device_id, device in (found.get("device_keys", {}).get(user) or {}).items():
            key = (device.get("keys") or {}).get(f"ed25519:{device_id}")
            if key:
                known[f"ed25519:{device_id}"] = key
        master = (found.get("master_keys") or {}).get(user)
        if master:
            for key_id, key in (master.get("keys") or {}).items():
                known[key_id] = key
        return known, master

    async def _check_their_mac(self, flow: Flow) -> None:
        assert flow.sas is not None and flow.their_mac is not None
        known, master = await self._their_keys(flow.user)
        flow.verified = flow.sas.check_mac(flow.their_mac, known)
        await self._send("done", flow, {})
        self._flows.pop(flow.flow_id, None)
        # Without a master key of theirs, their session trusts this device of the bot only.
        await self._tell(await self.db.run(self.app.verification_end, flow.flow_id, None,
                                           not master))
        log.info("verified by an administrator", extra={"flow": flow.flow_id,
                                                        "user": flow.user})
        master_ids = {f"ed25519:{k}" for k in ((master or {}).get("keys") or {}).values()}
        if self.app.config.sign_verified_admins and master and master_ids & set(flow.verified):
            await self._sign_admin(flow.user, master)

    async def _sign_admin(self, user: str, master: dict[str, Any]) -> None:
        from bot.crosssign import CrossSigningError, sign_user

        config = self.app.config
        try:
            await sign_user(config.homeserver, self.client.user_id, self.client.access_token,
                            self.app.engine, (config.ref_key, *config.previous_ref_keys),
                            user, master)
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as e:
            log.warning("could not sign the administrator's master key",
                        extra={"user": user, "error": str(e)[:200]})

