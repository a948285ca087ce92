"""``casusbot case export`` and ``casusbot case erase``: the data subject's rights per case
(AVG art. 15 and 17; issue 24), for the bot's administrator. The municipality maps the person
to a case ID in its own registration; the bot knows only the ID.

Both are audited (``case.export``, ``case.erased``); the rules are in commands/casefile.py,
the file formats in bot/casefile.py.
"""

from __future__ import annotations

import errno
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.cli.base import ENV_FILE, load_or_exit, main
from bot.private import FILE_MODE
from commands.casefile import ERASE_REASONS

EXAMPLE_ID = "C-7K2FJ7"


@main.group(short_help="Export or erase one case (inzage, verwijdering).")
def case() -> None:
    """Everything the bot holds on one case, for a data subject's request.

    Export it (inzage, AVG art. 15) or erase it before its retention term (verwijdering,
    AVG art. 17). Corrections (art. 16) are made in the chat: !actie wijzig.
    """


def _open(env_file: str | None) -> Any:
    """An App built as the bot builds it (engine on the migrated database, renderer)."""
    from bot.app import bootstrap
    from bot.clock import SystemClock

    return bootstrap(load_or_exit(env_file), SystemClock())


def _find_or_exit(session: Any, case_id: str) -> Any:
    """The (overleg, case) that CASE_ID names, or exit 2 saying why (a wrong ID, an erased
    case, no such case)."""
    from commands import casefile, caseid, parse
    from storage import cases

    code = parse.typed_case_code(case_id.strip())
    if code is None:
        if caseid.mistyped(case_id):
            click.echo(f"casusbot: CASE_ID fails its check character, so it is probably "
                       f"mistyped; copy it as the overleg shows it, for example {EXAMPLE_ID}",
                       err=True)
        else:
            click.echo(f"casusbot: CASE_ID is not a case ID; give it as the overleg shows "
                       f"it, for example {EXAMPLE_ID}", err=True)
        sys.exit(2)
    found = casefile.find(session, case_id)
    if found is None:
        stone = cases.tombstone(session, code)
        if stone is not None and stone.reason == "retention":
            click.echo(f"casusbot: {caseid.display(code)} was purged on "
                       f"{stone.erased_at:%Y-%m-%d} after its retention term; the bot holds "
                       f"nothing more on it", err=True)
        elif stone is not None:
            click.echo(f"casusbot: {caseid.display(code)} was erased on "
                       f"{stone.erased_at:%Y-%m-%d} (reason: {stone.reason}); the bot holds "
                       f"nothing more on it", err=True)
        else:
            click.echo(f"casusbot: no case {caseid.display(code)} in this bot's database",
                       err=True)
        sys.exit(2)
    return found


@case.command("export")
@click.argument("case_id")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="The file to write (made readable by its owner only, mode 0600).")
@click.option("--format", "fmt", type=click.Choice(["json", "html", "pdf"]), default=None,
              help="The file's format: json (machine-readable), html or pdf (readable); "
                   "default: by the file's suffix.")
@click.option("--language", type=click.Choice(["nl", "en"]), default=None,
              help="The language of the html or pdf (default: the overleg's).")
@click.option("--force", is_flag=True,
              help="Overwrite --out if it is an existing file (never a symbolic link).")
@ENV_FILE
def case_export(case_id: str, out_path: str, fmt: str | None, language: str | None,
                force: bool, env_file: str | None) -> None:
    """Write everything the bot holds on the case CASE_ID to one file.

    CASE_ID is the case's ID (C-…). The file holds its phases and weging outcomes, the
    meetings it was on the agenda of, the partners linked, every action with its history,
    which organisations received which messages about it and when, and the audit entries
    about it. The export itself is recorded in the audit log.
    """
    from bot import casefile as files
    from bot.private import write_all
    from commands import casefile, caseid
    from storage import audit
    from storage.db import session_scope

    path = Path(out_path)
    chosen = files.format_of(path, fmt)
    if chosen is None:
        click.echo("casusbot: --format is missing and the file's suffix does not say it; "
                   "for example --out inzage.pdf, or --format json", err=True)
        sys.exit(2)
    app = _open(env_file)
    now = datetime.now(UTC)
    with session_scope(app.engine) as session:
        overleg, held = _find_or_exit(session, case_id)
        shown = caseid.display(held.code)
        fd = _create_or_exit(path, force)
        try:
            # In the transaction: if rendering or writing fails, no case.export is recorded.
            audit.record(session, overleg_id=overleg.id, actor=actor("casusbot case export"),
                         role="admin", action="case.export", subject=f"{shown} {chosen}",
                         now=now)
            export = casefile.collect(session, overleg, held, now)
            renderer = getattr(app.render, "base", app.render)  # Teams wraps the Jinja2 one
            data = files.render(chosen, export, renderer, language or overleg.locale,
                                overleg.timezone)
            write_all(fd, data)
        except BaseException as e:
            os.close(fd)
            path.unlink(missing_ok=True)  # no half-written export is left behind
            if isinstance(e, OSError):
                click.echo(f"casusbot: --out could not be written ({e.strerror}); nothing "
                           f"was exported", err=True)
                sys.exit(2)
            raise
        os.close(fd)
    click.echo(f"wrote {shown} ({chosen}, {len(data)} bytes) to {path}; keep it as "
               f"confidential as the case")


