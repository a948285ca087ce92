"""What the administrator meets around the bot (issue 23): doctor, file modes, the CLI."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Config, load
from bot.devserver import free_port
from bot.health import doctor
from bot.private import private_tree, write_private
from storage.db import make_engine, migrate

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


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A process umask that lets others read new files (022, the usual default)."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    db = tmp_path / "casusbot.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    engine.dispose()
    written = [p for p in tmp_path.iterdir() if p.name.startswith("casusbot.db")]
    assert db in written
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}


@pytest.mark.usefixtures("open_umask")
def test_secrets_written_over_an_open_file_become_private(tmp_path: Path) -> None:
    path = tmp_path / "casusbot.env"
    path.write_text("old\n")
    assert _mode(path) == 0o644
    write_private(path, "CASUSBOT_REF_KEY=x\n")
    assert _mode(path) == 0o600 and path.read_text() == "CASUSBOT_REF_KEY=x\n"
    store = tmp_path / "store"
    store.mkdir()
    (store / "keys.db").write_text("")
    private_tree(store)
    assert _mode(store) == 0o700 and _mode(store / "keys.db") == 0o600


@pytest.mark.usefixtures("open_umask")
def test_doctor_names_files_with_secrets_that_others_may_read(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = Path(config.store_path)
    store.mkdir()
    (store / "session.json").write_text("{}")
    env_file = tmp_path / "casusbot.env"
    env_file.write_text("CASUSBOT_LOCALE=nl\n")
    engine = make_engine(config.database_url)
    migrate(engine)
    engine.dispose()
    (tmp_path / "casusbot.db").chmod(0o644)
    checks = {c.name: c for c in doctor(config, env_file)}
    bad = checks["file permissions"]
    assert not bad.ok
    for path in (store, store / "session.json", env_file, tmp_path / "casusbot.db"):
        assert str(path) in bad.detail
    private_tree(store)
    for path in (env_file, *tmp_path.glob("casusbot.db*")):  # -wal, -shm: doctor opened it
        path.chmod(0o600)
    assert {c.name: c for c in doctor(config, env_file)}["file permissions"].ok


@pytest.mark.usefixtures("open_umask")
def test_the_command_line_makes_new_files_private(tmp_path: Path) -> None:
    env_file = tmp_path / "casusbot.env"
    write_private(env_file, "".join(f"{k}={v}\n" for k, v in {
        "CASUSBOT_HOMESERVER": "http://127.0.0.1:9", "CASUSBOT_USER_ID": "@casusbot:example.org",
        "CASUSBOT_PASSWORD": "x", "CASUSBOT_ADMINS": "@chair:example.org",
        "CASUSBOT_REF_KEY": "test-ref-key-0123456789",
        "CASUSBOT_STORE_PATH": str(tmp_path / "store"),
        "CASUSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'casusbot.db'}"}.items()))
    (tmp_path / "store").mkdir(mode=0o700)
    for command in (["migrate"], ["backup", str(tmp_path / "backup")]):
        done = subprocess.run([sys.executable, "-m", "bot", *command, "--env-file",
                               str(env_file)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    made = [p for p in (tmp_path / "backup").rglob("*")]
    assert made
    assert [p for p in made if _mode(p) & 0o077] == []


def _commands(command: click.Command, path: list[str]) -> Iterator[tuple[list[str],
                                                                        click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, [*path, name])


def _sentence(text: str | None) -> bool:
    text = (text or "").strip()
    return bool(text) and text[0].isupper() and text.endswith((".", ")"))


def test_every_help_text_is_whole_sentences_with_every_option_described() -> None:
    walked = list(_commands(main, []))
    assert len(walked) > 15
    problems = []
    for path, command in walked:
        result = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        listed = result.output.partition("\nCommands:\n")[2]
        if "..." in listed:  # a command's summary cut off in its group's list
            problems.append((path, "cut off", result.output))
        if not _sentence(command.help):
            problems.append((path, "help", command.help))
        for param in command.params:
            if isinstance(param, click.Option) and not _sentence(param.help):
                problems.append((path, param.opts[0], param.help))
            if isinstance(param, click.Argument):
                assert param.name is not None
                if param.name.upper() not in (command.help or ""):
                    problems.append((path, param.name, "argument not explained"))
    assert not problems, problems


def test_init_checks_where_the_configuration_goes_before_it_logs_in(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A folder that cannot be made or written: one clear error, no login (a device signed
    in for nothing) and no store left behind."""
    import asyncio
    from pathlib import Path

    import pytest

    from bot.setupwizard import InitError, initialise

    store = tmp_path / "store"
    with pytest.raises(InitError, match="cannot write the configuration"):
        asyncio.run(initialise(Path("/proc/casusbot-no-such/casusbot.env"),
                               homeserver="http://127.0.0.1:9", user_id="@bot:localhost",
                               password="generated-password", admins="@chair:localhost",
                               database_url=f"sqlite:///{tmp_path / 'c.db'}",
                               store_path=store, locale="nl"))
    assert not store.exists()


def test_init_writes_a_sqlite_file_as_an_absolute_path(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.cli.setup import absolute_database_url, sqlite_folder

    monkeypatch.chdir(tmp_path)
    sqlite_folder(absolute_database_url("sqlite:///data/x.db"))  # a folder not there yet
    assert (tmp_path / "data").is_dir() and oct((tmp_path / "data").stat().st_mode)[-3:] == "700"
    assert absolute_database_url("sqlite:///casusbot.db") == \
        f"sqlite:///{tmp_path.resolve()}/casusbot.db"
    for unchanged in ("sqlite:////srv/c.db", "sqlite://", "sqlite:///:memory:",
                      "postgresql+psycopg://bot@localhost/casusbot"):
        assert absolute_database_url(unchanged) == unchanged
