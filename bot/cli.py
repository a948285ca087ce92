"""The ``casusbot`` command line: a thin layer over ``bootstrap`` and the transports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from dotenv import dotenv_values

from bot import logs
from bot.config import Config, ConfigError, load

if TYPE_CHECKING:
    from bot.app import App

DEV_DIR = Path(".dev")
DEMO_USERS = ("chair", "coordinator", "partner1", "partner2")


def read_env(env_file: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The file's values under the real environment (the environment wins)."""
    merged: dict[str, str] = {}
    if env_file:
        if not Path(env_file).exists():
            raise ConfigError(f"--env-file {env_file} does not exist")
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(environ)
    return merged


def load_or_exit(env_file: str | None, transport: str | None = None) -> Config:
    try:
        return load(read_env(env_file, os.environ), transport)
    except ConfigError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)


def _bootstrap_or_exit(config: Config) -> App:
    """The app for ``config``; a database from before migrations stops with its message."""
    from bot.app import bootstrap
    from bot.clock import SystemClock
    from storage.db import PreMigrationDatabase

    try:
        return bootstrap(config, SystemClock())
    except PreMigrationDatabase as e:
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
    await asyncio.wait([waiter, *transport._tasks], return_when=asyncio.FIRST_COMPLETED)
    await transport.stop()
    app.engine.dispose()


@click.group()
@click.version_option(package_name="casusbot")
def main() -> None:
    """casusbot: coordinates case meetings with pseudonymised case IDs only."""


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
    mode = "anonymous (local test only)" if config.teams and config.teams.anonymous else \
        f"app {config.teams.app_id if config.teams else '?'}"
    click.echo(f"casusbot is running on Teams at {bot.url}/api/messages, {mode}. "
               f"Ctrl-C stops it.", err=True)
    await stop.wait()
    await bot.stop()
    app.engine.dispose()


TRANSPORT = click.option(
    "--transport", type=click.Choice(["matrix", "teams"]), default=None,
    help="The chat platform (default: CASUSBOT_TRANSPORT, else matrix).")


@main.command()
@click.option("--env-file", type=click.Path(dir_okay=False), default=None,
              help="A .env file with CASUSBOT_* settings (the environment wins).")
@TRANSPORT
def run(env_file: str | None, transport: str | None) -> None:
    """Run the bot on Matrix (or Teams) until interrupted."""
    config = load_or_exit(env_file, transport)
    logs.setup(config.log_level)
    asyncio.run(_run_teams(config) if config.platform == "teams" else _run_bot(config))


@main.command("teams-package")
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
@click.option("--organisation", required=True, help="Shown as the app's developer.")
@click.option("--website-url", required=True, help="https URL about the service.")
@click.option("--privacy-url", required=True, help="https URL of the privacy statement.")
@click.option("--terms-url", required=True, help="https URL of the terms of use.")
@click.option("--out", type=click.Path(dir_okay=False), default="casusbot-teams.zip",
              show_default=True)
def teams_package(env_file: str | None, organisation: str, website_url: str,
                  privacy_url: str, terms_url: str, out: str) -> None:
    """Write the Teams app package (manifest + icons) for this deployment's app ID."""
    from bot.teams.package import PackageError, build

    config = load_or_exit(env_file, "teams")
    app_id = config.teams.app_id if config.teams else ""
    try:
        data = build(app_id, organisation, website_url, privacy_url, terms_url)
    except PackageError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)
    Path(out).write_bytes(data)
    click.echo(f"wrote {out}: upload it in the Teams admin center (Manage apps, Upload) "
               f"or sideload it for a test team")


@main.command("check-config")
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
@TRANSPORT
def check_config(env_file: str | None, transport: str | None) -> None:
    """Check the settings and exit: 0 if they are usable."""
    config = load_or_exit(env_file, transport)
    if config.teams is not None:
        click.echo(f"configuration is valid for Teams on {config.teams.host}:"
                   f"{config.teams.port}")
        return
    click.echo(f"configuration is valid for {config.user_id} on {config.homeserver}")


def _engine(env_file: str | None) -> Any:
    from storage.db import make_engine, migrate

    config = load_or_exit(env_file)
    engine = make_engine(config.database_url)
    migrate(engine)
    return engine


@main.command("migrate")
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
def migrate_cmd(env_file: str | None) -> None:
    """Bring the database schema up to date (the bot also does this at start)."""
    from storage.db import PreMigrationDatabase, current_revision, make_engine, migrate

    config = load_or_exit(env_file)
    engine = make_engine(config.database_url)
    try:
        migrate(engine)
    except PreMigrationDatabase as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)
    click.echo(f"database is at revision {current_revision(engine)}")


@main.group()
def audit() -> None:
    """The audit log: verify its hash chain, export it for the privacy officer."""


