"""``casusbot run``: bootstrap the app and run it on Matrix or on Teams until SIGINT or
SIGTERM, a login or listening problem ending with its message instead of a stack."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from typing import TYPE_CHECKING

import click

from bot import logs
from bot.cli.base import ENV_FILE, TRANSPORT, load_or_exit, main
from bot.config import Config

if TYPE_CHECKING:
    from bot.app import App


def _bootstrap_or_exit(config: Config) -> App:
    """The app for ``config``; a database a migration refuses stops with its message."""
    from bot.app import bootstrap
    from bot.clock import SystemClock
    from storage.db import MigrationRefused

    try:
        return bootstrap(config, SystemClock())
    except MigrationRefused as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)


def _stop_on_signals() -> asyncio.Event:
    """Set on SIGINT or SIGTERM (Ctrl-C, systemd stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _run_bot(config: Config) -> None:
    from bot.matrix import LoginFailed, MatrixTransport

    app = _bootstrap_or_exit(config)
    transport = MatrixTransport(app)
    stop = _stop_on_signals()
    try:
        await transport.start()
    except LoginFailed as e:
        click.echo(f"casusbot: {e}", err=True)
        await transport.client.close()
        sys.exit(2)
    click.echo(f"casusbot is running as {config.user_id} on {config.homeserver} "
               f"(device {transport.client.device_id}). Ctrl-C stops it.", err=True)
    waiter = asyncio.create_task(stop.wait())
    frozen = asyncio.create_task(_freeze_when(transport.ready))
    await asyncio.wait([waiter, *transport._tasks], return_when=asyncio.FIRST_COMPLETED)
    frozen.cancel()
    await transport.stop()
    app.engine.dispose()


async def _freeze_when(ready: asyncio.Event) -> None:
    """Once started (the first sync done), what was loaded lives as long as the process:
    the code, templates, the database's metadata, the rooms' state. ``gc.freeze`` moves it
    out of the cyclic garbage collector's view, so a full collection no longer walks it
    (measured in `make bench`'s bot: 57 ms per full collection before). Only here, in the
    process that runs the bot: objects frozen are never collected as cycles."""
    await ready.wait()
    gc.freeze()


async def _run_teams(config: Config) -> None:
    try:
        from bot.teams.bot import TeamsBot
    except ImportError:
        click.echo("casusbot: Teams needs the optional packages: "
                   "pip install 'casusbot[teams]'", err=True)
        sys.exit(2)
    app = _bootstrap_or_exit(config)
    bot = TeamsBot(app)
    stop = _stop_on_signals()
    try:
        await bot.start()
    except OSError as e:
        click.echo(f"casusbot: cannot listen on {config.teams.host if config.teams else '?'}:"
                   f"{config.teams.port if config.teams else '?'}: {e.strerror}; "
                   f"set CASUSBOT_TEAMS_PORT", err=True)
        sys.exit(2)
    gc.freeze()  # (see _freeze_when: the Teams endpoint is ready once it listens)
    mode = "anonymous (local test only)" if config.teams and config.teams.anonymous else \
        f"app {config.teams.app_id if config.teams else '?'}"
    click.echo(f"casusbot is running on Teams at {bot.url}/api/messages, {mode}. "
               f"Ctrl-C stops it.", err=True)
    await stop.wait()
    await bot.stop()
    app.engine.dispose()


@main.command()
@ENV_FILE
@TRANSPORT
def run(env_file: str | None, transport: str | None) -> None:
    """Run the bot on Matrix (or Teams) until interrupted."""
    config = load_or_exit(env_file, transport)
    logs.setup(config.log_level)
    asyncio.run(_run_teams(config) if config.platform == "teams" else _run_bot(config))
