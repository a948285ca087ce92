"""Exactly once through crashes: the real bot process is SIGKILLed again and again while a
stream of commands comes in and a batch of reminders is due. Every command gets exactly one
reply and every reminder arrives exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import devserver
from bot.chat import ChatClient
from bot.render import Renderer
from commands import default_registry
from commands.inbound import Inbound, handle
from commands.registry import Settings
from storage.db import make_engine, migrate, session_scope
from tests.e2e.conftest import World

pytestmark = pytest.mark.e2e
N_COMMANDS = 200
N_REMINDERS = 200


class BotProcess:
    """``casusbot run`` as a child process (the same binary an operator runs)."""

    def __init__(self, env_file: Path, log: Path) -> None:
        self.env_file, self.log = env_file, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASUSBOT_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--env-file", str(self.env_file)],
                stdout=out, stderr=subprocess.STDOUT, env=env)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


async def _joined(world: World, room: str, user: str, timeout: float = 30) -> None:
    token = world.synapse.login(world.chair.user_id.split(":")[0][1:], world.chair.password)
    for _ in range(int(timeout * 10)):
        members = devserver.request(world.synapse.url, "GET",
                                    f"/_matrix/client/v3/rooms/{room}/joined_members",
                                    token=token["access_token"])
        if user in members.get("joined", {}):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{user} did not join")


async def _synced(url: str, timeout: float = 30) -> None:
    """Wait until the bot has saved a sync token: its first sync is done, so a restart
    catches up from there instead of starting afresh (and ignoring history)."""
    from sqlmodel import select

    from storage.models import SyncState

    engine = make_engine(url)
    try:
        for _ in range(int(timeout * 10)):
            with session_scope(engine) as s:
                if s.exec(select(SyncState)).first() is not None:
                    return
            await asyncio.sleep(0.1)
    finally:
        engine.dispose()
    raise TimeoutError("the bot saved no sync token")


def _count(chair: ChatClient, bot_id: str, room: str) -> tuple[Counter[str], Counter[str]]:
    """How often each command (Partner000…) and each reminder (Taak nummer N) was answered."""
    commands: Counter[str] = Counter()
    reminders: Counter[str] = Counter()
    for s in chair.notices(bot_id, room):
        if m := re.search(r"Partner(\d{3})", s.body):
            commands[m[1]] += 1
        if m := re.search(r"Taak nummer (\d+)", s.body):
            reminders[m[1]] += 1
    return commands, reminders


async def _everything_answered(chair: ChatClient, bot_id: str, room: str) -> None:
    """Wait for every reply and reminder, then for a sentinel's reply: the outbox sends in
    order per room, so a duplicate of anything before it would have arrived by then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 180
    while loop.time() < deadline:
        commands, reminders = _count(chair, bot_id, room)
        if len(commands) == N_COMMANDS and len(reminders) == N_REMINDERS:
            break
        await asyncio.sleep(0.5)
    mark = len(chair.seen)
    await chair.send(room, "!hulp")
    await chair.next_notice(bot_id, room_id=room, after=mark, timeout=60)


def _seed(url: str, room: str, chair: str, owner: str) -> None:
    """An overleg with 200 actions that fell due last week: 200 reminders due at once."""
    engine = make_engine(url)
    migrate(engine)
    settings = Settings(admins=frozenset({chair}), ref_key=b"test-ref-key-0123456789",
                        require_e2ee=False)
    registry, render = default_registry(), Renderer()
    past = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    n = iter(range(10**6))

    def say(text: str) -> str:
        with session_scope(engine) as s:
            [out, *_] = handle(s, registry, render, settings,
                                Inbound(f"$seed{next(n)}", room, chair, text, past,
                                        encrypted=True), past).replies
            return out.body

    say("!setup Crash-overleg")
    say("!partner add Politie core")
    say(f"!lid add {owner} Politie")
    code = re.search(r"C-\w+", say("!casus open"))[0]  # type: ignore[index]
    for i in range(N_REMINDERS):
        say(f"!actie add {code} Politie 20-11-2026 Taak nummer {i}")
    with session_scope(engine) as s:
        from storage import outbox

        for row in outbox.pending(s):  # the seeding's own replies count as sent long ago
            outbox.mark_sent(s, row.id or 0, None, past)
    engine.dispose()


