"""Two bot instances on one PostgreSQL: each event handled once, each reminder sent once.

The instances are two ``App`` objects (separate engines, separate connection pools) driven
from threads at the same time, exactly as two processes would reach the database.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import func, select

from bot.app import App
from bot.clock import FakeClock
from commands.inbound import Inbound
from storage.db import session_scope
from storage.models import InboundEvent, OutboxMessage
from tests.unit.apps import throwaway_app

ROOM = "!overleg:localhost"
CHAIR = "@chair:localhost"
POL = "@politie1:localhost"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _app(url: str, clock: FakeClock) -> App:
    return throwaway_app(url, clock, CASUSBOT_RATE_LIMIT="10000")


def _both(work: Callable[[App], None], apps: list[App]) -> None:
    errors: list[BaseException] = []

    def run(app: App) -> None:
        try:
            work(app)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _msg(n: int, text: str, sender: str = CHAIR) -> Inbound:
    return Inbound(event_id=f"$ev{n}", room_id=ROOM, sender=sender, text=text,
                   sent_at=NOW, encrypted=True)


def test_each_command_is_handled_once_and_each_reminder_sent_once(pg_url: str) -> None:
    clock = FakeClock(NOW)
    apps = [_app(pg_url, clock), _app(pg_url, clock)]
    apps[0].record_join(ROOM, NOW - timedelta(days=1))
    setup = ["!setup Overleg", "!partner add Politie core", f"!lid add {POL} Politie",
             "!casus open"]
    for i, line in enumerate(setup):
        assert len(apps[0].handle(_msg(i, line)).replies) == 1
    with session_scope(apps[0].engine) as s:
        opened = s.exec(select(OutboxMessage.body).where(
            OutboxMessage.template == "case/opened")).one()
        code = re.findall(r"C-\w+", opened)[0]

    # 100 commands, every one delivered to both instances at the same moment.
    stream = [_msg(100 + i, f"!actie add {code} Politie 2-12-2026 Taak {i}") for i in range(100)]
    handled = {0: 0, 1: 0}

    def feed(app: App) -> None:
        for m in stream:
            handled[apps.index(app)] += len(app.handle(m).replies)

    _both(feed, apps)
    assert handled[0] + handled[1] == 100  # each command answered by exactly one instance
    with session_scope(apps[0].engine) as s:
        assert s.exec(select(func.count()).select_from(InboundEvent)).one() == 104
        replies = s.exec(select(OutboxMessage.body).where(
            OutboxMessage.body.contains("Actie A"))).all()
        assert len(replies) == 100 and len(set(replies)) == 100

    # Thursday 09:00: 100 overdue reminders fall due; both instances sweep at once, twice.
    clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))

    def sweep(app: App) -> None:
        app.sweep()
        app.sweep()

    _both(sweep, apps)
    with session_scope(apps[0].engine) as s:
        overdue = s.exec(select(OutboxMessage.body).where(
            OutboxMessage.template == "action/overdue")).all()
    assert len(overdue) == 100 and len(set(overdue)) == 100
    with session_scope(apps[0].engine) as s:
        from storage import audit

        assert audit.verify(s) is None  # concurrent appends kept one unbroken chain
    for app in apps:
        app.engine.dispose()
