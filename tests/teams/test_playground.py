"""casusbot in Microsoft's own Teams emulator: the Microsoft 365 Agents Playground.

The playground (npm ``@microsoft/m365agentsplayground``, pinned in tests/teams/playground/
package.json, installed by ``make install``) is a local Teams client plus Bot Connector. It
runs here on 127.0.0.1 only, with its tenant from tests/teams/playground/
m365agentsplayground.yml, and is driven through the HTTP API its own web UI uses:

- ``POST /_conversation/v1/conversations/{id}/messages``: the current user says something
  (in a channel it reaches the bot only when the bot is @mentioned, as in Teams);
- ``POST /_conversation/v1/submit``: a person presses an Action.Submit button on a card;
- websocket ``/_ws_conversation/v1/conversations/stream``: what the user sees appear;
- websocket ``/_ws/log/stream``: its log, with the HTTP status of every request the bot
  made to its connector (which validates each activity with Microsoft's schema).

Telemetry is off (``--disable-telemetry`` and no Application Insights statsbeat) and
tests/teams/playground/loopback-only.js, preloaded into Node, refuses and reports any
connection or name lookup that is not loopback; the test asserts there was none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from bot.app import App, bootstrap
from bot.clock import FakeClock
from bot.config import load
from bot.teams.bot import TeamsBot
from storage import outbox
from storage.db import session_scope
from storage.models import Member, OutboxMessage, Partner

pytestmark = pytest.mark.playground

HERE = Path(__file__).parent / "playground"
CLI = HERE / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
BOT = "28:casusbot-playground"
CHAIR = "29:voorzitter-0001"  # the playground's current user: the one typing
AGENT = "29:agent-politie-0002"
CHANNEL = "19:overleg-noord@thread.tacv2"
PERSONAL = "a:persoonlijk-voorzitter"
AT_BOT = "<at>casusbot</at>"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seen_text(message: dict[str, Any]) -> str:
    """What the user sees of a message: its text, or its card's texts, toggles, buttons."""
    parts = [re.sub(r"<[^>]+>", "", message.get("text") or "")]
    for att in message.get("attachments") or []:
        card = att.get("content") or {}
        parts += [i.get("text") or i.get("title") or "" for i in card.get("body", [])]
        parts += [a.get("title", "") for a in card.get("actions", [])]
    return "\n".join(p for p in parts if p)


