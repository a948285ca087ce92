"""The data's upkeep from the command line: ``migrate`` the schema, ``backup`` and
``restore`` the database with the E2EE store, ``rekey`` the stored keyed hashes under a new
reference key, and ``purge`` closed cases past their retention term."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.cli.base import ENV_FILE, _engine, load_or_exit, main


@main.command("migrate", short_help="Bring the database schema up to date.")
@ENV_FILE
def migrate_cmd(env_file: str | None) -> None:
    """Bring the database schema up to date (the bot also does this at start)."""
    from storage.db import MigrationRefused, current_revision, make_engine, migrate

    config = load_or_exit(env_file)
    engine = make_engine(config.database_url)
    try:
        migrate(engine, now=datetime.now(UTC))
    except MigrationRefused as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)
    click.echo(f"database is at revision {current_revision(engine)}")


@main.command(short_help="Back up the database and the E2EE store.")
@click.argument("directory", type=click.Path(file_okay=False))
@ENV_FILE
def backup(directory: str, env_file: str | None) -> None:
    """Write a consistent copy of the database and the E2EE store to DIRECTORY.

    DIRECTORY is created if it is not there (mode 0700); keep it as secret as the
    configuration.
    """
    from bot.backup import BackupError, make_backup

    config = load_or_exit(env_file)
    try:
        for line in make_backup(config, Path(directory)):
            click.echo(line)
    except BackupError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)


@main.command(short_help="Put a backup back in place.")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@ENV_FILE
@click.option("--force", is_flag=True, help="Replace a database and store that are already there.")
def restore(directory: str, env_file: str | None, force: bool) -> None:
    """Put a backup made by `casusbot backup` back in place (stop the bot first).

    DIRECTORY is the folder that `casusbot backup` wrote.
    """
    from bot.backup import BackupError, restore_backup

    config = load_or_exit(env_file)
    try:
        for line in restore_backup(config, Path(directory), force=force):
            click.echo(line)
    except BackupError as e:
        click.echo(f"casusbot: {e}", err=True)
        sys.exit(2)


@main.command(short_help="Rotate the reference key (CASUSBOT_REF_KEY).")
@ENV_FILE
@click.option("--new-key", envvar="CASUSBOT_NEW_REF_KEY", prompt="New reference key",
              hide_input=True, confirmation_prompt=True,
              help="The new key (or set CASUSBOT_NEW_REF_KEY); at least 16 characters.")
def rekey(env_file: str | None, new_key: str) -> None:
    """Rotate CASUSBOT_REF_KEY: wrap every stored keyed hash under a new key.

    Stop the bot first. Afterwards set CASUSBOT_REF_KEY to the new key and append the old
    one to CASUSBOT_REF_KEY_PREVIOUS (this command prints both lines).
    """
    from commands import refs
    from storage import audit as audit_store
    from storage import privacy
    from storage.db import session_scope

    config = load_or_exit(env_file)
    if len(new_key) < 16 or new_key.encode() in (config.ref_key, *config.previous_ref_keys):
        click.echo("casusbot: the new key must be new and at least 16 characters", err=True)
        sys.exit(2)
    engine = _engine(env_file)
    try:  # before anything changes: the identity must open with the configured keys
        identity = _stored_identity(engine, config)
    except Exception as e:
        click.echo(f"casusbot: nothing changed: {e}", err=True)
        sys.exit(1)
    with session_scope(engine) as session:
        cases, words = privacy.rewrap(session, lambda h: refs.wrap(new_key.encode(), h))
        audit_store.record(session, overleg_id=None, actor="casusbot rekey", role="admin",
                           action="refs.rekey", subject=f"{cases} references, {words} words",
                           now=datetime.now(UTC))
    previous = [k.decode() for k in (*config.previous_ref_keys, config.ref_key)]
    click.echo(f"rewrapped {cases} case references and {words} forbidden words.")
    if identity is not None:
        from bot.crosssign import seal
        from storage import crosssigning

        crosssigning.replace(engine, config.user_id, identity.master_public,
                             seal(identity, new_key.encode(), config.user_id),
                             datetime.now(UTC))
        click.echo("resealed the bot's cross-signing keys under the new key.")
    click.echo("Now put these two lines in the configuration (and keep both secret):")
    click.echo("CASUSBOT_REF_KEY=<the new key you just typed>")
    click.echo(f"CASUSBOT_REF_KEY_PREVIOUS={','.join(previous)}")


def _stored_identity(engine: Any, config: Any) -> Any:
    """The bot's cross-signing identity, opened with the configured keys (``bot.crosssign``);
    None before the bot made one. Raises ``IdentityUnusable`` when they do not open it."""
    from bot.crosssign import _opened
    from storage import crosssigning

    row = crosssigning.identity(engine, config.user_id)
    if row is None:
        return None
    return _opened(row, (config.ref_key, *config.previous_ref_keys), config.user_id)


@main.command(short_help="Purge closed cases past their retention term.")
@ENV_FILE
@click.option("--dry-run", is_flag=True, help="Only list what would be purged; change nothing.")
def purge(env_file: str | None, dry_run: bool) -> None:
    """Purge closed cases whose retention term has passed (the bot also does this itself)."""
    from commands import retention
    from storage.db import scrub, session_scope

    engine = _engine(env_file)
    with session_scope(engine) as session:
        report = retention.purge(session, datetime.now(UTC), dry_run=dry_run)
    if report and not dry_run:
        scrub(engine)  # not in SQLite's -wal file, nor PostgreSQL's dead rows or samples
    if not report:
        click.echo("nothing to purge")
    for entry in report:
        what = "would purge" if dry_run else "purged"
        click.echo(f"{what} {entry['case']} of {entry['overleg']} (closed {entry['closed_at']})"
                   + (f": {entry['removed']}" if "removed" in entry else ""))
