"""Files with secrets are private from the start, with or without systemd (issue 23).

The E2EE store (folder mode 0700: nio's key database, ``session.json`` with the access
token, ``cross_signing.json``), the SQLite database (0600; SQLite gives its ``-wal`` and
``-shm`` files the database file's mode) and the configuration file ``casusbot.env`` (0600,
it holds ``CASUSBOT_REF_KEY`` and the access token) are readable by their owner only. The
command line sets the process umask to 0077 before it does anything, so files that libraries
create (nio's store, backups) are private too; the helpers here set the modes explicitly as
well, so a caller with another umask gets the same result. ``casusbot doctor`` reports any of
these readable by others (``exposed``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

UMASK = 0o077
FILE_MODE = 0o600
DIR_MODE = 0o700


def restrict_umask() -> None:
    """Files and folders this process creates from now on are its owner's only."""
    os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """``path`` as a folder of mode 0700 (created with its parents if missing)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DIR_MODE)
    return path


def private_tree(path: Path) -> None:
    """The folder ``path`` 0700 and every file directly in it 0600 (nio's store database is
    created by nio under the process's umask)."""
    private_dir(path)
    for each in path.iterdir():
        if each.is_file():
            each.chmod(FILE_MODE)


def write_private(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` (a string as UTF-8, bytes as they are), mode 0600 from its
    first byte (also when the file existed with a wider mode)."""
    data = text.encode() if isinstance(text, str) else text
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        write_all(fd, data)
    finally:
        os.close(fd)


def write_all(fd: int, text: str | bytes) -> None:
    """Write all of ``text`` (a string as UTF-8) to the open file ``fd``; OSError as
    ``os.write`` raises it."""
    view = memoryview(text.encode() if isinstance(text, str) else text)
    while view:  # os.write may write less than it was given
        view = view[os.write(fd, view):]


def exposed(paths: Iterable[Path]) -> list[Path]:
    """Those of ``paths`` (and, for a folder, the files in it) that exist and that others
    than the owner may read, write or enter (any group or other permission bit)."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            continue
        inside = sorted(path.iterdir()) if path.is_dir() else []
        for each in (path, *inside):
            if stat.S_IMODE(each.stat().st_mode) & 0o077:
                found.append(each)
    return found
