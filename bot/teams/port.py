"""The Teams port: what casusbot needs from a Teams SDK, in plain values (no SDK imports).

The Microsoft 365 Agents SDK lives behind this in ``bot.teams.agents``; another SDK (the
Teams SDK, say) can replace it by implementing ``Port`` and calling the same handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web


@dataclass(frozen=True)
class Mention:
    """An @mention in an activity: the person's Teams ID and the text Teams showed."""

    user_id: str
    name: str
    text: str  # e.g. "<at>Name</at>", as it appears in the activity's text


@dataclass(frozen=True)
class TeamsActivity:
    """One inbound activity, reduced to what the bot uses.

    ``kind``: ``message`` (text), ``edit`` (a message edited: the same activity ID, the new
    text), ``submit`` (an Action.Submit button: a message with a value), ``execute`` (an
    Action.Execute invoke, answered in the HTTP response), ``added`` (the bot was added to a
    conversation) or ``removed`` (people removed from it: ``data`` holds (user ID, "leave")
    pairs).
    """

    kind: str
    activity_id: str
    conversation_id: str  # without a channel thread's ";messageid=…" suffix
    personal: bool  # a one-to-one chat with the bot
    sender: str  # the Teams user ID, "29:…"
    bot_id: str
    reference: dict[str, Any]  # the SDK's conversation reference JSON, names removed
    text: str = ""
    mentions: tuple[Mention, ...] = ()
    sender_name: str = ""  # kept in memory only, for mention labels; never stored
    verb: str = ""
    data: tuple[tuple[str, str], ...] = ()
    reply_to: str | None = None
    at: datetime | None = None
    thread: str | None = None  # in a channel: the root message ID of the thread it is in


@dataclass(frozen=True)
class Outbound:
    """A message to post: Teams HTML text, or an Adaptive Card with a text fallback."""

    text: str | None = None
    card: dict[str, Any] | None = None
    summary: str = ""
    mentions: tuple[Mention, ...] = field(default=())
    reply_to: str | None = None  # the activity this answers (a reply, not a new message)
    thread: str | None = None  # in a channel: the thread (its root message ID) to post in


class SendFailed(Exception):
    """The Bot Connector refused a send; ``status`` is its HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.retry_after = retry_after
        self.shape: str | None = None  # the refused activity's structure, never its text


Handler = Callable[[TeamsActivity], Awaitable[str | None]]
"""Handles one activity; for ``execute`` returns the text of the invoke's answer."""


class Port(Protocol):
    def web_app(self) -> web.Application:
        """The aiohttp application serving ``POST /api/messages``."""
        ...

    async def send(self, reference: dict[str, Any], msg: Outbound) -> str:
        """Post ``msg`` into the conversation of ``reference``; returns the activity ID."""
        ...

    async def update(self, reference: dict[str, Any], activity_id: str, msg: Outbound) -> str:
        """Replace the activity ``activity_id`` the bot sent there by ``msg``."""
        ...
