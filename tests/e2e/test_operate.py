"""Operating casusbot: a wheel in a fresh venv, `casusbot init`, backup and restore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]


def test_the_wheel_installs_and_init_logs_in(world: World, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(dist), str(ROOT)], check=True, capture_output=True, cwd=tmp_path)
    [wheel] = dist.glob("casusbot-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3.*/site-packages"))
    # The dependencies come from the test environment (no downloads); casusbot itself only
    # from the wheel, not from this checkout.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(venv / "bin/pip"), "install", "--no-deps", "--ignore-installed",
                    "--quiet", str(wheel)],
                   check=True)
    # No CASUSBOT_ settings, and no PYTHONPATH that would put this checkout first.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CASUSBOT_") and k != "PYTHONPATH"}
    run = tmp_path / "run"
    run.mkdir()

    def casusbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin/casusbot"), *args], capture_output=True,
                              text=True, cwd=run, env=env, timeout=120)

    version = casusbot("--version")
    assert version.returncode == 0 and "version" in version.stdout
    where = subprocess.run([str(venv / "bin/python"), "-c", "import bot; print(bot.__file__)"],
                           capture_output=True, text=True, cwd=run, env=env)
    assert str(venv) in where.stdout  # the package really comes from the wheel
    bot_user = world.user("initbot")
    args = ["init", "--non-interactive", "--homeserver", world.synapse.url, "--user-id",
            bot_user.user_id, "--password", bot_user.password, "--admins",
            world.chair.user_id]
    done = casusbot(*args)
    assert done.returncode == 0, done.stderr
    config = (run / "casusbot.env").read_text()
    assert "CASUSBOT_REF_KEY=" in config and bot_user.password not in config
    # Absolute paths: the configuration means the same files when read from another folder.
    assert f"CASUSBOT_DATABASE_URL=sqlite:///{run.resolve()}/casusbot.db" in config
    assert f"CASUSBOT_STORE_PATH={run.resolve()}/casusbot-store" in config
    assert oct((run / "casusbot.env").stat().st_mode)[-3:] == "600"
    session = json.loads((run / "casusbot-store" / "session.json").read_text())
    assert session["user_id"] == bot_user.user_id and session["device_id"]
    again = casusbot(*args)
    assert again.returncode == 2 and "--force" in again.stderr
    check = casusbot("check-config", "--env-file", "casusbot.env")
    assert check.returncode == 0, check.stderr
    # The templates and migrations are inside the wheel: the installed bot migrates a database.
    migrated = casusbot("migrate", "--env-file", "casusbot.env")
    assert migrated.returncode == 0 and "revision" in migrated.stdout, migrated.stderr


def test_init_leaves_a_setup_that_doctor_passes(world: World, tmp_path: Path) -> None:
    """`casusbot init` migrates the database it configures: `casusbot doctor` passes at once
    (issue 23)."""
    os.umask(0o022)  # as in a shell (another test's casusbot command may have set 077)
    bot_user = world.user("initdoctor")
    env_file = tmp_path / "casusbot.env"
    done = CliRunner().invoke(main, [
        "init", "--non-interactive", "--output", str(env_file), "--homeserver",
        world.synapse.url, "--user-id", bot_user.user_id, "--password", bot_user.password,
        "--admins", world.chair.user_id, "--database-url",
        f"sqlite:///{tmp_path / 'casusbot.db'}", "--store-path", str(tmp_path / "store")])
    assert done.exit_code == 0, done.output
    checked = CliRunner().invoke(main, ["doctor", "--env-file", str(env_file)])
    assert checked.exit_code == 0, checked.output
    assert "FAIL" not in checked.output and "ok   file permissions" in checked.output
    # Files with secrets are the owner's only, whatever the umask of the shell.
    modes = {p.relative_to(tmp_path).as_posix(): oct(p.stat().st_mode & 0o777)
             for p in (env_file, tmp_path / "casusbot.db", tmp_path / "store",
                       *(tmp_path / "store").iterdir())}
    assert modes.pop("store") == oct(0o700)
    assert set(modes.values()) == {oct(0o600)}, modes


async def test_backup_and_restore_and_the_bot_answers_in_the_same_room(
        world: World, tmp_path: Path) -> None:
    _, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg")
    await ask(chair, room, bot_id, "!overleg plan 15-12-2026 14:00")
    device = bot.client.device_id
    await world.stop_bot(bot)

    env_file = tmp_path / "bot.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in world.env().items()))
    runner = CliRunner()
    made = runner.invoke(main, ["backup", str(tmp_path / "backup"), "--env-file",
                                str(env_file)])
    assert made.exit_code == 0, made.output
    # Disaster: the database and the store are gone.
    (tmp_path / "casusbot.db").unlink()
    for p in (tmp_path / "casusbot.db-wal", tmp_path / "casusbot.db-shm"):
        p.unlink(missing_ok=True)
    import shutil

    shutil.rmtree(tmp_path / "bot-store")
    restored = runner.invoke(main, ["restore", str(tmp_path / "backup"), "--env-file",
                                    str(env_file)])
    assert restored.exit_code == 0, restored.output

    _, bot2 = await world.start_bot()
    assert bot2.client.device_id == device
    reply = await ask(chair, room, bot_id, "!overleg list", timeout=20)
    assert "M1" in reply