@audit.command("verify")
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
def audit_verify(env_file: str | None) -> None:
    """Check the hash chain; exit 1 and name the first broken entry if it was altered."""
    from storage import audit as audit_store
    from storage.db import session_scope

    with session_scope(_engine(env_file)) as session:
        broken = audit_store.verify(session)
        count, head = audit_store.head(session)
    if broken is not None:
        click.echo(f"audit chain BROKEN at entry {broken}: it, or one before it, was altered, "
                   f"removed or reordered")
        sys.exit(1)
    click.echo(f"audit chain intact: {count} entries; head {head}")
    click.echo("keep the head hash elsewhere: a later verify that does not reach it means "
               "entries were cut off the end")


@audit.command("export")
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
@click.option("--overleg", "overleg_ref", default=None,
              help="Overleg ID or exact name (default: all).")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Up to and including this day (UTC).")
@click.option("--out", type=click.File("w"), default="-")
def audit_export(env_file: str | None, overleg_ref: str | None, since: Any, until: Any,
                 out: Any) -> None:
    """Write audit entries as JSON lines (for the functionaris gegevensbescherming)."""
    from datetime import UTC, timedelta

    from storage import audit as audit_store
    from storage import overlegs
    from storage.db import session_scope

    with session_scope(_engine(env_file)) as session:
        overleg_id = None
        if overleg_ref:
            found = [o for o in overlegs.all_overlegs(session)
                     if str(o.id) == overleg_ref or o.name == overleg_ref]
            if not found:
                click.echo(f"casusbot: no overleg {overleg_ref!r}", err=True)
                sys.exit(2)
            overleg_id = found[0].id
        rows = audit_store.entries(
            session, overleg_id, since=since.replace(tzinfo=UTC) if since else None,
            until=(until.replace(tzinfo=UTC) + timedelta(days=1)) if until else None)
        for line in audit_store.export_lines(rows):
            out.write(line + "\n")


@main.command()
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
@click.option("--dry-run", is_flag=True, help="Only list what would be purged.")
def purge(env_file: str | None, dry_run: bool) -> None:
    """Purge closed cases whose retention term has passed (the bot also does this itself)."""
    from datetime import UTC, datetime

    from commands import retention
    from storage.db import session_scope

    with session_scope(_engine(env_file)) as session:
        report = retention.purge(session, datetime.now(UTC), dry_run=dry_run)
    if not report:
        click.echo("nothing to purge")
    for entry in report:
        what = "would purge" if dry_run else "purged"
        click.echo(f"{what} {entry['case']} of {entry['overleg']} (closed {entry['closed_at']})"
                   + (f": {entry['removed']}" if "removed" in entry else ""))


@main.command()
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
@click.option("--new-key", envvar="CASUSBOT_NEW_REF_KEY", prompt="New reference key",
              hide_input=True, confirmation_prompt=True,
              help="The new key (or set CASUSBOT_NEW_REF_KEY); at least 16 characters.")
def rekey(env_file: str | None, new_key: str) -> None:
    """Rotate CASUSBOT_REF_KEY: wrap every stored keyed hash under a new key.

    Stop the bot first. Afterwards set CASUSBOT_REF_KEY to the new key and append the old
    one to CASUSBOT_REF_KEY_PREVIOUS (this command prints both lines).
    """
    from datetime import UTC, datetime

    from commands import refs
    from storage import audit as audit_store
    from storage import privacy
    from storage.db import session_scope

    config = load_or_exit(env_file)
    if len(new_key) < 16 or new_key.encode() in (config.ref_key, *config.previous_ref_keys):
        click.echo("casusbot: the new key must be new and at least 16 characters", err=True)
        sys.exit(2)
    with session_scope(_engine(env_file)) as session:
        cases, words = privacy.rewrap(session, lambda h: refs.wrap(new_key.encode(), h))
        audit_store.record(session, overleg_id=None, actor="casusbot rekey", role="admin",
                           action="refs.rekey", subject=f"{cases} references, {words} words",
                           now=datetime.now(UTC))
    previous = [k.decode() for k in (*config.previous_ref_keys, config.ref_key)]
    click.echo(f"rewrapped {cases} case references and {words} forbidden words.")
    click.echo("Now put these two lines in the configuration (and keep both secret):")
    click.echo("CASUSBOT_REF_KEY=<the new key you just typed>")
    click.echo(f"CASUSBOT_REF_KEY_PREVIOUS={','.join(previous)}")


@main.command()
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
def doctor(env_file: str | None) -> None:
    """Check the configuration, database, homeserver, E2EE store and outbox."""
    from bot.health import doctor as run_checks

    config = load_or_exit(env_file)
    failed = 0
    for check in run_checks(config):
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        failed += not check.ok
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="casusbot.env",
              help="The configuration file to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option("--non-interactive", is_flag=True, help="Take every value from the options.")
