"""Start-up stays lean: what only some paths need is loaded when they need it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _loaded_after(code: str, modules: list[str]) -> dict[str, bool]:
    probe = f"import sys\n{code}\nprint(' '.join(str(m in sys.modules) for m in {modules!r}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return dict(zip(modules, (w == "True" for w in out.stdout.split()), strict=True))


def test_the_matrix_bot_starts_without_migrations_ics_holidays_or_psycopg() -> None:
    # Alembic (a database at head), icalendar (agendas only), holidays (deadlines only),
    # psycopg (PostgreSQL only; peewee in nio's store would load it for nothing: ~16 MB).
    loaded = _loaded_after("import bot.cli, bot.matrix, bot.health",
                           ["alembic", "icalendar", "holidays", "psycopg", "nio"])
    assert loaded == {"alembic": False, "icalendar": False, "holidays": False,
                      "psycopg": False, "nio": True}


def test_psycopg_still_imports_for_postgresql() -> None:
    loaded = _loaded_after("import bot.matrix\nimport psycopg", ["psycopg"])
    assert loaded == {"psycopg": True}
