"""The ``casusbot`` group and what its commands share: the settings read from an env file
under the real environment (loaded, or the command exits with the problem), the
``--transport`` option, and an engine on the migrated database."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from dotenv import dotenv_values

from bot.config import Config, ConfigError, load


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
    """The settings, or exit 2 with the problem; without ``--env-file`` the message says how
    to give one (the settings usually live in the file ``casusbot init`` wrote)."""
    try:
        return load(read_env(env_file, os.environ), transport)
    except ConfigError as e:
        hint = ""
        if env_file is None:
            found = Path("casusbot.env")
            hint = (f"; no --env-file was given: add --env-file {found} (it is here)"
                    if found.exists() else
                    "; no --env-file was given: add --env-file <the file casusbot init wrote>"
                    ", or set the CASUSBOT_* settings in the environment")
        click.echo(f"casusbot: {e}{hint}", err=True)
        sys.exit(2)


@click.group()
@click.version_option(package_name="casusbot")
def main() -> None:
    """Casusbot coordinates case meetings with pseudonymised case IDs only.

    Most commands read their settings from the file `casusbot init` wrote: add
    --env-file casusbot.env. Each command's --help says what it does.
    """
    from bot.private import restrict_umask

    restrict_umask()  # the store, the database and the configuration are private


TRANSPORT = click.option(
    "--transport", type=click.Choice(["matrix", "teams"]), default=None,
    help="The chat platform: matrix or teams (default: CASUSBOT_TRANSPORT, else matrix).")

ENV_FILE = click.option(
    "--env-file", type=click.Path(dir_okay=False), default=None,
    help="The file with the CASUSBOT_* settings, e.g. casusbot.env as casusbot init wrote "
         "it (settings in the environment win).")


def _engine(env_file: str | None) -> Any:
    from storage.db import make_engine, migrate

    config = load_or_exit(env_file)
    engine = make_engine(config.database_url)
    migrate(engine, now=datetime.now(UTC))
    return engine
