"""casusbot's transports and runtime."""

import importlib
import importlib.util
import sys


def import_peewee_without_psycopg() -> None:
    """Import peewee with psycopg hidden, once, before matrix-nio is imported.

    matrix-nio keeps its crypto store with peewee, and peewee imports psycopg when it is
    installed, only to know psycopg's error classes for peewee's own PostgreSQL databases,
    which nio never uses. That costs ~16 MB of memory in every bot process (measured).
    SQLAlchemy still imports psycopg as usual when the database URL is PostgreSQL. Called
    explicitly by ``bot.matrix`` (the bot process's transport) before its modules import
    nio; a no-op once peewee is imported.
    """
    if "peewee" in sys.modules or importlib.util.find_spec("peewee") is None:
        return
    hide = "psycopg" not in sys.modules
    if hide:
        sys.modules["psycopg"] = None  # type: ignore[assignment]
    try:
        importlib.import_module("peewee")
    finally:
        if hide:
            del sys.modules["psycopg"]
