"""Poll responses as Element and the Matrix spec send them (MSC3381, Chat Polls): only a
user's latest response by its own timestamp counts, a spoiled latest response means no poll
answer, a redacted response is as if it was never sent. Built from wire JSON, through the
same reading of the event as the Matrix transport, then the command core."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from nio import Event, UnknownEvent
from sqlmodel import Session

from bot.matrix.events import POLL_RESPONSE, _ts, poll_answer
from bot.render import Renderer
from commands.inbound import Inbound, handle
from commands.registry import Registry
from storage import agendas
from tests.unit.conftest import NOW, SETTINGS, Say
from tests.unit.test_agenda import JZ, JZ2, deliver, meet, outbox_rows  # noqa: F401

DM = "!dm:localhost"
T0 = int(NOW.timestamp() * 1000)
LATER = NOW + timedelta(hours=1)  # when the bot handles them (after a gap in the sync)


def element_vote(poll_id: str, answers: list[Any]) -> dict[str, Any]:
    """Element Web's vote: the unstable event type and content."""
    return {"type": "org.matrix.msc3381.poll.response",
            "content": {"m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
                        "org.matrix.msc3381.poll.response": {"answers": answers}}}


def stable_vote(poll_id: str, answers: list[Any]) -> dict[str, Any]:
    """The stable form of the Matrix spec (v1.7 on): ``m.selections``."""
    return {"type": "m.poll.response",
            "content": {"m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
                        "m.selections": answers}}


FORMS = [element_vote, stable_vote]
SPOILS: list[list[Any]] = [[], ["maybe"], ["maybe", "yes"], [7]]
"""An empty selection, an unknown ID, an unknown ID first (one selection counts), no string."""


class Votes:
    def __init__(self, session: Session, registry: Registry, renderer: Renderer,
                 poll_id: str) -> None:
        self.session, self.registry, self.renderer = session, registry, renderer
        self.poll_id = poll_id
        self.n = 0

    def send(self, wire: dict[str, Any], *, sender: str = JZ, at_ms: int = 0,
             event_id: str | None = None) -> list[str]:
        """Deliver one response event as the homeserver syncs it; the reply templates."""
        self.n += 1
        raw = {**wire, "sender": sender, "event_id": event_id or f"$vote{self.n}",
               "origin_server_ts": T0 + at_ms, "unsigned": {"age": 1}}
        event = Event.parse_event(raw)
        assert isinstance(event, UnknownEvent) and event.type in POLL_RESPONSE
        relates, answer = poll_answer(event.source["content"])
        msg = Inbound(event_id=event.event_id, room_id=DM, sender=event.sender, text="",
                      kind="poll_response", sent_at=_ts(event.server_timestamp),
                      relates_to=relates, key=answer, encrypted=True)
        return [r.template for r in handle(self.session, self.registry, self.renderer,
                                           SETTINGS, msg, LATER).replies]

    def redact(self, event_id: str, *, sender: str = JZ, at_ms: int = 0) -> list[str]:
        msg = Inbound(event_id=f"$redact{event_id}", room_id=DM, sender=sender, text="",
                      kind="redaction", sent_at=_ts(T0 + at_ms), redacts=event_id)
        return [r.template for r in handle(self.session, self.registry, self.renderer,
                                           SETTINGS, msg, LATER).replies]

    def jeugdzorg(self) -> bool | None:
        """Jeugdzorg's answer that counts for M1 (None: no answer)."""
        partner_id = next(m.partner_id for m in _members(self.session) if m.user_id == JZ)
        current = agendas.current_answers(self.session, 1).get(partner_id or 0)
        return None if current is None else current.attends


def _members(session: Session) -> list[Any]:
    from storage import overlegs
    return overlegs.members(session, 1)


@pytest.fixture
def votes(meet: Say, session: Session, registry: Registry,  # noqa: F811
          renderer: Renderer) -> Votes:
    meet.one(f"!agenda add M1 {meet.b}")  # type: ignore[attr-defined]
    meet("!agenda send M1")
    deliver(session)
    poll = next(r for r in outbox_rows(session) if r.room_id == JZ
                and r.event_type == "m.poll.start")
    assert poll.remote_id
    return Votes(session, registry, renderer, poll.remote_id)


@pytest.mark.parametrize("form", FORMS)
def test_a_vote_in_either_form_is_an_answer(votes: Votes, form: Any) -> None:
    assert votes.send(form(votes.poll_id, ["no"])) == ["agenda/confirmed"]
    assert votes.jeugdzorg() is False
    assert votes.send(form(votes.poll_id, ["yes", "no"])) == ["agenda/confirmed"]
    assert votes.jeugdzorg() is True  # one selection allowed: the first counts


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("spoil", SPOILS)
def test_a_spoiled_latest_response_means_no_answer(votes: Votes, form: Any,
                                                    spoil: list[Any]) -> None:
    votes.send(form(votes.poll_id, ["yes"]), at_ms=1000)
    assert votes.jeugdzorg() is True
    # Never silence: the voter is told the answer is gone, and that none stands now.
    assert votes.send(form(votes.poll_id, spoil), at_ms=2000) == ["agenda/withdrawn"]
    assert votes.jeugdzorg() is None
    assert votes.send(form(votes.poll_id, ["no"]), at_ms=3000) == ["agenda/confirmed"]
    assert votes.jeugdzorg() is False