@dataclass
class Playground:
    """The running playground: its HTTP API and what its two websockets delivered."""

    url: str
    http: aiohttp.ClientSession
    bot: str = BOT  # the bot's ID, the current user's and the channel's in its tenant
    user: str = CHAIR
    channel: str = CHANNEL
    shown: list[dict[str, Any]] = field(default_factory=list)  # createMessage/updateMessage
    log: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def listen(self, path: str, into: list[dict[str, Any]], key: str) -> None:
        async with self.http.ws_connect(self.url.replace("http", "ws", 1) + path) as ws:
            async for frame in ws:
                data = json.loads(frame.data)
                if key in data:
                    into.append(data)
                    self.changed.set()

    def bot_messages(self) -> list[dict[str, Any]]:
        return [s for s in self.shown
                if s["action"] == "createMessage" and s["message"]["from"]["id"] == self.bot]

    async def ask(self, text: str, conversation: str | None = None,
                  mentions: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
        """The current user (the chair) writes ``text``; in a channel addressed to the bot,
        as a new post. Returns the post's message ID and the conversation its answers
        belong in: in a channel the post's thread, in a chat the chat."""
        entities = [{"mentioned": {"id": user}, "text": f"<at>{label}</at>"}
                    for user, label in mentions]
        conversation = conversation or self.channel
        if conversation == self.channel:
            text = f"{AT_BOT} {text}"
            entities.insert(0, {"mentioned": {"id": self.bot}, "text": AT_BOT})
        async with self.http.post(f"{self.url}/_conversation/v1/conversations/{conversation}"
                                  "/messages", json={"from": {"id": self.user}, "text": text,
                                                     "textFormat": "xml",
                                                     "mentions": entities}) as resp:
            assert resp.status == 200, await resp.text()
            posted = await resp.json()
        return {"messageId": posted["messageId"],
                "conversation": posted.get("postConversationId") or conversation}

    async def say(self, text: str, conversation: str | None = None,
                  mentions: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
        """``ask``, then the first message the bot shows where the answer belongs (``asked``:
        what ``ask`` returned)."""
        mark = len(self.bot_messages())
        asked = await self.ask(text, conversation, mentions)
        shown = await self.wait_for(
            lambda m: m["actionConversationId"] == asked["conversation"], after=mark)
        return {**shown, "asked": asked}

    async def press(self, user: str, card: dict[str, Any], value: dict[str, str]) -> None:
        """``user`` presses an Action.Submit button of ``card`` (as shown)."""
        message = card["message"]
        async with self.http.post(f"{self.url}/_conversation/v1/submit", json={
                "conversation": {"id": message.get("postConversationId")
                                 or card["actionConversationId"]},
                "from": {"id": user}, "replyToId": message["messageId"],
                "value": value}) as resp:
            assert resp.status == 200, await resp.text()

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], after: int = 0,
                       timeout: float = 10.0) -> dict[str, Any]:
        """The first message the bot showed after the ``after``-th that ``match`` accepts."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            for shown in self.bot_messages()[after:]:
                if match(shown):
                    return shown
            if loop.time() > end:
                texts = [seen_text(s["message"]) for s in self.bot_messages()[after:]]
                raise AssertionError(f"the playground showed no such message; got {texts}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=0.5)

    async def until(self, found: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
        """Wait until ``found()`` is true (the log arrives on its own websocket, a moment
        after what it logs may already show)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not found():
            assert loop.time() < end, what
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=0.2)

    def replies_to(self, asked: dict[str, str]) -> list[dict[str, Any]]:
        """The bot's requests that answer the activity the playground made of ``asked``:
        posted in the conversation it was asked in, with its ID as ``replyToId``."""
        activities = [e["log"]["request"]["body"] for e in self.log
                      if e["log"].get("to") == "User Application"
                      and e["log"].get("conversationId") == asked["conversation"]]
        ids = {a["id"] for a in activities if a.get("type") == "message"}
        return [r for r in self.bot_requests()
                if r["request"]["body"].get("replyToId") in ids
                and r["conversationId"] == asked["conversation"]]

    def bot_requests(self) -> list[dict[str, Any]]:
        """The log's record of each request the bot made to the playground's connector."""
        return [e["log"] for e in self.log
                if e["log"].get("type") == "bot" and e["log"].get("from") == "User Application"]


@dataclass
class Session:
    bot: TeamsBot
    app: App
    clock: FakeClock
    playground: Playground
    stderr: list[str]


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    async with running(tmp_path, CHAIR, HERE / "m365agentsplayground.yml") as s:
        yield s


