"""Verifying the bot from Element (issue 22): the SAS protocol's pieces (bot/matrix/sas.py),
checked against the spec's definitions computed independently (X25519, HKDF and HMAC of
the ``cryptography`` package), and the rules of an administrator's flow
(commands/verification.py) on the fake clock."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session, select

from bot.matrix import sas
from bot.render import Renderer
from commands import verification
from storage.models import KeyVerification, OutboxMessage
from tests.unit.conftest import ADMIN, CHAIR, NOW, SETTINGS, Say

BOT, EL = ("@casusbot:localhost", "BOTDEVICE"), ("@admin:localhost", "ELEMENTDEV")
START = {"from_device": EL[1], "method": "m.sas.v1", "transaction_id": "T1",
         "key_agreement_protocols": ["curve25519-hkdf-sha256", "curve25519"],
         "hashes": ["sha256"], "short_authentication_string": ["decimal", "emoji"],
         "message_authentication_codes": ["hkdf-hmac-sha256.v2", "hkdf-hmac-sha256"]}


def _unpadded(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _hkdf(secret: bytes, info: str, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                info=info.encode()).derive(secret)


def _mac_v2(secret: bytes, text: str, info: str) -> str:
    """hkdf-hmac-sha256.v2 as the spec's "MAC calculation" defines it."""
    return _unpadded(hmac.new(_hkdf(secret, info, 32), text.encode(), hashlib.sha256).digest())


class _Element:
    """The other side, written from the spec with ``cryptography`` (not vodozemac)."""

    def __init__(self) -> None:
        self.private = X25519PrivateKey.generate()
        self.public = _unpadded(self.private.public_key().public_bytes_raw())

    def secret(self, bot_key: str) -> bytes:
        raw = base64.b64decode(bot_key + "=" * (-len(bot_key) % 4))
        return self.private.exchange(X25519PublicKey.from_public_bytes(raw))


def _exchange() -> tuple[sas.Sas, _Element, bytes]:
    flow = sas.Sas(BOT, EL, "T1", dict(START))
    flow.accept()
    element = _Element()
    flow.receive_key(element.public)
    return flow, element, element.secret(flow.public_key)


def test_the_info_strings_are_the_specs() -> None:
    assert sas.sas_info("@a:x", "DA", "KA", "@b:x", "DB", "KB", "T") == \
        "MATRIX_KEY_VERIFICATION_SAS|@a:x|DA|KA|@b:x|DB|KB|T"
    assert sas.mac_info("@a:x", "DA", "@b:x", "DB", "T", "ed25519:DA") == \
        "MATRIX_KEY_VERIFICATION_MAC@a:xDA@b:xDBTed25519:DA"


def emoji_indices(sas_bytes: bytes) -> list[int]:
    """The seven emoji numbers (0-63): the first 42 bits of six SAS bytes in 6-bit groups
    (the spec's layout, written independently of vodozemac's ``Sas.short_string``)."""
    bits = int.from_bytes(sas_bytes[:6], "big")
    return [(bits >> (42 - 6 * i)) & 0x3F for i in range(7)]


def decimals(sas_bytes: bytes) -> list[int]:
    """The three numbers (1000-9191): 13-bit groups of the first five SAS bytes, plus 1000."""
    b = sas_bytes
    return [(b[0] << 5 | b[1] >> 3) + 1000,
            ((b[1] & 0x7) << 10 | b[2] << 2 | b[3] >> 6) + 1000,
            ((b[3] & 0x3F) << 7 | b[4] >> 1) + 1000]


def test_emoji_and_decimals_follow_the_specs_bit_layout() -> None:
    assert emoji_indices(b"\xff" * 6) == [63] * 7
    assert emoji_indices(bytes([0b00000100, 0b00010000, 0, 0, 0, 0])) == [1, 1, 0, 0, 0,
                                                                              0, 0]
    assert decimals(b"\xff" * 5) == [9191] * 3
    assert decimals(b"\x00" * 5) == [1000] * 3


def test_both_sides_see_the_same_emoji_and_numbers() -> None:
    flow, element, secret = _exchange()
    info = sas.sas_info(*EL, element.public, *BOT, flow.public_key, "T1")
    expected = _hkdf(secret, info, 6)
    assert flow.short_string() == (emoji_indices(expected), decimals(expected))


