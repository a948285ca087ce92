"""Configuration: the public names, defaults, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main, read_env
from bot.config import ConfigError, load

GOOD = {
    "CASUSBOT_HOMESERVER": "http://127.0.0.1:8008/",
    "CASUSBOT_USER_ID": "@casusbot:localhost",
    "CASUSBOT_PASSWORD": "secret",
    "CASUSBOT_ADMINS": "@beheer:localhost, @fb:localhost",
    "CASUSBOT_REF_KEY": "0123456789abcdef0123",
}


def test_defaults() -> None:
    c = load(GOOD)
    assert c.homeserver == "http://127.0.0.1:8008"
    assert c.admins == frozenset({"@beheer:localhost", "@fb:localhost"})
    assert c.database_url == "sqlite:///casusbot.db"
    assert str(c.store_path) == "casusbot-store"
    assert (c.timezone, c.locale, c.prefix) == ("Europe/Amsterdam", "nl", "!")


@pytest.mark.parametrize(("change", "names"), [
    ({"CASUSBOT_HOMESERVER": ""}, "CASUSBOT_HOMESERVER"),
    ({"CASUSBOT_HOMESERVER": "matrix.example.org"}, "CASUSBOT_HOMESERVER"),
    ({"CASUSBOT_USER_ID": "casusbot"}, "CASUSBOT_USER_ID"),
    ({"CASUSBOT_PASSWORD": ""}, "CASUSBOT_PASSWORD or CASUSBOT_ACCESS_TOKEN"),
    ({"CASUSBOT_ADMINS": ""}, "CASUSBOT_ADMINS"),
    ({"CASUSBOT_ADMINS": "beheer"}, "CASUSBOT_ADMINS"),
    ({"CASUSBOT_REF_KEY": ""}, "CASUSBOT_REF_KEY"),
    ({"CASUSBOT_REF_KEY": "short"}, "CASUSBOT_REF_KEY"),
    ({"CASUSBOT_TIMEZONE": "Mars/Olympus"}, "CASUSBOT_TIMEZONE"),
    ({"CASUSBOT_LOCALE": "fr"}, "CASUSBOT_LOCALE"),
    ({"CASUSBOT_PREFIX": "c b"}, "CASUSBOT_PREFIX"),
    ({"CASUSBOT_REFKEY": "x"}, "did you mean CASUSBOT_REF_KEY"),
])
def test_each_mistake_names_the_variable(change: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as err:
        load({**GOOD, **change})
    assert names in str(err.value)
    assert "\n" not in str(err.value)


def test_access_token_alone_is_enough() -> None:
    env = {**GOOD, "CASUSBOT_PASSWORD": "", "CASUSBOT_ACCESS_TOKEN": "syt_x"}
    assert load(env).access_token == "syt_x"


def test_env_file_is_under_the_environment(tmp_path: Path) -> None:
    f = tmp_path / "c.env"
    f.write_text("CASUSBOT_LOCALE=en\nCASUSBOT_PREFIX=?\n")
    merged = read_env(str(f), {"CASUSBOT_PREFIX": "!"})
    assert merged["CASUSBOT_LOCALE"] == "en" and merged["CASUSBOT_PREFIX"] == "!"


def test_cli_prints_one_line_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(GOOD):
        monkeypatch.delenv(name, raising=False)
    f = tmp_path / "c.env"
    f.write_text("".join(f"{k}={v}\n" for k, v in GOOD.items() if k != "CASUSBOT_REF_KEY"))
    result = CliRunner().invoke(main, ["check-config", "--env-file", str(f)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        result.output.strip()]  # exactly one line, no traceback
    assert "CASUSBOT_REF_KEY is required" in result.output
    f.write_text("".join(f"{k}={v}\n" for k, v in GOOD.items()))
    ok = CliRunner().invoke(main, ["check-config", "--env-file", str(f)])
    assert ok.exit_code == 0, ok.output


def test_example_config_lists_every_setting() -> None:
    from bot.config import KNOWN

    text = (Path(__file__).parents[2] / "config.example.env").read_text()
    for name in KNOWN:
        assert f"{name}=" in text, name


def test_agenda_and_nudge_defaults_reach_a_new_overleg() -> None:
    from datetime import UTC, datetime

    from bot.app import bootstrap
    from bot.clock import FakeClock
    from commands.inbound import Inbound

    c = load({**GOOD, "CASUSBOT_AGENDA_DAYS": "7", "CASUSBOT_NUDGE_DAYS": "3",
              "CASUSBOT_DATABASE_URL": "sqlite://"})
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    app = bootstrap(c, FakeClock(now))
    app.record_join("!r:localhost", now)
    app.handle(Inbound("$1", "!r:localhost", "@beheer:localhost", "!setup X", now,
                        encrypted=True))
    from storage import overlegs
    from storage.db import session_scope

    with session_scope(app.engine) as s:
        o = overlegs.by_room(s, "!r:localhost")
        assert o is not None and (o.agenda_days_before, o.nudge_days_before) == (7, 3)
    with pytest.raises(ConfigError, match="CASUSBOT_AGENDA_DAYS"):
        load({**GOOD, "CASUSBOT_AGENDA_DAYS": "0"})


def test_teams_admins_are_the_ids_teams_and_the_playground_use() -> None:
    base = {"CASUSBOT_REF_KEY": "k" * 32, "CASUSBOT_TEAMS_ANONYMOUS": "true"}
    for admins in ("29:1AbCdEf-gh_IJ", "user-id-0", "8:orgid:00000000-0000-4000-8000-0001",
                   "29:1AbC,user-id-0"):
        assert load({**base, "CASUSBOT_ADMINS": admins}, "teams").admins == frozenset(
            admins.split(","))
    for wrong in ("@beheer:example.org", "beheer@example.org", "Voornaam Achternaam", "29:a;b"):
        with pytest.raises(ConfigError, match="invalid user ID"):
            load({**base, "CASUSBOT_ADMINS": wrong}, "teams")