def test_the_latest_response_by_its_own_timestamp_counts_not_the_last_to_arrive(
        votes: Votes) -> None:
    # A spoiled response at 10:00 arrives first, a "yes" sent at 09:00 arrives after it
    # (federation lag): the spoiled one is the latest, so there is no answer.
    votes.send(element_vote(votes.poll_id, []), at_ms=10 * 60_000)
    assert votes.send(element_vote(votes.poll_id, ["yes"]), at_ms=60_000) == []
    assert votes.jeugdzorg() is None
    # The same with two votes: the older "no" arriving late does not override the "yes".
    votes.send(element_vote(votes.poll_id, ["yes"]), at_ms=20 * 60_000)
    assert votes.send(element_vote(votes.poll_id, ["no"]), at_ms=15 * 60_000) == []
    assert votes.jeugdzorg() is True


def test_a_redacted_response_is_as_if_never_sent(votes: Votes) -> None:
    """MSC3381: a redacted vote is detached from the poll, so the user's vote *reverts* to
    its previous state (it is not spoiled)."""
    votes.send(element_vote(votes.poll_id, ["yes"]), event_id="$v1", at_ms=1000)
    votes.send(element_vote(votes.poll_id, ["no"]), event_id="$v2", at_ms=2000)
    assert votes.redact("$v2", at_ms=3000) == ["agenda/withdrawn"]
    assert votes.jeugdzorg() is True
    votes.send(element_vote(votes.poll_id, []), event_id="$v3", at_ms=4000)
    assert votes.jeugdzorg() is None
    assert votes.redact("$v3", at_ms=5000) == ["agenda/withdrawn"]  # the spoil is undone
    assert votes.jeugdzorg() is True
    assert votes.redact("$v1", at_ms=6000) == ["agenda/withdrawn"]
    assert votes.jeugdzorg() is None


def test_a_spoiled_vote_removes_only_its_senders_vote(votes: Votes) -> None:
    """Two people of Jeugdzorg: one's spoiled vote does not remove the other's answer."""
    votes.send(element_vote(votes.poll_id, ["no"]), sender=JZ2, at_ms=1000)
    votes.send(element_vote(votes.poll_id, ["yes"]), sender=JZ, at_ms=2000)
    votes.send(element_vote(votes.poll_id, ["maybe"]), sender=JZ, at_ms=3000)
    assert votes.jeugdzorg() is False


def poll_end(poll_id: str, *, stable: bool) -> dict[str, Any]:
    """A poll closed by a moderator: the stable form, or Element's unstable one."""
    if stable:
        return {"type": "m.poll.end", "content": {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
            "m.text": [{"body": "The poll has ended."}]}}
    return {"type": "org.matrix.msc3381.poll.end", "content": {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
        "org.matrix.msc3381.poll.end": {}, "org.matrix.msc1767.text": "The poll has ended."}}


@pytest.mark.parametrize("stable", [True, False])
def test_responses_sent_after_the_poll_was_closed_are_not_counted(votes: Votes,
                                                                  stable: bool) -> None:
    from bot.matrix.events import POLL_END

    votes.send(element_vote(votes.poll_id, ["yes"]), at_ms=1000)
    raw = {**poll_end(votes.poll_id, stable=stable), "sender": "@chair:localhost",
           "event_id": "$end", "origin_server_ts": T0 + 5000, "unsigned": {"age": 1}}
    event = Event.parse_event(raw)
    assert isinstance(event, UnknownEvent) and event.type in POLL_END
    relates, _ = poll_answer(event.source["content"])
    end = Inbound(event_id=event.event_id, room_id=DM, sender=event.sender, text="",
                  kind="poll_end", sent_at=_ts(event.server_timestamp), relates_to=relates)
    assert handle(votes.session, votes.registry, votes.renderer, SETTINGS, end,
                  LATER).replies == []
    # After the end: not counted, and the voter hears why (never silence).
    assert votes.send(element_vote(votes.poll_id, ["no"]), at_ms=6000) == [
        "agenda/poll_closed"]
    assert votes.send(element_vote(votes.poll_id, []), at_ms=7000) == ["agenda/poll_closed"]
    assert votes.jeugdzorg() is True
    # Sent before the end, arriving after it (federation lag): counted.
    assert votes.send(element_vote(votes.poll_id, ["no"]), at_ms=4000) == ["agenda/confirmed"]
    assert votes.jeugdzorg() is False
