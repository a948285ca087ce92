"""What the administrator meets around the bot (issue 23): doctor, file modes, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Config, load
from bot.devserver import free_port
from bot.health import doctor

ROOT = Path(__file__).parents[2]


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


def test_dev_run_without_synapse_says_so_in_one_line(tmp_path: Path) -> None:
    # A `synapse` package that cannot be imported stands for one that is not installed, in
    # this process and in the homeserver child it would start.
    fake = tmp_path / "site" / "synapse"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'synapse'\", name='synapse')\n")
    env = {**os.environ, "PYTHONPATH": f"{fake.parent}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, "-m", "bot", "dev", "run", "--dir",
                           str(tmp_path / "dev")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "casusbot[test]" in done.stderr


def test_a_command_without_settings_suggests_env_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CASUSBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    for command in (["doctor"], ["migrate"], ["check-config"], ["purge", "--dry-run"],
                    ["backup", str(tmp_path / "b")], ["audit", "verify"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, (command, result.output)
        assert "--env-file" in result.stderr, (command, result.stderr)
    (tmp_path / "casusbot.env").write_text("CASUSBOT_LOCALE=nl\n")
    result = CliRunner().invoke(main, ["doctor"])
    assert "--env-file casusbot.env" in result.stderr
