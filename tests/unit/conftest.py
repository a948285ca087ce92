"""Unit-test fixtures: a fresh in-memory database per test and the fake clock ``now``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from bot.render import Renderer
from commands import default_registry, timed
from commands.inbound import Inbound, handle
from commands.registry import Outgoing, Registry, Settings
from storage.db import create_schema, make_engine, session_scope
from storage.outbox import Rendered

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Amsterdam
ROOM = "!overleg:localhost"
ADMIN = "@admin:localhost"
CHAIR = "@chair:localhost"
SETTINGS = Settings(prefix="!", admins=frozenset({ADMIN, CHAIR}), ref_key=b"k" * 32)
_ids = itertools.count()


REGISTRY = default_registry()


def sweep(session: Session, render: Renderer, now: datetime) -> datetime | None:
    """One sweep with every timer rule, as the bot runs it; when the next timer is due."""
    return timed.sweep(REGISTRY, session, render, now).next_due


@pytest.fixture
def session() -> Iterator[Session]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    with session_scope(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture(scope="session")
def registry() -> Registry:
    return REGISTRY


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer()


class Say:
    """Send one line as ``sender`` and get the rendered replies (the h11 ``receive_and_get``).

    Rule tests assert what happened: the template key of each reply (``key``/``keys``), the
    values the command gave it (``out``), rows and IDs; ``one`` (the text) is for IDs and
    for the few tests that are about wording (tests/unit/test_templates.py).
    """

    def __init__(self, session: Session, registry: Registry, renderer: Renderer) -> None:
        self.session, self.registry, self.renderer = session, registry, renderer
        self.encrypted = True  # case rooms are encrypted; a test may say otherwise
        self.redact_power: tuple[int, int] | None = None  # the bot's level, the one needed
        self.sent: list[Outgoing] = []  # what the last call rendered, template and values

    def _render(self, out: Outgoing, room: str) -> Rendered | None:
        rendered = self.renderer(out, room)
        self.sent.append(out)
        return rendered

    def __call__(self, text: str, sender: str = CHAIR, now: datetime = NOW,
                 room: str = ROOM) -> list[Rendered]:
        msg = Inbound(event_id=f"$e{next(_ids)}", room_id=room, sender=sender, text=text,
                      sent_at=now, encrypted=self.encrypted, redact_power=self.redact_power)
        self.sent = []
        return handle(self.session, self.registry, self._render, SETTINGS, msg, now).replies

    def one(self, text: str, sender: str = CHAIR, now: datetime = NOW, room: str = ROOM) -> str:
        """The text of the single reply."""
        return self.reply(text, sender, now, room).body

    def reply(self, text: str, sender: str = CHAIR, now: datetime = NOW,
              room: str = ROOM) -> Rendered:
        """The single reply (its ``template`` is the key, its ``body`` the text); the copy in
        the direct messages of a sender who is no member (an administrator) left aside."""
        [out] = _without_copies(self(text, sender, now, room), sender)
        return out

    def key(self, text: str, sender: str = CHAIR, now: datetime = NOW, room: str = ROOM) -> str:
        """The template key of the single reply, e.g. ``"meeting/planned"``."""
        return self.reply(text, sender, now, room).template

    def keys(self, text: str, sender: str = CHAIR, now: datetime = NOW,
             room: str = ROOM) -> list[str]:
        """The template keys of all replies, in order (without the direct-message copies to
        a sender who is no member)."""
        return [r.template for r in _without_copies(self(text, sender, now, room), sender)]

    def sent_after(self, text: str, sender: str = CHAIR, now: datetime = NOW,
                   room: str = ROOM) -> list[Outgoing]:
        """Every reply as the command gave it (template key and values), in order."""
        self(text, sender, now, room)
        return list(self.sent)

    def out(self, text: str, sender: str = CHAIR, now: datetime = NOW,
            room: str = ROOM) -> Outgoing:
        """The single reply as the command gave it: template key and values."""
        self.reply(text, sender, now, room)
        [out] = [o for o in self.sent if o.room != sender] or self.sent
        return out


def keys(replies: list[Rendered]) -> list[str]:
    """The template keys of ``replies``."""
    return [r.template for r in replies]


@pytest.fixture
def say(session: Session, registry: Registry, renderer: Renderer) -> Say:
    return Say(session, registry, renderer)


@pytest.fixture
def overleg(say: Say) -> Say:
    """An overleg with partners Politie (core), Gemeente (core) and Jeugdzorg (external)."""
    say.one("!setup Casusoverleg Test")
    say.one("!annex add Jeugdzorg door burgemeester Teststad", sender=ADMIN)
    say.one("!partner add Politie core")
    say.one("!partner add Gemeente core")
    say.one("!partner add Jeugdzorg")
    return say


def _without_copies(replies: list[Rendered], sender: str) -> list[Rendered]:
    """``replies`` without the copies sent to the direct messages of a sender who is no
    member (``commands.inbound._readable_by_sender``) of a reply also in the room."""
    return [r for r in replies if r.room_id != sender or not any(
        o.template == r.template and o.room_id != sender for o in replies)]
