"""The local demo (``make run`` and ``make chat``): ``casusbot dev run`` starts Synapse on
loopback with demo users and an encrypted room and runs the bot; ``casusbot chat`` is a small
terminal client for that room. Its data lives under ``.dev/``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from bot import logs
from bot.cli.base import load_or_exit, main
from bot.cli.run import _run_bot
from bot.private import write_private

DEV_DIR = Path(".dev")
DEMO_USERS = ("chair", "coordinator", "partner1", "partner2")


@main.group(short_help="Try casusbot locally with a demo Synapse.")
def dev() -> None:
    """Try casusbot locally: a Synapse on loopback with demo users (data under .dev/)."""


def _provision(directory: Path, synapse: Any) -> dict[str, Any]:
    """Register the bot and demo users and create the encrypted demo room, once."""
    from bot import devserver

    cred_path = directory / "credentials.json"
    if cred_path.exists():
        creds: dict[str, Any] = json.loads(cred_path.read_text())
        creds["fresh"] = False
        return creds
    users: dict[str, dict[str, str]] = {}
    for name in ("casusbot", *DEMO_USERS):
        password = secrets.token_urlsafe(12)
        users[name] = {"user_id": synapse.register(name, password), "password": password}
    chair = synapse.login("chair", users["chair"]["password"])
    room_id = devserver.create_room(synapse.url, chair["access_token"], name="Casusoverleg demo",
                                    invite=[u["user_id"] for n, u in users.items()
                                            if n != "chair"])
    # The bot removes a message with personal data that it refused: it must be moderator.
    devserver.make_moderator(synapse.url, chair["access_token"], room_id,
                             users["casusbot"]["user_id"])
    for name in ("coordinator", "partner1", "partner2"):
        token = synapse.login(name, users[name]["password"])["access_token"]
        devserver.join(synapse.url, token, room_id)
    creds = {"homeserver": synapse.url, "users": users, "room_id": room_id}
    write_private(cred_path, json.dumps(creds, indent=2))
    env = {
        "CASUSBOT_HOMESERVER": synapse.url,
        "CASUSBOT_USER_ID": users["casusbot"]["user_id"],
        "CASUSBOT_PASSWORD": users["casusbot"]["password"],
        "CASUSBOT_STORE_PATH": str(directory / "bot-store"),
        "CASUSBOT_DATABASE_URL": f"sqlite:///{directory / 'casusbot.db'}",
        "CASUSBOT_ADMINS": users["chair"]["user_id"],
        "CASUSBOT_REF_KEY": secrets.token_urlsafe(32),
    }
    env_path = directory / "casusbot.env"
    write_private(env_path, "".join(f"{k}={v}\n" for k, v in env.items()))
    creds["fresh"] = True
    return creds


def start_hint(database_url: str, room_id: str) -> str:
    """What to type first in the demo room: ``!inrichten`` while the room is no overleg
    (a new demo, or one whose database has no tables yet), only ``!hulp`` once it is one (a
    restarted demo). Reads the database without creating or migrating it."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    from storage import overlegs
    from storage.db import make_engine, sqlite_file

    setup = "Start with:  !inrichten Casusoverleg demo   then   !hulp"
    path = sqlite_file(database_url)
    if path is not None and not path.exists():
        return setup
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            overleg = overlegs.by_room(session, room_id)
            name = overleg.name if overleg is not None else None
    except OperationalError:  # no tables yet: `casusbot dev run` migrates it when it starts
        return setup
    finally:
        engine.dispose()
    if name is None:
        return setup
    return f"The demo room is the overleg '{name}' already; type !hulp for the commands."


@dev.command("run")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=str(DEV_DIR),
              show_default=True, help="The folder for the demo's Synapse, users and database.")
def dev_run(directory: str) -> None:
    """Start a local Synapse with a demo room, and run the bot.

    Synapse listens on 127.0.0.1 only; the demo users and the encrypted demo room (with
    the bot as moderator) are made the first time.
    """
    from bot import devserver

    if devserver.synapse_missing():
        click.echo("casusbot: the local demo needs Synapse, which is not installed here: "
                   "pip install 'casusbot[test]' (make run installs it)", err=True)
        sys.exit(2)
    root = Path(directory).resolve()
    synapse = devserver.prepare(root / "synapse")
    try:
        synapse.start()
    except devserver.NotStarted as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)
    try:
        creds = _provision(root, synapse)
        click.echo("")
        click.echo(f"Synapse runs at {synapse.url} (data in {root}).")
        click.echo("Demo room: 'Casusoverleg demo' (encrypted), with the bot and these users:")
        for name in DEMO_USERS:
            user = creds["users"][name]
            shown = user["password"] if creds["fresh"] else "(see .dev/credentials.json)"
            click.echo(f"  {name:<12} {user['user_id']:<26} password: {shown}")
        if creds["fresh"]:
            click.echo("These passwords are printed once; they are kept in "
                       ".dev/credentials.json (mode 600).")
        click.echo("Log in with any Matrix client at that URL, or run `make chat` in a second "
                   "terminal.")
        config = load_or_exit(str(root / "casusbot.env"))
        click.echo(start_hint(config.database_url, creds["room_id"]))
        click.echo("")
        logs.setup(config.log_level)
        asyncio.run(_run_bot(config))
    finally:
        synapse.stop()


@main.command(short_help="Chat in the demo room from the terminal.")
@click.option("--as", "who", type=click.Choice(DEMO_USERS), default="chair",
              help="Which demo user to type as.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=str(DEV_DIR),
              show_default=True, help="The demo's folder, as `casusbot dev run` made it.")
def chat(who: str, directory: str) -> None:
    """A small terminal client for the demo room: type a line, see the bot's replies.

    Ctrl-C or Ctrl-D quits at once, with exit status 0.
    """
    from bot.chat import ChatError, own_terminal, run_chat

    cred_path = Path(directory) / "credentials.json"
    if not cred_path.exists():
        click.echo("casusbot: no demo yet; run `make run` first (in another terminal)", err=True)
        sys.exit(2)
    creds = json.loads(cred_path.read_text())
    # Ctrl-C goes to the client alone (under make too); one before the client listens for
    # it is a quit as well.
    try:
        with own_terminal(sys.stdin.fileno()), contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_chat(creds, who, Path(directory) / "chat" / who))
    except ChatError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)