def actor(command: str) -> str:
    """The audit actor of an administrator's command: the command and the operating system
    user who ran it (``casusbot case export (os user beheer)``), for accountability (AVG
    art. 5(2)); ``unknown`` when the system names no user."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{command} (os user {user})"


def _create_or_exit(path: Path, force: bool) -> int:
    """A new file at ``path`` (mode 0600), opened for writing; with ``force`` an existing
    regular file is emptied instead. A symbolic link is never followed. Exits 2 with one
    line naming --out when the file exists, is a link or cannot be made."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_TRUNC if force else os.O_EXCL
    try:
        if path.is_symlink():
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        fd = os.open(path, flags, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        return fd
    except FileExistsError:
        click.echo("casusbot: --out names a file that exists; give a new file name, or add "
                   "--force to overwrite it", err=True)
    except OSError as e:
        if e.errno == errno.ELOOP:
            click.echo("casusbot: --out is a symbolic link; give the path of a new file, for "
                       "example --out ./inzage.pdf", err=True)
        else:
            click.echo(f"casusbot: --out cannot be created ({e.strerror}); give a file in "
                       f"an existing folder, for example --out ./inzage.pdf", err=True)
    sys.exit(2)


@case.command("erase")
@click.argument("case_id")
@click.option("--reason", required=True, type=click.Choice(ERASE_REASONS),
              help="The ground: request (the data subject's, AVG art. 17), objection "
                   "(art. 21), unlawful, legal-obligation or mistake.")
@click.option("--yes", is_flag=True,
              help="Erase without asking to type the case ID (for scripts).")
@ENV_FILE
def case_erase(case_id: str, reason: str, yes: bool, env_file: str | None) -> None:
    """Erase the case CASE_ID before its retention term.

    CASE_ID is the case's ID (C-…). Removes the case's rows, its actions and their
    history, agenda lines, partner links, reminders and every stored message naming it,
    as the retention purge does; leaves a tombstone (the ID is never given out again) and
    an audit entry, and tells the overleg's chairs in its room. Asks to type the ID first.
    """
    from commands import casefile, caseid, parse
    from commands.registry import render_all
    from storage import outbox
    from storage.db import scrub, session_scope

    app = _open(env_file)
    with session_scope(app.engine) as session:
        overleg, held = _find_or_exit(session, case_id)
        shown = caseid.display(held.code)
        counts = casefile.removal(session, held)
        overleg_name = overleg.name
    listed = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    click.echo(f"This erases case {shown} of overleg {overleg_name!r} for good: {listed}, "
               f"its history and reminders. Its audit entries keep only their digests. "
               f"Messages already delivered to the chat stay there; the chairs are told.")
    if not yes:
        typed = click.prompt(f"Type {shown} to erase it", default="", show_default=False)
        if parse.typed_case_code(typed.strip()) != held.code:
            click.echo("casusbot: not confirmed; nothing was erased", err=True)
            sys.exit(1)
    now = datetime.now(UTC)
    with session_scope(app.engine) as session:
        overleg, held = _find_or_exit(session, case_id)
        removed, notices = casefile.erase(session, overleg, held, reason=reason,
                                          actor=actor("casusbot case erase"), now=now)
        outbox.enqueue(session, render_all(app.render, notices, overleg.room_id), now)
    scrub(app.engine)  # not in SQLite's -wal file, nor in PostgreSQL's dead rows or samples
    click.echo(f"erased {shown}: " + ", ".join(f"{n} {kind}" for kind, n in removed.items())
               + "; the chairs will be told in the overleg's room")
