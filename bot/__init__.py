"""casusbot's transports and runtime.

matrix-nio keeps its crypto store with peewee, and peewee imports psycopg when it is
installed, only to know psycopg's error classes for peewee's own PostgreSQL databases, which
nio never uses. That costs ~16 MB of memory in every bot process. peewee is therefore
imported here with psycopg hidden for that one import; SQLAlchemy still imports psycopg as
usual when the database URL is PostgreSQL.
"""

import importlib
import importlib.util
import sys

if "peewee" not in sys.modules and importlib.util.find_spec("peewee") is not None:
    _hide = "psycopg" not in sys.modules
    if _hide:
        sys.modules["psycopg"] = None  # type: ignore[assignment]
    try:
        importlib.import_module("peewee")
    finally:
        if _hide:
            del sys.modules["psycopg"]
