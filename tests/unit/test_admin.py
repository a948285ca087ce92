"""What the administrator meets around the bot (issue 23): doctor, file modes, the CLI."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config, load
from bot.devserver import free_port
from bot.health import doctor


def _config(tmp_path: Path, **extra: str) -> Config:
    return load({
        "CASUSBOT_HOMESERVER": f"http://127.0.0.1:{free_port()}",
        "CASUSBOT_USER_ID": "@casusbot:example.org",
        "CASUSBOT_PASSWORD": "not-used-here",
        "CASUSBOT_ADMINS": "@chair:example.org",
        "CASUSBOT_REF_KEY": "test-ref-key-0123456789",
        "CASUSBOT_STORE_PATH": str(tmp_path / "store"),
        "CASUSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'casusbot.db'}",
        **extra,
    })


def test_doctor_reports_a_missing_database_and_leaves_none_behind(tmp_path: Path) -> None:
    checks = {c.name: c for c in doctor(_config(tmp_path))}
    assert not checks["database"].ok
    assert checks["database"].detail.endswith("run casusbot migrate")
    assert not (tmp_path / "casusbot.db").exists()
    assert "outbox" not in checks  # nothing more is read from a database that is not there


def test_doctor_on_an_unmigrated_database_says_run_casusbot_migrate(tmp_path: Path) -> None:
    (tmp_path / "casusbot.db").touch()
    checks = {c.name: c for c in doctor(_config(tmp_path))}
    assert not checks["database"].ok
    assert checks["database"].detail.endswith("run casusbot migrate")
    assert "outbox" not in checks
