"""The deployment files: the systemd unit verifies, the container file installs the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not on this machine (no systemd)")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (ROOT / "deploy/casusbot.service").read_text()
    assert "ProtectSystem=strict" in unit and "User=casusbot" in unit
    assert "StateDirectory=casusbot" in unit
    # Point ExecStart at an installed casusbot so the check can resolve it.
    exe = Path(sys.executable).with_name("casusbot")
    (tmp_path / "casusbot.service").write_text(
        unit.replace("/opt/casusbot/venv/bin/casusbot", str(exe)))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "casusbot.service")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "casusbot.service" not in result.stderr, result.stderr


def test_the_containerfile_installs_the_package_and_keeps_state_in_a_volume() -> None:
    text = (ROOT / "Containerfile").read_text()
    for needed in ("COPY bot ./bot", "COPY commands ./commands", "COPY storage ./storage",
                   "pip install", "USER casusbot", 'VOLUME ["/var/lib/casusbot"]'):
        assert needed in text, needed


def test_the_wheel_builds_without_warnings_and_holds_templates_and_migrations(
        tmp_path: Path) -> None:
    """`pip install` and `make run` show the build's warnings: there must be none (issue 23)."""
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                            "--outdir", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, cwd=tmp_path, timeout=240)
    assert built.returncode == 0, built.stderr
    said = built.stdout + built.stderr
    assert "WARNING" not in said and "Warning" not in said, said[-3000:]
    [wheel] = tmp_path.glob("casusbot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for needed in ("bot/templates/nl/help.html", "bot/templates/en/help.html",
                   "bot/teams/manifest/manifest.json", "storage/migrations/script.py.mako",
                   "storage/migrations/versions/0001_initial_schema.py", "commands/pii.py"):
        assert needed in names, needed
