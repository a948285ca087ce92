"""Teams tests: the real bot (Agents SDK, aiohttp endpoint) against a fake Bot Connector.

Both listen on 127.0.0.1. Activities are posted to ``/api/messages`` without an
Authorization header (anonymous mode, empty app ID); the fake connector validates what the
bot sends as strictly as the real service (``tests/teams/schema.py``: 400 BadArgument for a
null, an unknown or ill-typed field), records what it accepted and answers with activity
IDs. Time is a fake clock. The fake is for fault injection (``refuse``); the real client is
the Agents Playground (``test_playground.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import App, bootstrap
from bot.clock import FakeClock
from bot.config import load
from bot.teams.bot import TeamsBot
from storage import outbox
from storage.db import session_scope
from tests.teams.schema import BadArgument, validate

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Amsterdam
CHANNEL = "19:overleg-noord@thread.tacv2"
TENANT = "tenant-0001"
_ids = itertools.count(1)


def teams_id() -> str:
    """A generated Teams user ID (never a real person's)."""
    return "29:" + secrets.token_urlsafe(24)


@dataclass
class Connector:
    """The fake Bot Connector: records every request, answers like the real one.

    A record's ``conversation`` is the channel or chat; ``thread`` the channel thread it
    was posted in (the ``;messageid=`` of the conversation ID), else None."""

    received: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)  # conversation ID -> HTTP status
    refuse_next: list[int] = field(default_factory=list)  # the next requests' HTTP statuses
    refused: list[dict[str, Any]] = field(default_factory=list)  # bodies it found invalid
    url: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        async def record(request: web.Request) -> web.Response:
            cid = request.match_info["cid"]
            if self.refuse_next:
                status = self.refuse_next.pop(0)
                return web.json_response({"error": {"code": "BadArgument",
                                                    "message": "Invalid input"}}, status=status)
            if cid.partition(";")[0] in self.refuse:
                status = self.refuse[cid.partition(";")[0]]
                return web.json_response({"error": {"code": "BadArgument" if status == 400
                                                    else "Forbidden"}}, status=status)
            body = await request.json()
            try:
                validate(body, update=request.method == "PUT")
            except BadArgument as e:
                self.refused.append({"path": request.path, "body": body, "error": str(e)})
                return web.json_response(
                    {"error": {"code": "BadArgument", "message": str(e)}}, status=400)
            activity_id = request.match_info.get("aid") if request.method == "PUT" else None
            activity_id = activity_id or f"act-{next(_ids)}"
            thread = cid.partition(";messageid=")[2] or None
            self.received.append({"method": request.method,
                                  "conversation": cid.partition(";")[0], "thread": thread,
                                  "path": request.path, "headers": dict(request.headers),
                                  "body": body, "id": activity_id})
            self.changed.set()
            return web.json_response({"id": activity_id})

        app = web.Application()
        app.router.add_route("POST", "/v3/conversations/{cid}/activities", record)
        app.router.add_route("POST", "/v3/conversations/{cid}/activities/{aid}", record)
        app.router.add_route("PUT", "/v3/conversations/{cid}/activities/{aid}", record)
        return app

    def messages(self, conversation: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.received if r["body"].get("type") == "message"
                and (conversation is None or r["conversation"] == conversation)]

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], after: int = 0,
                       timeout: float = 10.0) -> dict[str, Any]:
        """The first message after the ``after``-th that ``match`` accepts."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            for r in self.messages()[after:]:
                if match(r):
                    return r
            left = end - loop.time()
            if left <= 0:
                texts = [text_of(r) for r in self.messages()[after:]]
                raise AssertionError(f"no matching message; got {texts}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(left, 0.5))


def text_of(record: dict[str, Any]) -> str:
    """What a person sees: the text, or a card's text blocks, toggles and buttons."""
    body = record["body"]
    parts = [body.get("text") or ""]
    for att in body.get("attachments") or []:
        card = att.get("content") or {}
        for item in card.get("body", []):
            parts.append(item.get("text") or item.get("title") or "")
        for action in card.get("actions", []):
            parts.append(action.get("title", ""))
    return "\n".join(p for p in parts if p)