async def test_sigkill_during_commands_and_reminders(world: World, tmp_path: Path) -> None:
    owner = world.user("politie")
    room = world.room(world.chair, [world.bot_user, owner])
    world.join(owner, room)
    env_file = tmp_path / "bot.env"
    # A stream of 200 commands from one person: lift the per-person rate limit for it.
    env = {**world.env(), "CASUSBOT_RATE_LIMIT": "10000"}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    bot = BotProcess(env_file, tmp_path / "bot.log")
    bot.start()
    await _joined(world, room, world.bot_user.user_id)
    await _synced(env["CASUSBOT_DATABASE_URL"])
    bot.stop()
    _seed(world.env()["CASUSBOT_DATABASE_URL"], room, world.chair.user_id, owner.user_id)

    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    rng = random.Random(11)
    kill_at = sorted(rng.sample(range(10, N_COMMANDS), 4))
    bot.start()  # 200 reminders are due right now
    kills = 0
    for i in range(N_COMMANDS):
        await chair.send(room, f"!partner add Partner{i:03d} core")
        if i in kill_at:
            await asyncio.sleep(rng.uniform(0.0, 0.6))  # somewhere mid-handling
            bot.kill()
            kills += 1
            bot.start()
    assert kills == 4

    await _everything_answered(chair, bot_id, room)
    bot.stop()
    commands, reminders = _count(chair, bot_id, room)
    assert len(commands) == N_COMMANDS, sorted(set(f"{i:03d}" for i in range(N_COMMANDS))
                                               - set(commands))[:10]
    assert set(commands.values()) == {1}, [k for k, v in commands.items() if v > 1][:10]
    assert len(reminders) == N_REMINDERS
    dup = [k for k, v in reminders.items() if v > 1]
    assert set(reminders.values()) == {1}, dup[:10]


async def test_two_instances_on_one_postgresql(world: World, tmp_path: Path,
                                               pg_url: str) -> None:
    """Two bot processes (one account, a device each) on one PostgreSQL, the same stream."""
    owner = world.user("politie")
    room = world.room(world.chair, [world.bot_user, owner])
    world.join(owner, room)
    bots = []
    for name in ("a", "b"):
        env = {**world.env(), "CASUSBOT_DATABASE_URL": pg_url, "CASUSBOT_RATE_LIMIT": "10000",
               "CASUSBOT_STORE_PATH": str(tmp_path / f"store-{name}")}
        env_file = tmp_path / f"bot-{name}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        bots.append(BotProcess(env_file, tmp_path / f"bot-{name}.log"))
    bots[0].start()
    await _joined(world, room, world.bot_user.user_id)
    await _synced(pg_url)
    bots[0].stop()
    _seed(pg_url, room, world.chair.user_id, owner.user_id)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    for b in bots:
        b.start()  # both see the 200 due reminders and the stream
    for i in range(N_COMMANDS):
        await chair.send(room, f"!partner add Partner{i:03d} core")

    await _everything_answered(chair, bot_id, room)
    await asyncio.sleep(1.0)  # the other instance's sync: a duplicate would show by now
    for b in bots:
        b.stop()
    commands, reminders = _count(chair, bot_id, room)
    if len(commands) != N_COMMANDS:
        for b in bots:
            print(b.log.read_text()[-8000:])
    assert len(commands) == N_COMMANDS and set(commands.values()) == {1}
    assert len(reminders) == N_REMINDERS and set(reminders.values()) == {1}
    hulp = [s for s in chair.notices(bot_id, room) if "Commando's van casusbot" in s.body]
    assert len(hulp) == 1
