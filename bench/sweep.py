"""The sweep: N reminders due at once; time to claim them and write their outbox rows."""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.seed import seed
from bot.app import App, offline_app
from bot.clock import FakeClock
from storage import outbox
from storage.db import session_scope

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Amsterdam


def bench_app(database_url: str, clock: FakeClock, **extra: str) -> App:
    """The bot's App for the in-process parts: the bench chair an admin, no E2EE demanded
    (the bench room is unencrypted), no rate limit in the way of 500 commands."""
    return offline_app(database_url, clock, CASUSBOT_ADMINS="@chair:localhost",
                       CASUSBOT_REQUIRE_E2EE="false", CASUSBOT_RATE_LIMIT="10000", **extra)


def sweep_all(app: App) -> tuple[float, int]:
    """Sweep until nothing is due; returns (seconds, sweeps)."""
    started = time.perf_counter()
    sweeps = 0
    while True:
        sweeps += 1
        next_due = app.sweep().next_due
        if next_due is None or next_due > app.clock.now():
            break
    return time.perf_counter() - started, sweeps


def run(due: int, database_url: str | None = None) -> dict[str, Any]:
    """Seed ``due`` overdue reminders (500 actions per overleg) and sweep them."""
    folder = Path(tempfile.mkdtemp(prefix="casusbot-sweep-",
                                   dir="/dev/shm" if Path("/dev/shm").exists() else None))
    url = database_url or f"sqlite:///{folder / 'sweep.db'}"
    clock = FakeClock(NOW)
    app = bench_app(url, clock)
    overleggen = max(1, math.ceil(due / 500))
    seed(app.engine, overleggen=overleggen, cases=50, actions=10, due=due, now=NOW)
    with session_scope(app.engine) as s:
        before = len(outbox.pending(s))
    seconds, sweeps = sweep_all(app)
    with session_scope(app.engine) as s:
        written = len(outbox.pending(s)) - before
    app.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)  # it is RAM on a tmpfs
    return {"due": due, "seconds": seconds, "sweeps": sweeps, "outbox_rows": written,
            "per_row_us": seconds / max(1, written) * 1e6}


if __name__ == "__main__":
    import sys

    for n in [int(a) for a in sys.argv[1:]] or [1000]:
        r = run(n)
        print(f"{n:>7} due: {r['seconds']:.3f} s, {r['outbox_rows']} rows, "
              f"{r['per_row_us']:.0f} us/row, {r['sweeps']} sweeps")