def test_the_commitment_is_unpadded_base64_of_sha256_over_key_and_canonical_start() -> None:
    flow = sas.Sas(BOT, EL, "T1", {"b": 1, "a": "é"})
    canonical = '{"a":"é","b":1}'.encode()
    assert sas.commitment(flow.public_key, flow.start) == _unpadded(
        hashlib.sha256(flow.public_key.encode() + canonical).digest())


def test_the_bots_mac_covers_its_device_and_master_key_with_the_v2_method() -> None:
    flow, _, secret = _exchange()
    keys = {"ed25519:BOTDEVICE": "devicekey", "ed25519:masterkey": "masterkey"}
    content = flow.mac_content(keys)
    info = sas.mac_info(*BOT, *EL, "T1", "")
    assert content["mac"] == {k: _mac_v2(secret, v, info + k) for k, v in keys.items()}
    assert content["keys"] == _mac_v2(secret, "ed25519:BOTDEVICE,ed25519:masterkey",
                                      info + "KEY_IDS")


def _their_mac(secret: bytes, keys: dict[str, str]) -> dict[str, object]:
    info = sas.mac_info(*EL, *BOT, "T1", "")
    return {"mac": {k: _mac_v2(secret, v, info + k) for k, v in keys.items()},
            "keys": _mac_v2(secret, ",".join(sorted(keys)), info + "KEY_IDS")}


def test_their_mac_is_checked_against_the_keys_the_homeserver_lists() -> None:
    flow, _, secret = _exchange()
    keys = {"ed25519:ELEMENTDEV": "devkey", "ed25519:theirmaster": "theirmaster"}
    known = {**keys, "ed25519:OTHERDEVICE": "other"}
    assert sorted(flow.check_mac(_their_mac(secret, keys), known)) == sorted(keys)
    # A key the homeserver lists otherwise (a swapped key): refused.
    with pytest.raises(sas.Cancel) as e:
        flow.check_mac(_their_mac(secret, keys), {**known, "ed25519:theirmaster": "fake"})
    assert e.value.code == "m.key_mismatch"
    # A key added to the MAC without the list's MAC covering it: refused.
    tampered = _their_mac(secret, keys)
    tampered["mac"] = {**tampered["mac"], "ed25519:OTHERDEVICE": "x"}  # type: ignore[dict-item]
    with pytest.raises(sas.Cancel):
        flow.check_mac(tampered, known)
    # Without their device key: nothing the bot can rely on.
    with pytest.raises(sas.Cancel):
        flow.check_mac(_their_mac(secret, {"ed25519:theirmaster": "theirmaster"}), known)


def test_the_v2_mac_is_chosen_and_an_offer_without_common_methods_is_cancelled() -> None:
    assert sas.choose(START) == "hkdf-hmac-sha256.v2"
    assert sas.choose({**START, "message_authentication_codes": ["hkdf-hmac-sha256"]}) == \
        "hkdf-hmac-sha256"
    for bad in ({"key_agreement_protocols": ["curve25519"]}, {"hashes": ["sha512"]},
                {"message_authentication_codes": ["hmac-sha256"]},
                {"short_authentication_string": ["qr"]}, {"method": "m.reciprocate.v1"}):
        with pytest.raises(sas.Cancel) as e:
            sas.choose({**START, **bad})
        assert e.value.code == "m.unknown_method"


# ---- the rules of a flow ------------------------------------------------------------------
def _told(session: Session) -> list[tuple[str, str]]:
    return [(m.room_id, m.template) for m in session.exec(
        select(OutboxMessage).order_by(OutboxMessage.id))]  # type: ignore[arg-type]


def _delivered(session: Session) -> None:
    """Every queued message reached the homeserver (the deliverer's work)."""
    for row in session.exec(select(OutboxMessage).where(
            OutboxMessage.sent_at == None)):  # noqa: E711
        row.sent_at = NOW
        session.add(row)


def test_only_an_administrator_is_answered(session: Session, renderer: Renderer) -> None:
    assert verification.requested(session, SETTINGS, renderer, "T0", "BOT",
                                  "@stranger:localhost", "DEV", NOW) == "decline"
    assert session.exec(select(KeyVerification)).all() == []
    assert verification.requested(session, SETTINGS, renderer, "T1", "BOT", ADMIN, "DEV",
                                  NOW) == "answer"
    # The same request again (a sync read again after a restart): neither answered nor
    # declined.
    assert verification.requested(session, SETTINGS, renderer, "T1", "BOT", ADMIN, "DEV",
                                  NOW) == "known"
    assert verification.too_old(NOW - timedelta(minutes=11), NOW)
    assert verification.too_old(NOW + timedelta(minutes=6), NOW)
    assert not verification.too_old(NOW - timedelta(minutes=9), NOW)


