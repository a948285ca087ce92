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
@click.option("--force", is_flag=True,
              help="Replace it even when the stored identity does not open with the "
                   "configured CASUSBOT_REF_KEY (a lost key); other instances with the old "
                   "key then cannot sign their devices.")
def crosssign_reset(env_file: str | None, yes: bool, force: bool) -> None:
    """Replace the bot's cross-signing identity by a new one. Every organisation that
    verified the bot must verify it again, and every other instance must be restarted to
    sign its device with the new identity. Needs CASUSBOT_PASSWORD (the homeserver asks for
    it). Refused when the stored identity does not open with the configured key (a mistyped
    key would lock the other instances out), unless --force."""
    import aiohttp

    from bot.crosssign import CrossSigningError, IdentityUnusable, reset

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
                                   saved["access_token"], config.password, _engine(env_file),
                                   (config.ref_key, *config.previous_ref_keys),
                                   datetime.now(UTC), force=force))
    except IdentityUnusable as e:
        click.echo(f"casusbot: nothing changed: {e} (--force replaces it all the same)",
                   err=True)
        sys.exit(1)
    except (CrossSigningError, aiohttp.ClientError, TimeoutError) as e:
        click.echo(f"casusbot: nothing changed: {e or type(e).__name__}", err=True)
        sys.exit(1)
    click.echo(f"new cross-signing identity: master key {master}")
    click.echo("Now restart every other instance of the bot: each signs its device with the "
               "new identity when it starts.")
