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


def test_the_matrix_bot_starts_without_migrations_ics_holidays_or_postgresql() -> None:
    # Alembic (a database at head), icalendar (agendas only), holidays (deadlines only),
    # psycopg (PostgreSQL only; peewee in nio's store would load it for nothing: ~16 MB),
    # SQLAlchemy's PostgreSQL dialect with all its drivers' modules (2.2 MB), the
    # cryptography package (~7 MB: the key seal uses pycryptodome, which nio loads).
    modules = ["alembic", "icalendar", "holidays", "psycopg", "sqlalchemy.dialects.postgresql",
               "cryptography", "nio", "Crypto.Cipher.AES"]
    loaded = _loaded_after("import bot.cli, bot.matrix, bot.health, bot.crosssign", modules)
    assert loaded == {m: m in ("nio", "Crypto.Cipher.AES") for m in modules}


def test_psycopg_still_imports_for_postgresql() -> None:
    loaded = _loaded_after("import bot.matrix\nimport psycopg", ["psycopg"])
    assert loaded == {"psycopg": True}


def test_chatter_costs_no_transaction_and_commands_still_answer(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import event

    from bot.clock import FakeClock
    from commands.inbound import Inbound
    from tests.unit.apps import throwaway_app

    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    app = throwaway_app(f"sqlite:///{tmp_path / 'db.sqlite'}", FakeClock(now))
    app.record_join("!r:localhost", now)
    statements: list[str] = []
    event.listen(app.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: statements.append(statement))

    def say(n: int, text: str) -> int:
        return len(app.handle(Inbound(event_id=f"$e{n}", room_id="!r:localhost",
                                      sender="@chair:localhost", text=text, sent_at=now,
                                      encrypted=True)).replies)

    assert say(1, "goedemorgen allemaal") == 0
    assert statements == []
    assert say(2, "!setup Overleg") == 1 and statements
    app.engine.dispose()


def test_holidays_load_only_the_calendar_in_use_with_the_same_dates() -> None:
    def run(code: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, cwd=ROOT).stdout.splitlines()

    dates = ("sorted((str(d), str(n)) for y in (2026, 2027) "
             "for d, n in {}.country_holidays('NL', years=y).items())")
    [full] = run(f"import holidays\nprint({dates.format('holidays')})")
    lean, countries = run("import sys\nfrom commands import workdays\n"
                          f"print({dates.format('workdays._holidays_package()')})\n"
                          "print(len([m for m in sys.modules "
                          "if m.startswith('holidays.countries.')]))")
    assert lean == full and "2026-04-27" in lean  # King's Day among them
    assert int(countries) <= 2  # the Netherlands (and at most a parent), not all 250