def card_of(record: dict[str, Any]) -> dict[str, Any]:
    [att] = record["body"]["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    return dict(att["content"])


@dataclass
class Teams:
    """The bot under test, its connector, and a way to talk to it as a Teams client."""

    bot: TeamsBot
    app: App
    connector: Connector
    clock: FakeClock
    http: aiohttp.ClientSession
    bot_id: str = "28:casusbot-test"
    last_activity: dict[str, Any] = field(default_factory=dict)  # what ``say`` sent last

    def activity(self, sender: str, conversation: str = CHANNEL, *,
                 personal: bool = False, **fields: Any) -> dict[str, Any]:
        conv: dict[str, Any] = {"id": conversation, "tenantId": TENANT,
                                "conversationType": "personal" if personal else "channel"}
        return {"id": f"in-{next(_ids)}", "channelId": "msteams",
                "serviceUrl": self.connector.url + "/",
                "timestamp": self.clock.now().isoformat().replace("+00:00", "Z"),
                "from": {"id": sender, "name": "Testpersoon"},
                "recipient": {"id": self.bot_id, "name": "casusbot"},
                "conversation": conv, "locale": "nl-NL", **fields}

    async def post(self, activity: dict[str, Any]) -> aiohttp.ClientResponse:
        async with self.http.post(f"{self.bot.url}/api/messages", json=activity) as resp:
            await resp.read()
            return resp

    async def say(self, sender: str, text: str, conversation: str = CHANNEL, *,
                  personal: bool = False, mentions: tuple[tuple[str, str], ...] = (),
                  timeout: float = 10.0) -> str:
        """Send ``text`` and return the text of the bot's first answer in that conversation.

        ``mentions``: (user ID, label) pairs; each ``@label`` in the text becomes a Teams
        mention, as the Teams client sends it.
        """
        entities = []
        for user, label in mentions:
            text = text.replace(f"@{label}", f"<at>{label}</at>")
            entities.append({"type": "mention", "text": f"<at>{label}</at>",
                             "mentioned": {"id": user, "name": label}})
        mark = len(self.connector.messages())
        self.last_activity = self.activity(sender, conversation, personal=personal,
                                           type="message", text=text, entities=entities)
        resp = await self.post(self.last_activity)
        assert resp.status in (200, 202), resp.status
        reply = await self.connector.wait_for(
            lambda r: r["conversation"] == conversation, after=mark, timeout=timeout)
        return text_of(reply)

    async def card(self, match: Callable[[dict[str, Any]], bool],
                   after: int = 0) -> dict[str, Any]:
        """A card the bot sent, once the bot has recorded its activity ID (a button press
        can only refer to a card the bot knows it sent: a person cannot be faster)."""
        sent = await self.connector.wait_for(
            lambda r: bool(r["body"].get("attachments")) and match(r), after=after)
        for _ in range(200):
            with session_scope(self.app.engine) as s:
                if outbox.ref_of_remote(s, sent["id"]) is not None:
                    return sent
            await asyncio.sleep(0.02)
        raise AssertionError("the bot never recorded the card as sent")

    def mention_bot(self) -> tuple[str, str]:
        return (self.bot_id, "casusbot")


@pytest.fixture
async def teams(tmp_path: Path) -> AsyncIterator[Teams]:
    connector = Connector()
    runner = web.AppRunner(connector.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    connector.url = f"http://127.0.0.1:{port}"

    admin = teams_id()
    env = {"CASUSBOT_ADMINS": admin, "CASUSBOT_REF_KEY": "k" * 32,
           "CASUSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'teams.db'}",
           "CASUSBOT_TEAMS_ANONYMOUS": "true", "CASUSBOT_TEAMS_PORT": "1",
           "CASUSBOT_RATE_LIMIT": "10000"}
    config = load(env, "teams")
    assert config.teams is not None
    from dataclasses import replace

    config = replace(config, teams=replace(config.teams, port=0))
    clock = FakeClock(NOW)
    app = bootstrap(config, clock)
    bot = TeamsBot(app)
    await bot.start()
    async with aiohttp.ClientSession() as http:
        world = Teams(bot=bot, app=app, connector=connector, clock=clock, http=http)
        world.admin = admin  # type: ignore[attr-defined]
        try:
            yield world
            # Nothing the bot sent was malformed (a refusal would be dropped as permanent).
            assert not connector.refused, connector.refused
        finally:
            await bot.stop()
            app.engine.dispose()
            await runner.cleanup()
