"""The Matrix side of an administrator's verification (bot/matrix/verify.py, issue 22), with
the homeserver left out: what the bot sends for each step Element sends, and how a flow ends
when the administrator says no, Element cancels, 10 minutes pass or the bot restarts. The
other side is written from the spec (tests/unit/test_verification.py's X25519/HKDF/HMAC)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import select

from bot.app import App, offline_app
from bot.clock import FakeClock
from bot.matrix import sas
from bot.matrix.verify import Verifying
from commands.inbound import Inbound
from storage.db import session_scope
from storage.models import KeyVerification, OutboxMessage
from tests.unit.conftest import NOW
from tests.unit.test_verification import START, _Element, _mac_v2

ADMIN, STRANGER, BOT = "@admin:localhost", "@stranger:localhost", "@casusbot:localhost"


class _Client:
    user_id, device_id, access_token = BOT, "BOTDEVICE", "token"

    def __init__(self) -> None:
        self.olm = SimpleNamespace(account=SimpleNamespace(
            identity_keys={"ed25519": "botdevicekey", "curve25519": "x"}))
        self.sent: list[tuple[str, str, dict[str, Any]]] = []  # (type, device, content)
        self.rooms: dict[str, Any] = {}

    async def to_device(self, message: Any) -> None:
        self.sent.append((message.type, message.recipient_device, message.content))

    def add_to_device_callback(self, *_: Any) -> None:
        pass


class _Calls:
    async def run(self, fn: Any, *args: Any) -> Any:
        return fn(*args)


class _Bot(Verifying):
    """The transport's verification part on a fake client; the other side's keys are
    ``their_keys`` (what the homeserver would list)."""

    def __init__(self, app: App, their_keys: dict[str, str]) -> None:
        self.app, self.db, self.client = app, _Calls(), _Client()  # type: ignore[assignment]
        self.poked: list[str] = []
        self.deliverer = SimpleNamespace(poke=self.poked.append)  # type: ignore[assignment]
        self.known = their_keys
        self._verification_hooks()

    async def _their_keys(self, user: str) -> tuple[dict[str, str], dict[str, Any] | None]:
        master = {"keys": {k: v for k, v in self.known.items() if "master" in k}}
        return self.known, master if master["keys"] else None

    async def _direct_room(self, user_id: str) -> str:
        return "!dm:localhost"

    def kinds(self) -> list[str]:
        return [t.removeprefix("m.key.verification.") for t, _, _ in self.client.sent]

    def last(self, kind: str) -> dict[str, Any]:
        return [c for t, _, c in self.client.sent if t == "m.key.verification." + kind][-1]

    async def hear(self, kind: str, content: dict[str, Any], sender: str = ADMIN) -> None:
        await self.on_verification(SimpleNamespace(  # type: ignore[arg-type]
            sender=sender, source={"type": "m.key.verification." + kind,
                                   "content": {"transaction_id": "T1", **content}}))


@pytest.fixture
def app(tmp_path: Path) -> App:
    return offline_app(f"sqlite:///{tmp_path / 'casusbot.db'}", FakeClock(NOW),
                       CASUSBOT_ADMINS=ADMIN)


def _rows(app: App) -> dict[str, tuple[str, str | None]]:
    with session_scope(app.engine) as session:
        return {r.flow_id: (r.state, r.reason) for r in session.exec(select(KeyVerification))}


def _told(app: App) -> list[str]:
    with session_scope(app.engine) as session:
        return [m.template for m in session.exec(
            select(OutboxMessage).order_by(OutboxMessage.id))]  # type: ignore[arg-type]


def _delivered(app: App) -> None:
    """Every queued message reached the homeserver (the deliverer's work, left out here)."""
    with session_scope(app.engine) as session:
        for row in session.exec(select(OutboxMessage).where(
                OutboxMessage.sent_at == None)):  # noqa: E711
            row.sent_at, row.remote_id = app.clock.now(), f"$sent{row.id}"
            session.add(row)


_answers = itertools.count(1000)


def _answer(app: App, text: str, n: int | None = None, *, shown: bool = True) -> list[str]:
    """The administrator's answer in their direct room with the bot (after the emoji
    reached them, unless not ``shown``); the templates of the replies."""
    if shown:
        _delivered(app)
    app.record_join("!dm:localhost", NOW - timedelta(hours=1))
    n = next(_answers) if n is None else n
    return [r.template for r in app.handle(Inbound(
        f"$answer{n}", "!dm:localhost", ADMIN, text, app.clock.now(), encrypted=True)).replies]


async def _to_the_emoji(bot: _Bot) -> tuple[_Element, bytes]:
    """Element's request, start and key, as Rust's crypto sends them."""
    await bot.hear("request", {"from_device": "ELEMENTDEV", "methods": ["m.sas.v1"]})
    await bot.hear("start", {k: v for k, v in START.items() if k != "transaction_id"})
    element = _Element()
    await bot.hear("key", {"key": element.public})
    return element, element.secret(bot.last("key")["key"])


def _element_mac(secret: bytes, keys: dict[str, str]) -> dict[str, Any]:
    info = sas.mac_info(ADMIN, "ELEMENTDEV", BOT, "BOTDEVICE", "T1", "")
    return {"mac": {k: _mac_v2(secret, v, info + k) for k, v in keys.items()},
            "keys": _mac_v2(secret, ",".join(sorted(keys)), info + "KEY_IDS")}


async def test_a_confirmed_flow_ends_with_the_bots_mac_over_device_and_master_key(
        app: App) -> None:
    keys = {"ed25519:ELEMENTDEV": "elementdevkey", "ed25519:adminmaster": "adminmaster"}
    bot = _Bot(app, keys)
    _, secret = await _to_the_emoji(bot)
    assert bot.kinds() == ["ready", "accept", "key"]
    accept = bot.last("accept")
    assert accept["message_authentication_code"] == "hkdf-hmac-sha256.v2"
    start = {**{k: v for k, v in START.items() if k != "transaction_id"},
             "transaction_id": "T1"}
    assert accept["commitment"] == sas.commitment(bot.last("key")["key"], start)
    assert _rows(app) == {"T1": ("compare", None)} and _told(app) == ["verification/compare"]
    assert set(bot.poked) == {ADMIN}
    # Element's MAC may come before the administrator's answer: nothing is sent for it.
    await bot.hear("mac", _element_mac(secret, keys))
    await bot._verification_upkeep()
    assert bot.kinds() == ["ready", "accept", "key"]
    _answer(app, "!verifieer ja")
    await bot._verification_upkeep()
    assert bot.kinds() == ["ready", "accept", "key", "mac", "done"]
    mac = bot.last("mac")
    master = app.master_key()
    assert master is None  # (no identity made in this test: the MAC covers the device)
    info = sas.mac_info(BOT, "BOTDEVICE", ADMIN, "ELEMENTDEV", "T1", "")
    assert mac["mac"] == {"ed25519:BOTDEVICE": _mac_v2(secret, "botdevicekey",
                                                       info + "ed25519:BOTDEVICE")}
    assert _rows(app) == {"T1": ("done", None)}
    assert _told(app)[-1] == "verification/done"


async def test_the_mac_includes_the_master_key_when_the_bot_has_one(app: App) -> None:
    from storage import crosssigning

    crosssigning.claim(app.engine, BOT, "botmasterkey", "sealed", NOW)
    bot = _Bot(app, {"ed25519:ELEMENTDEV": "elementdevkey"})
    _, secret = await _to_the_emoji(bot)
    _answer(app, "!verify yes")
    await bot._verification_upkeep()
    info = sas.mac_info(BOT, "BOTDEVICE", ADMIN, "ELEMENTDEV", "T1", "")
    mac = bot.last("mac")
    assert set(mac["mac"]) == {"ed25519:BOTDEVICE", "ed25519:botmasterkey"}
    assert mac["mac"]["ed25519:botmasterkey"] == _mac_v2(secret, "botmasterkey",
                                                          info + "ed25519:botmasterkey")
    assert mac["keys"] == _mac_v2(secret, "ed25519:BOTDEVICE,ed25519:botmasterkey",
                                  info + "KEY_IDS")


async def test_a_wrong_mac_cancels_with_key_mismatch(app: App) -> None:
    bot = _Bot(app, {"ed25519:ELEMENTDEV": "the key the homeserver lists"})
    _, secret = await _to_the_emoji(bot)
    _answer(app, "!verifieer ja")
    await bot._verification_upkeep()
    await bot.hear("mac", _element_mac(secret, {"ed25519:ELEMENTDEV": "another key"}))
    assert bot.kinds()[-1] == "cancel" and bot.last("cancel")["code"] == "m.key_mismatch"
    assert _rows(app) == {"T1": ("cancelled", "m.key_mismatch")}
    assert _told(app)[-1] == "verification/cancelled"


async def test_a_stranger_is_declined_and_nothing_is_kept_or_shown(app: App) -> None:
    bot = _Bot(app, {})
    await bot.hear("request", {"from_device": "DEV", "methods": ["m.sas.v1"]}, sender=STRANGER)
    assert bot.kinds() == ["cancel"] and bot.last("cancel")["code"] == "m.user"
    await bot.hear("start", {k: v for k, v in START.items() if k != "transaction_id"},
                   sender=STRANGER)
    assert bot.kinds() == ["cancel", "cancel"]  # a start without a request: the same
    assert _rows(app) == {} and _told(app) == []


async def test_a_no_cancels_with_mismatched_sas(app: App) -> None:
    bot = _Bot(app, {})
    await _to_the_emoji(bot)
    _answer(app, "!verifieer nee")
    await bot._verification_upkeep()
    assert bot.kinds()[-1] == "cancel" and bot.last("cancel")["code"] == "m.mismatched_sas"
    assert _rows(app) == {"T1": ("cancelled", "m.mismatched_sas")}


async def test_elements_cancel_ends_the_flow_and_later_steps_are_ignored(app: App) -> None:
    bot = _Bot(app, {})
    _, secret = await _to_the_emoji(bot)
    await bot.hear("cancel", {"code": "m.user", "reason": "cancelled in Element"})
    assert _rows(app) == {"T1": ("cancelled", "m.user")}
    assert _told(app) == ["verification/compare", "verification/cancelled"]
    _answer(app, "!verifieer ja")  # too late: nothing waits
    await bot.hear("mac", _element_mac(secret, {"ed25519:ELEMENTDEV": "k"}))
    await bot._verification_upkeep()
    assert bot.kinds() == ["ready", "accept", "key"]


async def test_ten_minutes_without_an_end_cancel_it_on_both_sides(app: App) -> None:
    bot = _Bot(app, {})
    await _to_the_emoji(bot)
    app.clock.advance(timedelta(minutes=9))  # type: ignore[attr-defined]
    await bot._verification_upkeep()
    assert bot.kinds() == ["ready", "accept", "key"]
    app.clock.advance(timedelta(minutes=1, seconds=1))  # type: ignore[attr-defined]
    await bot._verification_upkeep()
    assert bot.kinds()[-1] == "cancel" and bot.last("cancel")["code"] == "m.timeout"
    assert _rows(app) == {"T1": ("cancelled", "m.timeout")}
    assert _told(app)[-1] == "verification/cancelled"


async def test_a_restart_mid_flow_cancels_it_on_both_sides(app: App) -> None:
    before = _Bot(app, {})
    await _to_the_emoji(before)
    _answer(app, "!verifieer ja")  # answered while the bot was going down
    after = _Bot(app, {})  # the same device after a restart: its keys are gone
    await after._verification_upkeep(at_start=True)
    assert after.kinds() == ["cancel"]
    [(_, device, content)] = after.client.sent
    assert (device, content["transaction_id"], content["code"]) == ("ELEMENTDEV", "T1",
                                                                   "m.user")
    assert _rows(app) == {"T1": ("cancelled", "restart")}
    assert _told(app)[-1] == "verification/cancelled"
    # The request read again from the sync after the restart: neither answered nor declined.
    await after.hear("request", {"from_device": "ELEMENTDEV", "methods": ["m.sas.v1"]})
    assert after.kinds() == ["cancel"]


async def test_steps_out_of_order_cancel_with_unexpected_message(app: App) -> None:
    bot = _Bot(app, {})
    await bot.hear("request", {"from_device": "ELEMENTDEV", "methods": ["m.sas.v1"]})
    await bot.hear("key", {"key": _Element().public})
    assert bot.kinds() == ["ready", "cancel"]
    assert bot.last("cancel")["code"] == "m.unexpected_message"
    assert _rows(app) == {"T1": ("cancelled", "m.unexpected_message")}


async def test_a_wrong_mac_that_came_before_the_answer_cancels_at_the_answer(app: App) -> None:
    bot = _Bot(app, {"ed25519:ELEMENTDEV": "the key the homeserver lists"})
    _, secret = await _to_the_emoji(bot)
    await bot.hear("mac", _element_mac(secret, {"ed25519:ELEMENTDEV": "another key"}))
    _answer(app, "!verifieer ja")
    await bot._verification_upkeep()
    assert bot.kinds()[-1] == "cancel" and bot.last("cancel")["code"] == "m.key_mismatch"
    assert _rows(app) == {"T1": ("cancelled", "m.key_mismatch")}


async def test_a_request_in_the_first_sync_after_a_restart_is_answered_not_cancelled(
        app: App) -> None:
    bot = _Bot(app, {})
    await bot.hear("request", {"from_device": "ELEMENTDEV", "methods": ["m.sas.v1"]})
    await bot._verification_upkeep(at_start=True)  # (after the first sync's to-device)
    assert bot.kinds() == ["ready"]
    assert _rows(app) == {"T1": ("ready", None)}


async def _emoji_for(bot: _Bot, flow: str, device: str) -> None:
    await bot.hear("request", {"transaction_id": flow, "from_device": device,
                               "methods": ["m.sas.v1"]})
    await bot.hear("start", {**{k: v for k, v in START.items() if k != "transaction_id"},
                             "transaction_id": flow, "from_device": device})
    await bot.hear("key", {"transaction_id": flow, "key": _Element().public})


async def test_a_newer_request_of_the_same_administrator_cancels_the_older_one(
        app: App) -> None:
    """Two devices of one administrator: the answer can only be for the emoji of the
    device that asked last; the older flow is cancelled towards its device and the
    administrator is told (issue 22)."""
    bot = _Bot(app, {})
    await _emoji_for(bot, "TA", "DEVA")
    await _emoji_for(bot, "TB", "DEVB")
    assert _rows(app)["TA"] == ("cancelled", "superseded")
    assert _rows(app)["TB"] == ("compare", None)
    cancels = [(device, c["transaction_id"], c["code"]) for t, device, c in bot.client.sent
               if t.endswith(".cancel")]
    assert cancels == [("DEVA", "TA", "m.user")]
    assert "verification/superseded" in _told(app)
    # The emoji of TA had been shown: a bare "ja" (perhaps typed for those) confirms
    # nothing, nor one naming TA's session; naming the session shown last does.
    assert _answer(app, "!verifieer ja") == ["verification/name_session"]
    assert _answer(app, "!verifieer ja DEVA") == ["verification/other_session"]
    assert _rows(app)["TB"] == ("compare", None)
    assert _answer(app, "!verifieer ja DEVB") == ["verification/confirmed"]
    await bot._verification_upkeep()
    assert _rows(app)["TB"][0] == "confirmed" and _rows(app)["TA"][0] == "cancelled"
    macs = [device for t, device, _ in bot.client.sent if t.endswith(".mac")]
    assert macs == ["DEVB"]


async def test_a_newer_request_read_by_another_instance_cancels_the_older_flow(
        app: App) -> None:
    first, second = _Bot(app, {}), _Bot(app, {})
    second.client.device_id = "BOTDEVICE2"
    await _emoji_for(first, "TA", "DEVA")
    await _emoji_for(second, "TB", "DEVB")
    await first._verification_upkeep()
    assert [(d, c["transaction_id"]) for t, d, c in first.client.sent
            if t.endswith(".cancel")] == [("DEVA", "TA")]
    assert _rows(app) == {"TA": ("cancelled", "superseded"), "TB": ("compare", None)}


async def test_elements_one_minute_timeout_is_told_as_elements_not_the_bots(app: App) -> None:
    """Element's crypto cancels a comparison after a minute without a step (m.timeout):
    the administrator hears that Element gave up for want of an answer within a minute,
    not the bot's 10-minute expiry (issue 22)."""
    bot = _Bot(app, {})
    await _to_the_emoji(bot)
    app.clock.advance(timedelta(seconds=61))  # type: ignore[attr-defined]
    await bot.hear("cancel", {"code": "m.timeout", "reason": "timed out"})
    assert _rows(app)["T1"][0] == "cancelled"
    assert _told(app) == ["verification/compare", "verification/element_timeout"]
    assert bot.kinds() == ["ready", "accept", "key"]  # nothing sent back for their cancel


async def test_an_answer_before_the_emoji_reached_the_administrator_is_refused(
        app: App) -> None:
    """The emoji message still queued (not delivered): '!verifieer ja' cannot be about it,
    so nothing is recorded; once delivered, the answer counts (issue 22)."""
    bot = _Bot(app, {})
    await _to_the_emoji(bot)
    _answer(app, "!verifieer ja", shown=False)
    assert _rows(app) == {"T1": ("compare", None)}
    assert _told(app)[-1] == "verification/not_shown"
    _answer(app, "!verifieer ja", n=1)
    assert _rows(app) == {"T1": ("confirmed", None)}


def _room(room_id: str, *users: str) -> Any:
    from nio import MatrixRoom

    room = MatrixRoom(room_id, BOT)
    for user in users:
        room.add_member(user, None, None)
    room.members_synced = True
    return room


async def _in_room_request(bot: _Bot, room_id: str, event_id: str) -> None:
    import time

    sent: list[tuple[str, str, dict[str, Any]]] = []

    async def room_send(room: str, kind: str, content: dict[str, Any], **_: Any) -> None:
        sent.append((room, kind, content))

    async def no_limit(room: str) -> None:
        return None

    bot.client.room_send = room_send  # type: ignore[attr-defined]
    bot._limit_key_sharing = no_limit  # type: ignore[attr-defined]
    bot.room_sent = sent  # type: ignore[attr-defined]
    await bot.on_room_verification(room_id, SimpleNamespace(
        sender=ADMIN, event_id=event_id, server_timestamp=int(time.time() * 1000),
        source={"type": "m.room.message", "content": {
            "msgtype": "m.key.verification.request", "to": BOT,
            "from_device": "ELEMENTDEV", "methods": ["m.sas.v1"], "body": "verify"}}))


async def test_an_in_room_request_in_a_shared_room_is_declined_and_the_admin_told(
        app: App) -> None:
    """A request in the overleg room would show the emoji to every member: declined
    there (m.user), and the administrator is told in their direct room (issue 22)."""
    bot = _Bot(app, {})
    bot.client.rooms = {
        "!overleg:localhost": _room("!overleg:localhost", BOT, ADMIN, STRANGER),
        "!dm:localhost": _room("!dm:localhost", BOT, ADMIN)}
    await _in_room_request(bot, "!overleg:localhost", "$req1")
    sent = bot.room_sent  # type: ignore[attr-defined]
    assert [(r, k, c.get("code")) for r, k, c in sent] == [
        ("!overleg:localhost", "m.key.verification.cancel", "m.user")]
    assert _rows(app) == {}
    with session_scope(app.engine) as session:
        assert [(m.room_id, m.template) for m in session.exec(select(OutboxMessage))] == [
            (ADMIN, "verification/not_direct")]
    await _in_room_request(bot, "!dm:localhost", "$req2")
    assert [(r, k) for r, k, _ in bot.room_sent][-1:] == [  # type: ignore[attr-defined]
        ("!dm:localhost", "m.key.verification.ready")]
    assert _rows(app) == {"$req2": ("ready", None)}


async def test_an_administrator_without_cross_signing_is_told_only_this_device_is_trusted(
        app: App) -> None:
    """No master key of theirs: only the session that verified trusts this bot device,
    and the done message says so rather than 'Element shows it as trusted' (issue 22)."""
    keys = {"ed25519:ELEMENTDEV": "elementdevkey"}
    bot = _Bot(app, keys)
    _, secret = await _to_the_emoji(bot)
    await bot.hear("mac", _element_mac(secret, keys))
    _answer(app, "!verifieer ja")
    await bot._verification_upkeep()
    assert _rows(app) == {"T1": ("done", None)}
    assert _told(app)[-1] == "verification/done_device_only"


async def test_a_second_yes_while_element_has_not_confirmed_says_it_waits_for_element(
        app: App) -> None:
    bot = _Bot(app, {})
    await _to_the_emoji(bot)
    _answer(app, "!verifieer ja")
    _answer(app, "!verifieer ja", n=1)
    assert _told(app)[-2:] == ["verification/confirmed", "verification/waiting_for_element"]
    assert _rows(app) == {"T1": ("confirmed", None)}


async def test_a_request_dated_ahead_is_logged_as_clock_skew_naming_the_sender(
        app: App, caplog: pytest.LogCaptureFixture) -> None:
    import time

    bot = _Bot(app, {})
    ahead = int(time.time() * 1000) + 3_600_000
    with caplog.at_level("INFO", logger="bot.matrix.verify"):
        await bot.hear("request", {"from_device": "ELEMENTDEV", "methods": ["m.sas.v1"],
                                   "timestamp": ahead})
        await bot.hear("request", {"transaction_id": "T2", "from_device": "DEV",
                                   "methods": ["m.sas.v1"]}, sender=STRANGER)
    [skew, declined] = caplog.records
    assert "clock skew" in skew.getMessage() and skew.user == ADMIN  # type: ignore[attr-defined]
    assert declined.user == STRANGER  # type: ignore[attr-defined]
    assert _rows(app) == {} and bot.kinds() == ["cancel"]


async def test_a_flood_of_requests_leaves_one_open_flow_and_no_flood_of_notices(
        app: App) -> None:
    bot = _Bot(app, {})
    for n in range(40):
        await bot.hear("request", {"transaction_id": f"T{n}", "from_device": "ELEMENTDEV",
                                   "methods": ["m.sas.v1"]})
    rows = _rows(app)
    assert [f for f, (state, _) in rows.items() if state == "ready"] == ["T39"]
    assert {reason for f, (_, reason) in rows.items() if f != "T39"} == {"superseded"}
    assert _told(app) == []
