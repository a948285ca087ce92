"""Alembic migrations: the chain builds exactly the models' schema, old data survives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlmodel import SQLModel, select

from bot.render import Renderer
from commands.registry import Registry
from storage.db import (
    HEAD,
    PreMigrationDatabase,
    alembic_config,
    create_schema,
    current_revision,
    make_engine,
    migrate,
    session_scope,
)
from storage.models import Case, Meeting
from tests.unit.conftest import CHAIR, ROOM, Say


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


def test_the_chain_builds_the_models_schema(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head == HEAD  # bump storage.db.HEAD with a migration
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
    # Rows as the first release wrote them (its columns only, reflected from the database).
    now = datetime(2026, 12, 1, 8, 0)
    with engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        conn.execute(meta.tables["overleg"].insert().values(
            id=1, room_id=ROOM, name="Oud overleg", timezone="Europe/Amsterdam", locale="nl",
            meeting_minutes=90, working_days="12345", holiday_calendar="NL", due_soon_days=2,
            escalate_after_days=5, remind_by_dm=False, retention_years=5,
            agenda_days_before=5, nudge_days_before=2, created_at=now))
        conn.execute(meta.tables["member"].insert().values(
            overleg_id=1, user_id=CHAIR, role="chair", created_at=now))
        conn.execute(meta.tables["meeting"].insert().values(
            overleg_id=1, number=1, starts_at=datetime(2026, 12, 15, 13, 0), minutes=90,
            status="planned", created_at=now, agenda_version=0))
        conn.execute(meta.tables["case"].insert().values(
            overleg_id=1, code="7K2FJ", status="open", opened_at=now))
        conn.execute(meta.tables["case"].insert().values(
            overleg_id=1, code="70K1QX"[:5] + "Z", status="closed", opened_at=now,
            closed_at=now))
    migrate(engine)  # to head, twice: the second run does nothing
    migrate(engine)
    with session_scope(engine) as s:
        [meeting] = s.exec(select(Meeting)).all()
        assert meeting.kind == "casusoverleg"
        phases = {c.code: c.phase for c in s.exec(select(Case))}
        assert phases == {"7K2FJ": "casusoverleg", "70K1QZ": "afgesloten"}
        say = Say(s, registry, renderer)
        assert "M2" in say.one("!overleg plan 16-12-2026 14:00")
        assert "C-7K2FJ" in say.one("!casus list")
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


def test_a_database_at_head_starts_without_loading_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "db.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    engine.dispose()
    probe = ("import sys\nfrom storage.db import make_engine, migrate\n"
             f"migrate(make_engine('sqlite:///{db}'))\n"
             "print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "False"


def test_unsent_messages_of_the_deferred_form_block_the_upgrade_and_nothing_changes(
        tmp_path: Path) -> None:
    """0009 drops the deferred column; a row still waiting in that form would be lost, so the
    upgrade is refused (one clear exception the CLI prints as a line) and the database stays
    at 0008 with the row. Once the row is sent the upgrade goes through."""
    from sqlalchemy import text

    from storage.db import MigrationRefused

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine, "0008")
    with engine.begin() as c:
        c.execute(text(
            "INSERT INTO outboxmessage (room_id, txn_id, msgtype, body, created_at, attempts,"
            " mentions, event_type, deferred) VALUES ('!r', 't1', 'm.notice', '',"
            " '2026-12-01 08:00:00', 0, '', 'm.room.message', '{\"template\": \"x\"}')"))
    with pytest.raises(MigrationRefused, match="1 outbox messages"):
        migrate(engine)
    assert current_revision(engine) == "0008"
    with engine.begin() as c:
        assert c.execute(text("SELECT deferred FROM outboxmessage")).scalar() is not None
        c.execute(text("UPDATE outboxmessage SET sent_at = '2026-12-01 08:01:00'"))
    migrate(engine)
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_meetings_still_to_come_get_their_presence_question_on_upgrade(url: str) -> None:
    """0019 (issue 24): a meeting planned before the release is asked at its start too;
    a past or cancelled one gets no question."""
    from storage.models import Timer

    engine = make_engine(url)
    migrate(engine, "0017")
    now = datetime(2026, 12, 1, 8, 0)
    with engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        conn.execute(meta.tables["overleg"].insert().values(
            id=1, room_id=ROOM, name="Oud overleg", timezone="Europe/Amsterdam", locale="nl",
            meeting_minutes=90, working_days="12345", holiday_calendar="NL", due_soon_days=2,
            escalate_after_days=5, remind_by_dm=False, retention_years=5, monitor_weeks=12,
            agenda_days_before=5, nudge_days_before=2, created_at=now))
        for number, starts, status in ((1, datetime(2026, 12, 15, 13, 0), "planned"),
                                       (2, datetime(2026, 11, 20, 13, 0), "planned"),
                                       (3, datetime(2026, 12, 16, 13, 0), "cancelled")):
            conn.execute(meta.tables["meeting"].insert().values(
                overleg_id=1, number=number, starts_at=starts, minutes=90, status=status,
                created_at=now, agenda_version=0, kind="casusoverleg"))
    migrate(engine, now=now.replace(tzinfo=UTC))  # the upgrade's time, from the caller's clock
    with session_scope(engine) as s:
        timers = [(t.kind, t.subject_id, t.due_at) for t in s.exec(select(Timer))]
        [upcoming] = s.exec(select(Meeting).where(Meeting.number == 1)).all()
        assert upcoming.presence_asked_at is None and upcoming.presence_confidential is False
    assert timers == [("meeting.start", upcoming.id,
                       datetime(2026, 12, 15, 13, 0, tzinfo=UTC))]
    engine.dispose()


def test_0022_starts_the_action_counter_above_every_number_ever_issued(url: str) -> None:
    """An erased case's actions left only audit entries: the counter starts above those too."""
    engine = make_engine(url)
    migrate(engine, "0021")
    now = datetime(2026, 12, 1, 8, 0)
    with engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        for oid, room in ((1, ROOM), (2, "!other:localhost")):
            conn.execute(meta.tables["overleg"].insert().values(
                id=oid, room_id=room, name="Overleg", timezone="Europe/Amsterdam",
                locale="nl", meeting_minutes=90, working_days="12345", holiday_calendar="NL",
                due_soon_days=2, escalate_after_days=5, remind_by_dm=False, retention_years=5,
                monitor_weeks=12, agenda_days_before=5, nudge_days_before=2, created_at=now))
        conn.execute(meta.tables["partner"].insert().values(
            id=1, overleg_id=1, name="Politie", name_key="politie", kind="core",
            created_at=now))
        conn.execute(meta.tables["case"].insert().values(
            id=1, overleg_id=1, code="7K2FJ", status="open", opened_at=now))
        conn.execute(meta.tables["action"].insert().values(
            overleg_id=1, number=3, case_id=1, partner_id=1, due=now.date(),
            description="Dossier opvragen", status="open", created_at=now))
        for oid, action, subject in ((1, "action.move", "A7 2026-12-03->2026-12-04"),
                                     (1, "action.done", "A12x"), (2, "action.edit", "A5"),
                                     (2, "case.open", "A40")):
            conn.execute(meta.tables["auditentry"].insert().values(
                overleg_id=oid, at=now, actor="x", role="chair", action=action,
                subject=subject, subject_digest="", prev_hash="", hash=""))
    migrate(engine)
    with engine.connect() as conn:
        meta = MetaData()
        meta.reflect(conn)
        counters = dict(conn.execute(select(meta.tables["overleg"].c.id,
                                            meta.tables["overleg"].c.last_action_number)).all())
    assert counters == {1: 7, 2: 5}
    engine.dispose()
