"""``casusbot crosssign``: the bot account's one cross-signing identity (``bot.crosssign``)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli.base import ENV_FILE, _engine, load_or_exit, main


@main.group(short_help="The bot's one cross-signing identity; reset it.")
def crosssign() -> None:
    """The bot's cross-signing identity: made once by the first instance, shared by all."""


@crosssign.command("reset", short_help="Replace the cross-signing identity by a new one.")
@ENV_FILE
@click.option("--yes", is_flag=True,
              help="Replace the identity without asking (every organisation then verifies "
                   "the bot again).")
def crosssign_reset(env_file: str | None, yes: bool) -> None:
    """Replace the bot's cross-signing identity by a new one. Every organisation that
    verified the bot must verify it again; the other instances sign their devices with the
    new identity at their next start. Needs CASUSBOT_PASSWORD (the homeserver asks for it)."""
    from bot.crosssign import CrossSigningError, reset

    config = load_or_exit(env_file)
    session_file = Path(config.store_path) / "session.json"
    if not session_file.exists():
        click.echo(f"casusbot: no session in {config.store_path}: start the bot once or run "
                   "`casusbot init`", err=True)
        sys.exit(2)
    saved = json.loads(session_file.read_text())
    click.echo("WARNING: a new cross-signing identity undoes every organisation's "
               "verification of the bot; each must verify it again (docs/admin.md).")
    if not yes and not click.confirm("Replace the identity?", default=False):
        click.echo("nothing changed.")
        sys.exit(1)
    try:
        master = asyncio.run(reset(config.homeserver, config.user_id, saved["device_id"],
                                   saved["access_token"], config.password,
                                   _engine(env_file), config.ref_key, datetime.now(UTC)))
    except CrossSigningError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(1)
    click.echo(f"new cross-signing identity: master key {master}")
