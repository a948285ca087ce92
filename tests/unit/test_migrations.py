"""Alembic migrations: the chain builds exactly the models' schema, old data survives."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel, select

from bot.render import Renderer
from commands.registry import Registry
from storage.db import (
    PreMigrationDatabase,
    alembic_config,
    create_schema,
    current_revision,
    make_engine,
    migrate,
    session_scope,
)
from storage.models import Case, Meeting
from tests.unit.conftest import Say


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


def test_the_chain_builds_the_models_schema(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}),
                                SQLModel.metadata)
    assert diff == [], diff
    engine.dispose()


def test_an_old_database_with_data_is_migrated(url: str, registry: Registry,
                                               renderer: Renderer) -> None:
    engine = make_engine(url)
    revisions = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
    first = revisions[-1].revision
    migrate(engine, first)
    with session_scope(engine) as s:
        say = Say(s, registry, renderer)
        say.one("!setup Oud overleg")
        say.one("!overleg plan 15-12-2026 14:00")
        say.one("!casus open")
    migrate(engine)  # to head, twice: the second run does nothing
    migrate(engine)
    with session_scope(engine) as s:
        assert len(s.exec(select(Meeting)).all()) == 1
        assert len(s.exec(select(Case)).all()) == 1
        say = Say(s, registry, renderer)
        assert "M2" in say.one("!overleg plan 16-12-2026 14:00")
    engine.dispose()


def test_a_database_without_history_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    create_schema(engine)
    with pytest.raises(PreMigrationDatabase):
        migrate(engine)
    engine.dispose()


def test_two_instances_migrating_at_once(pg_url: str) -> None:
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        engine = make_engine(pg_url)
        try:
            migrate(engine)
        except BaseException as e:
            errors.append(e)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert current_revision(make_engine(pg_url)) is not None
