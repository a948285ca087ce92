"""The local demo's start hint (`casusbot dev run`): only a room that is no overleg yet is
told to `!inrichten`; a restarted demo is not asked again (issue 23)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.cli.dev import start_hint
from storage import overlegs
from storage.db import create_schema, make_engine, session_scope

ROOM = "!demo:localhost"


def test_a_new_demo_is_told_to_set_up_the_room(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'casusbot.db'}"
    assert "!inrichten" in start_hint(url, ROOM)
    assert not (tmp_path / "casusbot.db").exists()  # reading it made no empty database
    engine = make_engine(url)  # a database without tables (not migrated yet)
    engine.dispose()
    assert "!inrichten" in start_hint(url, ROOM)


def test_a_restarted_demo_is_not_asked_again_to_set_up_its_overleg(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'casusbot.db'}"
    engine = make_engine(url)
    create_schema(engine)
    with session_scope(engine) as session:
        overlegs.create(session, room_id="!other:localhost", name="Ander overleg",
                        timezone="Europe/Amsterdam", locale="nl",
                        now=datetime(2026, 12, 1, tzinfo=UTC))
    assert "!inrichten" in start_hint(url, ROOM)  # another room's overleg is not this one
    with session_scope(engine) as session:
        overlegs.create(session, room_id=ROOM, name="Casusoverleg demo",
                        timezone="Europe/Amsterdam", locale="nl",
                        now=datetime(2026, 12, 1, tzinfo=UTC))
    engine.dispose()
    hint = start_hint(url, ROOM)
    assert "!inrichten" not in hint
    assert "!hulp" in hint
