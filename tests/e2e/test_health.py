"""`casusbot doctor` and the optional /metrics endpoint against a real bot and Synapse."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.devserver import free_port
from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def test_doctor_and_metrics(world: World, tmp_path: Path) -> None:
    port = free_port()
    _, bot = await world.start_bot(CASUSBOT_METRICS_PORT=str(port))
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    await ask(chair, room, world.bot_user.user_id, "!setup Overleg")

    env_file = tmp_path / "bot.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in world.env().items()))
    env_file.chmod(0o600)  # it holds secrets (doctor checks that)
    result = CliRunner().invoke(main, ["doctor", "--env-file", str(env_file)])
    assert result.exit_code == 0, result.output
    for name in ("configuration", "database", "homeserver", "e2ee store", "outbox"):
        assert f"ok   {name}:" in result.output, result.output

    def fetch() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    text = await asyncio.to_thread(fetch)  # the endpoint is served by this event loop
    assert "casusbot_outbox_depth 0" in text
    assert "casusbot_handled_total 1" in text and "casusbot_sent_total 1" in text

    broken = tmp_path / "broken.env"
    broken.write_text("".join(f"{k}={v}\n" for k, v in {
        **world.env(), "CASUSBOT_HOMESERVER": f"http://127.0.0.1:{free_port()}",
        "CASUSBOT_STORE_PATH": str(tmp_path / "nothing")}.items()))
    bad = CliRunner().invoke(main, ["doctor", "--env-file", str(broken)])
    assert bad.exit_code == 1
    assert "FAIL homeserver" in bad.output and "FAIL e2ee store" in bad.output
