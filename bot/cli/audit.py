"""``casusbot audit``: verify the audit log's hash chain and export its entries as JSON lines
for the privacy officer (functionaris gegevensbescherming)."""

from __future__ import annotations

import sys
from typing import Any

import click

from bot.cli.base import ENV_FILE, _engine, main


@main.group(short_help="Verify or export the audit log.")
def audit() -> None:
    """Verify the audit log's hash chain, or export it for the privacy officer."""


@audit.command("verify")
@ENV_FILE
def audit_verify(env_file: str | None) -> None:
    """Check the audit log's hash chain.

    If it was altered, exit 1 and name the first broken entry.
    """
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


@audit.command("forget")
@ENV_FILE
@click.option("--overleg", "overleg_ref", required=True,
              help="The overleg: its ID or its exact name.")
@click.argument("partner")
def audit_forget(env_file: str | None, overleg_ref: str, partner: str) -> None:
    """Blank what the audit log says of a removed PARTNER.

    PARTNER is a removed partner's name (a person's name entered as a partner, say): the
    audit subjects that name it are blanked and the overleg's messages that name it are
    deleted. The chain still verifies (each subject is kept as its digest).
    """
    from storage import audit as audit_store
    from storage import outbox, overlegs
    from storage.db import checkpoint, session_scope

    engine = _engine(env_file)
    with session_scope(engine) as session:
        found = [o for o in overlegs.all_overlegs(session)
                 if str(o.id) == overleg_ref or o.name == overleg_ref]
        if len(found) != 1 or found[0].id is None:
            click.echo("no such overleg: give its ID or exact name (casusbot audit export "
                       "lists them)", err=True)
            sys.exit(2)
        overleg_id = found[0].id
        if overlegs.partner_by_name(session, overleg_id, partner) is not None:
            click.echo("that partner is still registered: remove it first "
                       "(!partner remove <name>), then forget it", err=True)
            sys.exit(2)
        blanked = audit_store.erase_subjects(session, partner, overleg_id)
        messages = outbox.delete_mentioning(session, found[0].room_id, partner)
    checkpoint(engine)  # the old text must not linger in SQLite's -wal file
    click.echo(f"{blanked} audit subjects blanked and {messages} messages deleted in overleg "
               f"{overleg_id}")


@audit.command("export")
@ENV_FILE
@click.option("--overleg", "overleg_ref", default=None,
              help="The overleg: its ID or its exact name (default: every overleg).")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="From this day on (UTC, for example 2026-01-01).")
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Up to and including this day (UTC).")
@click.option("--out", type=click.File("w"), default="-",
              help="The file to write (default: standard output).")
def audit_export(env_file: str | None, overleg_ref: str | None, since: Any, until: Any,
                 out: Any) -> None:
    """Write audit entries as JSON lines, for the privacy officer.

    The privacy officer is the functionaris gegevensbescherming.
    """
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
