"""What goes on the wire to a Bot Connector: every kind of activity the bot sends, as the
bytes it posts, without a null anywhere (the Bot Connector refuses a null with 400)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import TeamsConfig
from bot.teams.agents import AgentsPort, wire_json, without_nulls
from bot.teams.port import Mention, Outbound, TeamsActivity
from tests.teams.schema import BadArgument, nulls, validate

BOT = "28:casusbot-test"
CHANNEL = "19:overleg-wire@thread.tacv2"
PERSONAL = "a:personal-wire"
USER = "29:generated-user-wire"
CARD = {"type": "AdaptiveCard", "version": "1.4", "body": [
    {"type": "TextBlock", "text": "**Agenda** M1", "wrap": True},
    {"type": "Input.Toggle", "id": "case:C-7K2FJ", "title": "Wij hebben informatie",
     "value": "false", "valueOn": "true", "valueOff": "false"}],
    "actions": [{"type": "Action.Submit", "title": "Wij komen", "data": {"verb": "accept"}}],
    "fallbackText": "Agenda M1"}


@dataclass
class Wire:
    """A connector on loopback keeping each request's raw body; the bot's endpoint."""

    port: AgentsPort
    seen: list[TeamsActivity]
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    bot_url: str = ""
    connector_url: str = ""

    async def reference(self, conversation: str, personal: bool) -> dict[str, Any]:
        """The stored reference of a conversation, as the bot keeps it from an inbound one."""
        activity = {"type": "message", "id": f"in-{len(self.seen)}", "channelId": "msteams",
                    "serviceUrl": self.connector_url + "/", "text": "status",
                    "timestamp": datetime(2026, 12, 1, 8, tzinfo=UTC).isoformat(),
                    "from": {"id": USER, "name": "Testpersoon"},
                    "recipient": {"id": BOT, "name": "casusbot"},
                    "conversation": {"id": conversation, "tenantId": "tenant-0001",
                                     "conversationType": "personal" if personal
                                     else "channel"}}
        async with aiohttp.ClientSession() as http, \
                http.post(f"{self.bot_url}/api/messages", json=activity) as resp:
            assert resp.status in (200, 202)
        return self.seen[-1].reference

    def bodies(self) -> list[Any]:
        return [json.loads(raw) for _, _, raw in self.requests]


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    seen: list[TeamsActivity] = []

    async def handler(a: TeamsActivity) -> str | None:
        seen.append(a)
        return None

    config = TeamsConfig(app_id="", app_password="", tenant_id="", host="127.0.0.1", port=0,
                         anonymous=True)
    w = Wire(port=AgentsPort(config, handler), seen=seen)

    async def record(request: web.Request) -> web.Response:
        raw = await request.read()
        w.requests.append((request.method, request.path, raw))
        return web.json_response({"id": f"act-{len(w.requests)}"})

    connector = web.Application()
    connector.router.add_route("*", "/v3/conversations/{cid}/activities", record)
    connector.router.add_route("*", "/v3/conversations/{cid}/activities/{aid}", record)
    runners = [web.AppRunner(connector), web.AppRunner(w.port.web_app())]
    urls = []
    for runner in runners:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        urls.append(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}")  # type: ignore[union-attr]
    w.connector_url, w.bot_url = urls
    try:
        yield w
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_no_activity_the_bot_sends_carries_a_null(wire: Wire) -> None:
    channel = await wire.reference(CHANNEL, personal=False)
    personal = await wire.reference(PERSONAL, personal=True)
    label = "<at>Agent</at>"
    # A reply in the channel, naming a person.
    await wire.port.send(channel, Outbound(text=f"{label} Politie is nu partner",
                                           mentions=(Mention(USER, "Agent", label),)))
    # The agenda as an Adaptive Card.
    card_id = await wire.port.send(channel, Outbound(card=CARD, summary="Agenda M1"))
    # A proactive reminder in a personal chat.
    await wire.port.send(personal, Outbound(text="Actie A1 is te laat."))
    # The card replaced (an update: PUT …/activities/{id}).
    await wire.port.update(channel, card_id, Outbound(card=CARD, summary="Agenda M1"))
    # Answers where the command was asked: in a channel's thread, in a chat as a reply.
    await wire.port.send(channel, Outbound(text="Overleg M1 gepland.", reply_to="in-7",
                                           thread="1796083079692"))
    await wire.port.send(personal, Outbound(text="Commando's", reply_to="in-8"))

    assert [(m, p) for m, p, _ in wire.requests] == [
        ("POST", f"/v3/conversations/{CHANNEL}/activities"),
        ("POST", f"/v3/conversations/{CHANNEL}/activities"),
        ("POST", f"/v3/conversations/{PERSONAL}/activities"),
        ("PUT", f"/v3/conversations/{CHANNEL}/activities/{card_id}"),
        ("POST", f"/v3/conversations/{CHANNEL};messageid=1796083079692/activities/in-7"),
        ("POST", f"/v3/conversations/{PERSONAL}/activities/in-8"),
    ]
    bodies = wire.bodies()
    for body in bodies:
        assert nulls(body) == [], body
        validate(body, update=body.get("id") == card_id)
    reply, card, reminder, update, in_thread, in_chat = bodies
    assert in_thread["replyToId"] == "in-7" and in_chat["replyToId"] == "in-8"
    assert in_thread["conversation"]["id"] == f"{CHANNEL};messageid=1796083079692"
    assert "replyToId" not in reply and "replyToId" not in reminder
    assert "id" not in reply and "locale" not in reply  # the SDK set both to None
    assert reply["entities"] == [{"type": "mention", "text": label,
                                  "mentioned": {"id": USER, "name": "Agent"}}]
    assert card["attachments"][0]["content"] == CARD and card["summary"] == "Agenda M1"
    assert reminder["conversation"]["id"] == PERSONAL and reminder["text"].startswith("Actie")
    assert update["id"] == card_id and update["attachments"][0]["content"] == CARD


def test_the_wire_form_leaves_nulls_out_at_any_depth() -> None:
    value = {"id": None, "a": [1, None, {"b": None, "c": "x"}], "when": datetime(2026, 1, 2,
                                                                              tzinfo=UTC)}
    assert without_nulls(value)["a"] == [1, {"c": "x"}]
    assert json.loads(wire_json(value)) == {"a": [1, {"c": "x"}],
                                            "when": "2026-01-02T00:00:00+00:00"}


def test_the_connectors_schema_refuses_what_the_service_refuses() -> None:
    good = {"type": "message", "text": "hallo", "conversation": {"id": CHANNEL}}
    validate(good)
    for bad in ({**good, "id": None}, {**good, "locale": None}, {**good, "txet": "hallo"},
                {**good, "textFormat": "html"}, {**good, "from": {"name": "casusbot"}},
                {**good, "attachments": [{"contentType": "application/vnd.microsoft.card"
                                                         ".adaptive", "content": "kaart"}]},
                {**good, "entities": [{"type": "mention", "text": "<at>Ander</at>",
                                       "mentioned": {"id": USER}}]},
                {"type": "message", "conversation": {"id": CHANNEL}}):
        with pytest.raises(BadArgument):
            validate(bad)