@click.option("--homeserver", help="Homeserver URL, e.g. https://matrix.example.org")
@click.option("--user-id", help="The bot's Matrix ID, e.g. @casusbot:example.org")
@click.option("--password", help="The bot account's password (used once, to log in).")
@click.option("--admins", help="Comma-separated Matrix IDs allowed to !setup.")
@click.option("--database-url", default="sqlite:///casusbot.db", show_default=True)
@click.option("--store-path", default="./casusbot-store", show_default=True)
@click.option("--locale", type=click.Choice(["nl", "en"]), default="nl", show_default=True)
def init(output: str, force: bool, non_interactive: bool, homeserver: str | None,
         user_id: str | None, password: str | None, admins: str | None, database_url: str,
         store_path: str, locale: str) -> None:
    """Write a configuration with a fresh reference key and log the bot in once."""
    from bot.setupwizard import InitError, initialise

    if Path(output).exists() and not force:
        click.echo(f"casusbot: {output} exists; use --force to overwrite it", err=True)
        sys.exit(2)
    if not non_interactive:
        homeserver = homeserver or click.prompt("Homeserver URL")
        user_id = user_id or click.prompt("The bot's Matrix ID")
        password = password or click.prompt("The bot's password", hide_input=True)
        admins = admins or click.prompt("Admins (comma-separated Matrix IDs)")
    missing = [n for n, v in (("--homeserver", homeserver), ("--user-id", user_id),
                              ("--password", password), ("--admins", admins)) if not v]
    if missing:
        click.echo(f"casusbot: {', '.join(missing)} required with --non-interactive", err=True)
        sys.exit(2)
    assert homeserver and user_id and password and admins
    try:
        device = asyncio.run(initialise(
            Path(output), homeserver=homeserver, user_id=user_id, password=password,
            admins=admins, database_url=database_url, store_path=Path(store_path),
            locale=locale))
    except InitError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)
    click.echo(f"wrote {output} (mode 600) with a fresh CASUSBOT_REF_KEY; the bot is logged "
               f"in as device {device} (session kept in {store_path}).")
    click.echo("Next steps:")
    click.echo(f"  1. keep {output} and the store folder secret, and back them up apart")
    click.echo(f"  2. casusbot run --env-file {output}")
    click.echo("  3. invite the bot to the overleg's encrypted room and type !setup <name>")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
def backup(directory: str, env_file: str | None) -> None:
    """Write a consistent copy of the database and the E2EE store to DIRECTORY."""
    from bot.backup import BackupError, make_backup

    config = load_or_exit(env_file)
    try:
        for line in make_backup(config, Path(directory)):
            click.echo(line)
    except BackupError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--env-file", type=click.Path(dir_okay=False), default=None)
@click.option("--force", is_flag=True, help="Replace an existing database and store.")
def restore(directory: str, env_file: str | None, force: bool) -> None:
    """Put a backup made by `casusbot backup` back in place (stop the bot first)."""
    from bot.backup import BackupError, restore_backup

    config = load_or_exit(env_file)
    try:
        for line in restore_backup(config, Path(directory), force=force):
            click.echo(line)
    except BackupError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)


# ---- the local demo: `make run` and `make chat` ---------------------------------------------
@main.group()
def dev() -> None:
    """A local Synapse and demo users, for trying casusbot (data under .dev/)."""


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
    for name in ("coordinator", "partner1", "partner2"):
        token = synapse.login(name, users[name]["password"])["access_token"]
        devserver.join(synapse.url, token, room_id)
    creds = {"homeserver": synapse.url, "users": users, "room_id": room_id}
    cred_path.write_text(json.dumps(creds, indent=2))
    os.chmod(cred_path, 0o600)
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
    env_path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    os.chmod(env_path, 0o600)
    creds["fresh"] = True
    return creds


@dev.command("run")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=str(DEV_DIR))
def dev_run(directory: str) -> None:
    """Start Synapse on loopback, create the demo users and room, and run the bot."""
    from bot import devserver

    root = Path(directory).resolve()
    synapse = devserver.prepare(root / "synapse")
    synapse.start()
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
        click.echo("Start with:  !inrichten Casusoverleg demo   then   !hulp")
        click.echo("")
        config = load_or_exit(str(root / "casusbot.env"))
        logs.setup(config.log_level)
        asyncio.run(_run_bot(config))
    finally:
        synapse.stop()


@main.command()
@click.option("--as", "who", type=click.Choice(DEMO_USERS), default="chair",
              help="Which demo user to type as.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=str(DEV_DIR))
def chat(who: str, directory: str) -> None:
    """A small terminal client for the demo room: type a line, see the bot's replies."""
    from bot.chat import run_chat

    cred_path = Path(directory) / "credentials.json"
    if not cred_path.exists():
        click.echo("casusbot: no demo yet; run `make run` first (in another terminal)", err=True)
        sys.exit(2)
    creds = json.loads(cred_path.read_text())
    asyncio.run(run_chat(creds, who, Path(directory) / "chat" / who))


if __name__ == "__main__":
    main()
