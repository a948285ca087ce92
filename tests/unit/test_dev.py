"""The local demo's start hint (`casusbot dev run`): only a room that is no overleg yet is
told to `!inrichten`; a restarted demo is not asked again (issue 23)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

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


def test_a_demo_synapse_whose_port_is_taken_says_so_and_starts_nothing(tmp_path: Path) -> None:
    """Another program on the demo's saved port would answer the start-up check (and the
    bot would log in there, in vain): the start stops at once, naming the port."""
    from bot import devserver

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        synapse = devserver.Synapse(tmp_path / "synapse", port, "secret")
        with pytest.raises(devserver.NotStarted, match=str(port)):
            synapse.start(timeout=5)
    assert synapse.process is None
