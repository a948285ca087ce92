"""Setting up a deployment and checking it: ``init`` writes a configuration and logs the bot
in once, ``check-config`` and ``doctor`` check the settings and what they point at, and
``teams-package`` writes the Teams app package."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli.base import ENV_FILE, TRANSPORT, load_or_exit, main


@main.command(short_help="Write a configuration and log the bot in.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="casusbot.env",
              help="The configuration file to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option("--non-interactive", is_flag=True,
              help="Ask nothing: take every value from the options.")
@click.option("--homeserver", help="The homeserver's URL (for example https://matrix.example.org).")
@click.option("--user-id", help="The bot's Matrix ID (for example @casusbot:example.org).")
@click.option("--password", help="The bot account's password (used once, to log in).")
@click.option("--admins",
              help="The administrators: comma-separated Matrix IDs that may run !setup.")
@click.option("--database-url", default="sqlite:///casusbot.db", show_default=True,
              help="The database: a SQLite file or a PostgreSQL URL (SQLAlchemy form).")
@click.option("--store-path", default="./casusbot-store", show_default=True,
              help="The folder for the bot's session and E2EE keys (kept private).")
@click.option("--locale", type=click.Choice(["nl", "en"]), default="nl", show_default=True,
              help="The language of the bot's messages: nl (Dutch) or en (English).")
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
    # Written as absolute paths: the configuration means the same files from any folder
    # (a relative path read elsewhere would make a second database or a second device).
    database_url, store_path = absolute_database_url(database_url), str(Path(store_path).resolve())
    sqlite_folder(database_url)
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
    click.echo(_prepare_database(database_url, output))
    click.echo("Next steps:")
    click.echo(f"  1. keep {output} and the store folder secret, and back them up apart")
    click.echo(f"  2. casusbot run --env-file {output}")
    click.echo("  3. invite the bot to the overleg's encrypted room and type !setup <name>")


def absolute_database_url(url: str) -> str:
    """A SQLite URL with a relative file (``sqlite:///casusbot.db``) made absolute
    (``sqlite:////srv/casusbot/casusbot.db``); other URLs unchanged."""
    prefix = "sqlite:///"
    path = url[len(prefix):] if url.startswith(prefix) else ""
    if not path or path.startswith("/") or path.startswith(":memory:"):
        return url
    return prefix + str(Path(path).resolve())


def sqlite_folder(url: str) -> None:
    """Make the folder of an absolute SQLite URL's file (owner only) when it is missing, so
    the database can be created there; other URLs are left alone."""
    if url.startswith("sqlite:////"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True,
                                                          mode=0o700)


def _prepare_database(database_url: str, env_file: str) -> str:
    """Migrate the configured database, so that `casusbot doctor` passes right after `init`;
    the line to show. A database that cannot be reached yet (PostgreSQL) is left for later."""
    from storage.db import MigrationRefused, current_revision, make_engine, migrate

    engine = make_engine(database_url)
    try:
        migrate(engine, now=datetime.now(UTC))
        return f"database is at revision {current_revision(engine)}."
    except MigrationRefused as e:
        return f"the database was not migrated: {e}"
    except Exception as e:
        return (f"the database cannot be reached yet ({type(e).__name__}): run casusbot "
                f"migrate --env-file {env_file} once it can")
    finally:
        engine.dispose()


@main.command("check-config", short_help="Check the settings.")
@ENV_FILE
@TRANSPORT
def check_config(env_file: str | None, transport: str | None) -> None:
    """Check the settings and exit with 0 if they are usable, else 2."""
    config = load_or_exit(env_file, transport)
    if config.teams is not None:
        click.echo(f"configuration is valid for Teams on {config.teams.host}:"
                   f"{config.teams.port}")
        return
    click.echo(f"configuration is valid for {config.user_id} on {config.homeserver}")


@main.command(short_help="Check the whole set-up.")
@ENV_FILE
@TRANSPORT
def doctor(env_file: str | None, transport: str | None) -> None:
    """Check the set-up: settings, database, homeserver, E2EE store, outbox.

    Also whether files with secrets are private and whether the bot may remove messages
    in every overleg room. Exit 0 if every check passes, else 1.
    """
    from bot.health import doctor as run_checks

    config = load_or_exit(env_file, transport)
    failed = 0
    for check in run_checks(config, Path(env_file) if env_file else None):
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        failed += not check.ok
    sys.exit(1 if failed else 0)


@main.command("teams-package")
@ENV_FILE
@click.option("--organisation", required=True,
              help="The organisation shown as the app's developer.")
@click.option("--website-url", required=True,
              help="An https URL with information about the service.")
@click.option("--privacy-url", required=True, help="The https URL of the privacy statement.")
@click.option("--terms-url", required=True, help="The https URL of the terms of use.")
@click.option("--out", type=click.Path(dir_okay=False), default="casusbot-teams.zip",
              show_default=True, help="The package file to write.")
def teams_package(env_file: str | None, organisation: str, website_url: str,
                  privacy_url: str, terms_url: str, out: str) -> None:
    """Write the Teams app package for this deployment.

    The package holds the manifest (with this deployment's app ID) and the icons.
    """
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