def test_an_administrator_compares_confirms_and_is_told_it_is_done(
        session: Session, say: Say, renderer: Renderer) -> None:
    assert say.key("!verifieer ja", sender=ADMIN) == "verification/none_waiting"
    verification.requested(session, SETTINGS, renderer, "T1", "BOT", ADMIN, "DEV", NOW)
    [shown] = verification.compare(session, renderer, "T1", [0, 1, 2, 3, 4, 5, 63],
                                   [1000, 2000, 3000], NOW)
    assert (shown.room_id, shown.template) == (ADMIN, "verification/compare")
    assert "🐶" in shown.body and "📌" in shown.body
    assert say.key("!verifieer ja", sender="@chair:elsewhere") == "error/admin_only"
    assert say.key("!verifieer ja", sender=ADMIN) == "verification/not_shown"  # queued
    assert verification.decided(session, "BOT") == []
    _delivered(session)
    assert say.key("!verifieer ja", sender=ADMIN) == "verification/confirmed"
    assert verification.decided(session, "BOT") == [("T1", "confirmed")]
    assert verification.decided(session, "OTHERBOT") == []
    verification.end(session, renderer, "T1", None, NOW)
    assert _told(session)[-1] == (ADMIN, "verification/done")
    assert session.get(KeyVerification, "T1").state == "done"  # type: ignore[union-attr]
    assert verification.end(session, renderer, "T1", "m.user", NOW) == []  # ended stays
    assert say.key("!verify yes", sender=ADMIN) == "verification/none_waiting"


def test_a_no_is_recorded_and_a_cancel_before_the_emoji_is_not_told(
        session: Session, say: Say, renderer: Renderer) -> None:
    verification.requested(session, SETTINGS, renderer, "T1", "BOT", ADMIN, "DEV", NOW,
                           "!dm:localhost")
    [shown] = verification.compare(session, renderer, "T1", [0] * 7, [1000] * 3, NOW)
    assert shown.room_id == "!dm:localhost"  # an in-room flow: shown in its room
    _delivered(session)
    assert say.key("!verify no", sender=ADMIN) == "verification/rejected"
    assert verification.decided(session, "BOT") == [("T1", "rejected")]
    verification.end(session, renderer, "T1", "m.mismatched_sas", NOW)
    assert _told(session)[-1] == ("!dm:localhost", "verification/cancelled")
    verification.requested(session, SETTINGS, renderer, "T2", "BOT", ADMIN, "DEV", NOW)
    before = len(_told(session))
    assert verification.end(session, renderer, "T2", "m.user", NOW) == []
    assert len(_told(session)) == before
    assert session.get(KeyVerification, "T2").reason == "m.user"  # type: ignore[union-attr]


def test_flows_time_out_after_ten_minutes_and_all_open_ones_end_at_a_restart(
        session: Session, renderer: Renderer) -> None:
    verification.requested(session, SETTINGS, renderer, "old", "BOT", ADMIN, "DEV", NOW)
    verification.requested(session, SETTINGS, renderer, "new", "BOT", CHAIR, "DEV",
                           NOW + timedelta(minutes=5))
    three = dataclasses.replace(SETTINGS, admins=SETTINGS.admins | {"@third:localhost"})
    verification.requested(session, three, renderer, "elsewhere", "BOT2", "@third:localhost",
                           "DEV", NOW)
    later = NOW + timedelta(minutes=10, seconds=1)
    assert [r.flow_id for r in verification.expired(session, "BOT", later)] == ["old"]
    assert verification.expired(session, "BOT", NOW + timedelta(minutes=9)) == []
    verification.end(session, renderer, "old", "m.timeout", later)
    assert [r.flow_id for r in verification.abandoned(session, "BOT")] == ["new"]


def test_an_answer_after_the_time_limit_finds_nothing_waiting(session: Session, say: Say,
                                                               renderer: Renderer) -> None:
    verification.requested(session, SETTINGS, renderer, "T1", "GONE", ADMIN, "DEV", NOW)
    verification.compare(session, renderer, "T1", [0] * 7, [1000] * 3, NOW)
    late = NOW + timedelta(minutes=10, seconds=1)
    assert say.key("!verifieer ja", sender=ADMIN, now=late) == "verification/none_waiting"
    assert session.get(KeyVerification, "T1").state == "compare"  # type: ignore[union-attr]
