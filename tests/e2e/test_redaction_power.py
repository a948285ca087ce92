"""The bot can only protect what it may redact (issue 23), on a real Synapse: in a room where
the bot is no moderator, `!setup` says so, a refused message with a (generated, fake) phone
number stays and the chair is told at once that the bot could not remove it, and `casusbot
doctor` names the room until the bot is made moderator; demoted again, the chair is told at
once."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot import devserver
from bot.app import App
from bot.cli import main
from storage.db import session_scope
from storage.models import OutboxMessage
from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e


async def _sent(app: App, room: str, template: str, timeout: float = 15.0) -> str:
    """The event ID of the bot's message of ``template`` in ``room``, once it is sent."""
    for _ in range(int(timeout * 10)):
        with session_scope(app.engine) as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.room_id == room,
                                                     OutboxMessage.template == template,
                                                     OutboxMessage.sent_at.is_not(None))  # type: ignore[union-attr]
                         ).first()
        if row is not None:
            assert row.remote_id, f"{template} was not delivered: {row.last_error}"
            return row.remote_id
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no {template} sent in {room}")


async def test_a_bot_without_the_power_to_redact_says_so(world: World, tmp_path: Path) -> None:
    app, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user], bot_moderator=False)  # level 0
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id

    await ask(chair, room, bot_id, "!inrichten Casusoverleg Redactie")
    warned = await _sent(app, room, "setup/no_redact_power")
    await chair.wait_for(lambda s: s.event_id == warned, timeout=15)

    phone = f"06-{random.Random(23).randrange(10_000_000, 60_000_000)}"  # generated, fake
    event_id = await chair.send(room, f"!casus open ref X Bel {phone}")
    refused = await _sent(app, room, "error/pii")
    told = await _sent(app, room, "privacy/not_redacted")
    seen = await chair.wait_for(lambda s: s.event_id == told, timeout=15)
    assert world.chair.user_id in seen.body  # addressed to the chair
    assert phone not in seen.body and phone[3:] not in seen.body
    await chair.wait_for(lambda s: s.event_id == refused, timeout=15)
    token = world.synapse.login(world.chair.user_id.split(":")[0][1:],
                                world.chair.password)["access_token"]
    original = devserver.request(world.synapse.url, "GET",
                                 f"/_matrix/client/v3/rooms/{room}/event/{event_id}",
                                 token=token)
    assert original.get("content"), "the message was removed after all"

    env_file = tmp_path / "bot.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in world.env().items()))
    env_file.chmod(0o600)
    doctor = CliRunner().invoke(main, ["doctor", "--env-file", str(env_file)])
    assert "FAIL redaction power" in doctor.output and room in doctor.output, doctor.output

    devserver.make_moderator(world.synapse.url, token, room, bot_id)
    doctor = CliRunner().invoke(main, ["doctor", "--env-file", str(env_file)])
    assert "ok   redaction power" in doctor.output, doctor.output

    # Demoted again: the chair is told at once, not at the next message it cannot remove.
    devserver.make_moderator(world.synapse.url, token, room, bot_id, level=0)
    lost = await _sent(app, room, "setup/lost_redact_power")
    seen = await chair.wait_for(lambda s: s.event_id == lost, timeout=15)
    assert world.chair.user_id in seen.body


def test_the_demo_room_of_make_run_lets_the_bot_remove_messages(
        synapse: devserver.Synapse, tmp_path: Path) -> None:
    from bot.cli.dev import _provision
    from bot.matrix.events import redact_power_in

    creds = _provision(tmp_path, synapse)
    chair = synapse.login("chair", creds["users"]["chair"]["password"])["access_token"]
    levels = devserver.request(
        synapse.url, "GET",
        f"/_matrix/client/v3/rooms/{creds['room_id']}/state/m.room.power_levels", token=chair)
    have, need = redact_power_in(levels, creds["users"]["casusbot"]["user_id"])
    assert have >= need