@contextlib.asynccontextmanager
async def running(tmp_path: Path, admins: str, tenant: Path | None,
                  **ids: str) -> AsyncIterator[Session]:
    """The bot and the playground; ``tenant`` its configuration (None: its built-in
    default tenant, whose IDs ``ids`` gives: bot, user, channel)."""
    node = shutil.which("node")
    if not CLI.exists() or node is None:
        pytest.fail("the Agents Playground is not installed: run `make install` (needs Node)")
    env = {"CASUSBOT_ADMINS": admins, "CASUSBOT_REF_KEY": "k" * 32,
           "CASUSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'teams.db'}",
           "CASUSBOT_TEAMS_ANONYMOUS": "true", "CASUSBOT_RATE_LIMIT": "10000"}
    config = load(env, "teams")
    assert config.teams is not None
    config = replace(config, teams=replace(config.teams, port=0))
    # The playground stamps activities with the real time; the bot's clock starts there.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    app = bootstrap(config, clock)
    bot = TeamsBot(app)
    await bot.start()

    port = _free_port()
    child_env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    child_env.update({
        "TEAMSAPPTESTER_BROWSER": "none",  # no browser opened
        **({"M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(tenant)} if tenant else {}),
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(tmp_path / "playground.log"),
        # --disable-telemetry stops its events, not Application Insights' own statsbeat.
        "APPLICATION_INSIGHTS_NO_STATSBEAT": "true",
    })
    proc = await asyncio.create_subprocess_exec(
        node, "--require", str(HERE / "loopback-only.js"), str(CLI), "start",
        "--channel-id", "msteams", "--app-endpoint", f"{bot.url}/api/messages",
        "--port", str(port), "--service-url", f"http://127.0.0.1:{port}/_connector",
        "--disable-telemetry", cwd=tmp_path, env=child_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    stderr: list[str] = []

    async def drain(stream: asyncio.StreamReader) -> None:
        async for line in stream:
            stderr.append(line.decode(errors="replace").rstrip())

    readers = [asyncio.create_task(drain(proc.stderr))]
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
        assert line.decode().strip() == f"Listening on {port}", (line, stderr)
        async with aiohttp.ClientSession() as http:
            pg = Playground(url=f"http://127.0.0.1:{port}", http=http, **ids)
            readers += [
                asyncio.create_task(pg.listen("/_ws_conversation/v1/conversations/stream",
                                              pg.shown, "action")),
                asyncio.create_task(pg.listen("/_ws/log/stream", pg.log, "log"))]
            yield Session(bot=bot, app=app, clock=clock, playground=pg, stderr=stderr)
            for task in readers[1:]:
                task.cancel()
    finally:
        if proc.returncode is None:
            proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), timeout=10)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await asyncio.gather(*readers, return_exceptions=True)
        await bot.stop()
        app.engine.dispose()


def case_id(text: str) -> str:
    found = re.search(r"C-[0-9A-Z]{5,}", text)
    assert found, text
    return found[0]


def _dutch(day: datetime) -> str:
    return f"{day.day:02d}-{day.month:02d}-{day.year}"


async def _recorded(app: App, remote_id: str) -> None:
    for _ in range(250):
        with session_scope(app.engine) as s:
            if outbox.ref_of_remote(s, remote_id) is not None:
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the bot never recorded the card as sent")


def _outbox(app: App) -> list[OutboxMessage]:
    with session_scope(app.engine) as s:
        return list(s.exec(select(OutboxMessage)))


async def test_a_teams_session_in_the_agents_playground(session: Session) -> None:
    pg, clock = session.playground, session.clock
    today = clock.now()

    # A personal chat first (Teams lets a bot write to a person only after that).
    hello = await pg.say("hulp", conversation=PERSONAL)
    assert "overleg" in seen_text(hello["message"]).lower()
    said = [hello]  # each answer must sit where its command was asked (checked below)

    # Setup by @mention in the channel; partners and members; a meeting and a case.
    done = await pg.say("inrichten Overleg Noord")
    assert "Overleg Noord" in seen_text(done["message"])
    partner = await pg.say("partner add Politie core")
    assert "Politie" in seen_text(partner["message"])
    added = await pg.say("lid add <at>Agent</at> Politie", mentions=((AGENT, "Agent"),))
    said += [done, partner, added]
    # People by name (the mention's, the sender's as the playground shows them), no IDs.
    assert "Agent" in seen_text(added["message"]) and "Politie" in seen_text(added["message"])
    assert "Voorzitter: Voorzitter" in seen_text(done["message"])
    assert "29:" not in seen_text(added["message"]) + seen_text(done["message"])
    meeting = today + timedelta(days=21)
    planned = seen_text((await pg.say(f"overleg plan {_dutch(meeting)} 14:00 op Stadhuis"))
                        ["message"])
    assert "M1" in planned and "gepland" in planned
    case = case_id(seen_text((await pg.say("casus open"))["message"]))
    assert case in seen_text((await pg.say(f"agenda add M1 {case}"))["message"])

    # The agenda, rendered by the playground as an Adaptive Card with the buttons.
    mark = len(pg.bot_messages())
    await pg.ask("agenda send M1")
    card = await pg.wait_for(lambda m: bool(m["message"]["attachments"]), after=mark)
    [attachment] = card["message"]["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert [i["id"] for i in content["body"] if i["type"] == "Input.Toggle"] == [f"case:{case}"]
    buttons = {a["title"]: a for a in content["actions"]}
    assert "Wij komen" in buttons and buttons["Wij komen"]["type"] == "Action.Submit"
    assert case in seen_text(card["message"])

    # The Politie member presses "Wij komen" and ticks the case (once the bot has recorded
    # the card as sent: the websocket can show it a moment earlier, no person can press it).
    await _recorded(session.app, card["message"]["messageId"])
    mark = len(pg.bot_messages())
    await pg.press(AGENT, card, {**buttons["Wij komen"]["data"], f"case:{case}": "true"})
    answer = await pg.wait_for(lambda m: "via de knop" in seen_text(m["message"]), after=mark)
    assert "Politie komt naar overleg M1" in seen_text(answer["message"])

    # The answer to a button sits in the card's thread, as a reply to the card.
    assert answer["actionConversationId"] == card["message"]["postConversationId"]
    await pg.until(lambda: [r for r in pg.bot_requests() if r["request"]["body"].get(
        "replyToId") == card["message"]["messageId"]], "no reply to the card was logged")

    board = await pg.say("status M1")
    said.append(board)
    status = seen_text(board["message"])
    assert "Politie: bevestigd" in status

    # An overdue action escalates to the chair, who is reminded in the personal chat.
    await pg.say("instellingen dm aan")
    await pg.say("instellingen escalatie 1")
    due = today + timedelta(days=2)
    assert "A1" in seen_text((await pg.say(
        f"actie add {case} Politie {_dutch(due)} Dossier delen"))["message"])
    mark = len(pg.bot_messages())
    clock.advance(timedelta(days=7))
    session.bot.waker.poke()
    reminder = await pg.wait_for(lambda m: m["actionConversationId"] == PERSONAL, after=mark)
    assert "A1" in seen_text(reminder["message"])
    assert "te laat" in seen_text(reminder["message"])
    in_channel = await pg.wait_for(lambda m: m["actionConversationId"] == CHANNEL
                                   and "A1" in seen_text(m["message"]), after=mark)
    assert any(e["mentioned"]["id"] == AGENT for e in in_channel["message"]["mentions"])
    # Reminders and the agenda start something new: each a new post of the channel (the
    # first message of its own thread), not a reply.
    for new in (in_channel, card):
        assert new["actionConversationId"] == CHANNEL
        assert new["message"]["postConversationId"].startswith(f"{CHANNEL};messageid=")

    # Every command's answer sits where it was asked: in the channel in the thread of the
    # post that held the command, in the personal chat as a reply to the message; both
    # as a reply to the command's activity (replyToId), never a new post.
    for asked in said:
        assert asked["actionConversationId"] == asked["asked"]["conversation"]
        await pg.until(lambda a=asked: pg.replies_to(a["asked"]), f"no reply to {asked}")
    assert said[1]["asked"]["conversation"].startswith(f"{CHANNEL};messageid=")

    # Nobody is shown as a 29:… ID anywhere: names, and @mentions labelled with names.
    assert not [seen_text(m["message"]) for m in pg.bot_messages()
                if "29:" in seen_text(m["message"])]
    assert [e["text"] for e in in_channel["message"]["mentions"]
            if e["mentioned"]["id"] == AGENT] == ["<at>Agent</at>"]

    # Everything the bot sent was accepted by the playground's connector (no 4xx) ...
    await asyncio.sleep(0.3)  # the last log lines
    requests = pg.bot_requests()
    statuses = [r["response"]["statusCode"] for r in requests]
    assert len(requests) >= len(pg.bot_messages()) > 10
    assert all(s in (200, 201, 202) for s in statuses), [
        (r["response"], r["request"]["body"]) for r in requests
        if r["response"]["statusCode"] >= 300]
    # ... and recorded as sent, none refused, none still waiting except for the member
    # who never opened a personal chat with the bot.
    rows = _outbox(session.app)
    assert all(r.last_error is None for r in rows if r.room_id != AGENT), [
        (r.room_id, r.template, r.last_error) for r in rows if r.last_error]
    assert all(r.remote_id for r in rows if r.room_id != AGENT)
    # Nothing but loopback was contacted.
    assert not [line for line in session.stderr if "loopback-only" in line], session.stderr


async def test_a_first_trial_with_the_playgrounds_default_tenant(tmp_path: Path) -> None:
    """As admin.md says: the playground's own default user (``user-id-0``) is accepted as
    an administrator, and setup works in its default channel, answered in the thread."""
    me = "user-id-0"
    async with running(tmp_path, me, None, bot="00000000-0000-0000-0000-00000000000011",
                       user=me, channel="team-id") as s:
        pg = s.playground
        done = await pg.say("inrichten Overleg Proef")
        assert "Overleg Proef" in seen_text(done["message"])
        with session_scope(s.app.engine) as db:
            assert [(m.user_id, m.role) for m in db.exec(select(Member))] == [(me, "chair")]
        await pg.until(lambda: pg.replies_to(done["asked"]), "no reply in the thread")
        # A person of the default tenant, @mentioned, is a member like any Teams user.
        await pg.say("partner add Politie core")
        await pg.say("lid add <at>User 1</at> Politie", mentions=(("user-id-1", "User 1"),))
        with session_scope(s.app.engine) as db:
            assert sorted(m.user_id for m in db.exec(select(Member))) == [me, "user-id-1"]
        statuses = [r["response"]["statusCode"] for r in pg.bot_requests()]
        assert statuses and all(code < 300 for code in statuses), statuses


async def _custom(pg: Playground, where: str, kind: str | None, **fields: Any) -> None:
    """An activity of the playground's own template for ``kind`` (messageUpdate,
    userRemoved...), sent to the bot as Teams would."""
    from urllib.parse import quote

    query = f"?conversationId={quote(where)}" + (f"&type={kind}" if kind else "")
    async with pg.http.get(f"{pg.url}/_internal/v1/customActivities/template{query}") as r:
        activity = await r.json()
    activity.update(fields)
    async with pg.http.post(f"{pg.url}/_internal/v1/customActivities", json=activity) as r:
        assert r.status < 300, await r.text()


async def test_edits_removals_and_two_word_names_as_teams_sends_them(
        session: Session, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 21's breaking test: an edited command is read as on Matrix (and its text never
    logged); a two-word display name mentioned as two <at> tags is one person; a person
    removed from the team is no longer a member; an ID typed as text is no person."""
    pg, app = session.playground, session.app
    await pg.say("inrichten Overleg Noord")
    await pg.say("partner add Politie core")
    await pg.say("lid add <at>Medewerker</at> <at>Politie</at> Politie",
                 mentions=((AGENT, "Medewerker"), (AGENT, "Politie")))
    with session_scope(app.engine) as db:
        assert sorted(m.user_id for m in db.exec(select(Member))) == sorted([CHAIR, AGENT])
    typed = await pg.say("lid add 29:getypt-id Politie")
    assert "29:getypt-id" not in seen_text(typed["message"]).replace("?29:getypt-id", "")
    with session_scope(app.engine) as db:
        assert "29:getypt-id" not in {m.user_id for m in db.exec(select(Member))}
    # A refused command, corrected by an edit: carried out.
    asked = await pg.ask("partner add Jeugdbescherming kern-typo")
    await asyncio.sleep(1.0)
    mark = len(pg.bot_messages())
    secret = "0612345678"
    await _custom(pg, asked["conversation"], None, type="messageUpdate",
                  id=asked["messageId"], text=f"{AT_BOT} partner add Jeugdbescherming core",
                  entities=[{"type": "mention", "mentioned": {"id": pg.bot, "name": "casusbot"},
                             "text": AT_BOT}],
                  conversation={"id": asked["conversation"]})
    await pg.wait_for(lambda m: True, after=mark)
    with session_scope(app.engine) as db:
        partners = db.exec(select(Partner.name)).all()
    assert "Jeugdbescherming" in partners
    await _custom(pg, asked["conversation"], None, type="messageUpdate",
                  id=asked["messageId"], text=f"{AT_BOT} partner add Bel {secret} core",
                  conversation={"id": asked["conversation"]})
    await asyncio.sleep(1.0)
    assert secret not in caplog.text
    # Removed from the team: no longer a member.
    await _custom(pg, CHANNEL, "userRemoved", membersRemoved=[{"id": AGENT}])
    await pg.until(lambda: _left(app, AGENT), "the removed person is still a member")


def _left(app: Any, user: str) -> bool:
    with session_scope(app.engine) as db:
        member = db.exec(select(Member).where(Member.user_id == user)).first()
    return member is None or member.left_room_at is not None
