"""End-to-end fixtures: one real Synapse on loopback per test session, the real bot in-process.

The bot is built with ``bootstrap(config, FakeClock(...))`` (nothing is global), so a test owns
its clock, can stop the bot and start a new instance on the same database and store.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import devserver
from bot.app import App, bootstrap
from bot.chat import ChatClient
from bot.clock import FakeClock
from bot.config import load
from bot.matrix import MatrixTransport

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devserver.Synapse]:
    directory = tmp_path_factory.mktemp("synapse")
    devserver.write_config(directory, devserver.free_port())
    server = devserver.load(directory)
    server.start()
    yield server
    server.stop()


@dataclass
class User:
    user_id: str
    password: str


@dataclass
class World:
    """One test's users, bot and clients, all on the session's Synapse."""

    synapse: devserver.Synapse
    tmp: Path
    bot_user: User
    chair: User
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    clients: list[ChatClient] = field(default_factory=list)
    bots: list[MatrixTransport] = field(default_factory=list)

    def user(self, role: str) -> User:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        password = secrets.token_urlsafe(12)
        return User(self.synapse.register(name, password), password)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "CASUSBOT_HOMESERVER": self.synapse.url,
            "CASUSBOT_USER_ID": self.bot_user.user_id,
            "CASUSBOT_PASSWORD": self.bot_user.password,
            "CASUSBOT_STORE_PATH": str(self.tmp / "bot-store"),
            "CASUSBOT_DATABASE_URL": f"sqlite:///{self.tmp / 'casusbot.db'}",
            "CASUSBOT_ADMINS": self.chair.user_id,
            "CASUSBOT_REF_KEY": "test-ref-key-0123456789",
            # Most tests use unencrypted rooms for speed; the encrypted ones and the
            # refusal in an unencrypted room are tested on their own.
            "CASUSBOT_REQUIRE_E2EE": "false",
            **extra,
        }

    async def start_bot(self, **extra: str) -> tuple[App, MatrixTransport]:
        app = bootstrap(load(self.env(**extra)), self.clock)
        transport = MatrixTransport(app)
        await transport.start()
        await _wait(transport.ready)
        self.bots.append(transport)
        return app, transport

    async def stop_bot(self, transport: MatrixTransport) -> None:
        await transport.stop()
        transport.app.engine.dispose()
        self.bots.remove(transport)

    async def client(self, user: User) -> ChatClient:
        c = ChatClient(self.synapse.url, user.user_id, user.password,
                       self.tmp / "clients" / user.user_id)
        await c.start()
        self.clients.append(c)
        return c

    def room(self, creator: User, invite: list[User], encrypted: bool = False,
             bot_moderator: bool = True) -> str:
        """A room made by ``creator``; the bot, when invited, is made moderator (it removes
        refused messages with personal data) unless ``bot_moderator`` is False."""
        token = self.synapse.login(creator.user_id.split(":")[0][1:], creator.password)
        room = devserver.create_room(self.synapse.url, token["access_token"], name="overleg",
                                     invite=[u.user_id for u in invite], encrypted=encrypted)
        if bot_moderator and self.bot_user in invite:
            devserver.make_moderator(self.synapse.url, token["access_token"], room,
                                     self.bot_user.user_id)
        return room

    def join(self, user: User, room_id: str) -> None:
        token = self.synapse.login(user.user_id.split(":")[0][1:], user.password)
        devserver.join(self.synapse.url, token["access_token"], room_id)


async def _wait(event: object, timeout: float = 20.0) -> None:
    import asyncio

    assert isinstance(event, asyncio.Event)
    await asyncio.wait_for(event.wait(), timeout)


async def bot_in_room(transport: MatrixTransport, room_id: str, timeout: float = 20.0) -> None:
    """Wait until the bot has joined ``room_id`` and knows it."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while room_id not in transport.client.rooms:
        if loop.time() > deadline:
            raise TimeoutError(f"bot did not join {room_id}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def world(synapse: devserver.Synapse, tmp_path: Path) -> AsyncIterator[World]:
    def reg(role: str) -> User:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        password = secrets.token_urlsafe(12)
        return User(synapse.register(name, password), password)

    w = World(synapse, tmp_path, reg("bot"), reg("chair"))
    yield w
    for c in w.clients:
        await c.close()
    for b in list(w.bots):
        await w.stop_bot(b)


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds or ``timeout`` seconds pass (the caller asserts)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check() and loop.time() < deadline:
        await asyncio.sleep(0.2)


@dataclass
class Overleg:
    """A running bot in an overleg room with the chair and one Politie member, set up."""

    app: App
    bot: MatrixTransport
    room: str
    bot_id: str
    chair: ChatClient
    politie: User
    pol: ChatClient


async def overleg_with_politie(world: World, *, encrypted: bool = False,
                               **env: str) -> Overleg:
    """Start the bot, make a room with the chair and a Politie member, and set it up:
    `!setup Overleg`, Politie as core partner, the member linked to it."""
    from tests.e2e.test_skeleton import ask

    app, bot = await world.start_bot(**env)
    politie = world.user("politie")
    room = world.room(world.chair, [world.bot_user, politie], encrypted=encrypted)
    world.join(politie, room)
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    pol = await world.client(politie)
    bot_id = world.bot_user.user_id
    for line in ("!setup Overleg", "!partner add Politie core",
                 f"!lid add {politie.user_id} Politie"):
        await ask(chair, room, bot_id, line, timeout=20)
    return Overleg(app, bot, room, bot_id, chair, politie, pol)
