"""Health: `casusbot doctor` checks, and the optional Prometheus /metrics endpoint."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from bot.config import Config
from bot.deliver import refusal_code
from bot.private import exposed
from storage import outbox, overlegs
from storage.db import HEAD, current_revision, make_engine, session_scope, sqlite_file
from storage.models import Timer


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def figures(engine: Engine, now: datetime) -> dict[str, float]:
    """Outbox depth and age, and how far the sweep lags behind due work."""
    with session_scope(engine) as session:
        depth, oldest = outbox.backlog(session)
        due = session.exec(select(func.min(Timer.due_at)).where(
            col(Timer.handled_at).is_(None), Timer.due_at <= now)).one()
    return {"outbox_depth": float(depth),
            "outbox_oldest_seconds": (now - oldest).total_seconds() if oldest else 0.0,
            "sweep_lag_seconds": (now - due).total_seconds() if due else 0.0}


def doctor(config: Config, env_file: Path | None = None) -> Iterator[Check]:
    """The checks of `casusbot doctor`, in order. The database is only looked at: a SQLite
    file that is not there is reported ("run casusbot migrate"), not created empty.
    ``env_file``: the configuration file the settings came from, if any (its mode is
    checked with the store's and the database's)."""
    if config.platform == "teams" and config.teams is not None:
        t = config.teams
        who = "anonymous (local tests only)" if t.anonymous else f"app {t.app_id}"
        yield Check("configuration", True, f"Teams, {who}, listening on {t.host}:{t.port}")
    else:
        yield Check("configuration", True, f"{config.user_id} on {config.homeserver}")
    yield permissions_check(config, env_file)
    engine = None
    db_file = sqlite_file(config.database_url)
    if db_file is not None and not db_file.exists():
        yield Check("database", False, f"no database at {db_file}: run casusbot migrate")
    else:
        try:
            engine = make_engine(config.database_url)
            rev = current_revision(engine)
            yield Check("database", rev == HEAD,
                        f"revision {rev}" + ("" if rev == HEAD else
                                             f", head is {HEAD}: run casusbot migrate"))
            if rev != HEAD:
                engine = None  # its tables are not (all) there: nothing more to read
        except Exception as e:
            yield Check("database", False, f"cannot open {type(e).__name__}: {str(e)[:120]}")
            engine = None
    token_ok, token = False, ""
    if config.platform == "matrix":
        token_ok, token = yield from _matrix_checks(config, engine)
        if not token_ok and engine is not None:
            # No session yet: the stored identity can still be opened with the key.
            from bot.crosssign import status

            ok, detail = status("?", config.user_id, engine,
                                (config.ref_key, *config.previous_ref_keys))
            yield Check("cross-signing", ok, detail)
    if engine is not None:
        try:
            f = figures(engine, datetime.now(UTC))
            yield Check("outbox", f["outbox_oldest_seconds"] < 600,
                        f"{int(f['outbox_depth'])} waiting, oldest "
                        f"{int(f['outbox_oldest_seconds'])} s; sweep lag "
                        f"{int(f['sweep_lag_seconds'])} s")
        except Exception as e:
            yield Check("outbox", False, f"cannot read: {type(e).__name__}")
        yield refused_check(engine, datetime.now(UTC))
        if token_ok and config.redact_pii:
            yield redaction_check(config, engine, token)


def _matrix_checks(config: Config, engine: Engine | None
                   ) -> Generator[Check, None, tuple[bool, str]]:
    """The homeserver, the E2EE store and its token, the cross-signing identity; returns
    (token valid, token) for the checks that read the rooms."""
    try:
        with urllib.request.urlopen(config.homeserver + "/_matrix/client/versions",
                                    timeout=5) as resp:
            versions = json.loads(resp.read()).get("versions", [])
        yield Check("homeserver", True, "reachable, spec versions up to "
                    f"{versions[-1] if versions else 'unknown'}")
    except Exception as e:
        yield Check("homeserver", False, f"not reachable: {type(e).__name__}")
    token_ok, token = False, ""
    session_file = Path(config.store_path) / "session.json"
    if not session_file.exists():
        yield Check("e2ee store", False, f"no session in {config.store_path}: run "
                    "`casusbot init` or start the bot once")
    else:
        saved = json.loads(session_file.read_text())
        stores = list(Path(config.store_path).glob("*.db"))
        token = str(saved.get("access_token", ""))
        token_ok = _whoami(config.homeserver, token)
        yield Check("e2ee store", bool(stores) and token_ok,
                    f"device {saved.get('device_id')}, "
                    f"{'keys present' if stores else 'no key store yet'}, "
                    f"{'token valid' if token_ok else 'token refused by the homeserver'}")
        if token_ok and engine is not None:
            yield cross_signing_check(config, engine, token)
    return token_ok, token


def permissions_check(config: Config, env_file: Path | None) -> Check:
    """Whether the files with secrets are their owner's only (``bot.private``): the E2EE
    store and what is in it, the SQLite database with its -wal and -shm files, and the
    configuration file. Failed: the paths others may read, and the chmod that fixes it."""
    paths = [Path(config.store_path)]
    db_file = sqlite_file(config.database_url)
    if db_file is not None:
        paths += [db_file, db_file.with_name(db_file.name + "-wal"),
                  db_file.with_name(db_file.name + "-shm")]
    if env_file is not None:
        paths.append(env_file)
    found = exposed(paths)
    if not found:
        return Check("file permissions", True, "the store, the database and the "
                     "configuration are readable by their owner only")
    dirs = [str(p) for p in found if p.is_dir()]
    files = [str(p) for p in found if not p.is_dir()]
    fix = "; ".join(f"chmod {mode} {' '.join(names)}"
                    for mode, names in (("700", dirs), ("600", files)) if names)
    return Check("file permissions", False,
                 f"readable by others: {', '.join(map(str, found))}; fix: {fix}")


def redaction_check(config: Config, engine: Engine, token: str) -> Check:
    """Whether the bot may remove others' messages in every overleg's room (a refused
    message with personal data is removed, docs/privacy.md): its power
    level against the room's ``m.room.power_levels``. Failed: the rooms (overleg name, room
    ID, the bot's level and the level needed)."""
    from bot.matrix.events import redact_power_in

    with session_scope(engine) as session:
        rooms = [(o.name, o.room_id) for o in overlegs.all_overlegs(session)]
    if not rooms:
        return Check("redaction power", True, "no overleg rooms yet")
    short: list[str] = []
    for name, room_id in rooms:
        try:
            content = _get(config.homeserver, "/_matrix/client/v3/rooms/"
                           f"{urllib.parse.quote(room_id)}/state/m.room.power_levels", token)
        except Exception as e:
            short.append(f"{name} ({room_id}): cannot read its power levels "
                         f"({type(e).__name__})")
            continue
        have, need = redact_power_in(content, config.user_id)
        if have < need:
            short.append(f"{name} ({room_id}): level {have}, removing needs {need}")
    if short:
        return Check("redaction power", False,
                     f"the bot may not remove messages with personal data in {len(short)} "
                     f"of {len(rooms)} overleg rooms: {'; '.join(short)}; make it moderator "
                     "there")
    return Check("redaction power", True,
                 "the bot may remove messages in " + (
                     "the overleg's room" if len(rooms) == 1
                     else f"all {len(rooms)} overleg rooms"))


def _get(homeserver: str, path: str, token: str) -> Any:
    req = urllib.request.Request(homeserver + path)
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def cross_signing_check(config: Config, engine: Engine, token: str) -> Check:
    """The bot's one cross-signing identity (``bot.crosssign.status``): stored, opened by
    the configured key, and the one the homeserver has."""
    from bot.crosssign import status

    try:
        req = urllib.request.Request(
            config.homeserver + "/_matrix/client/v3/keys/query", method="POST",
            data=json.dumps({"device_keys": {config.user_id: []}}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            master = json.loads(resp.read()).get("master_keys", {}).get(config.user_id)
        on_server = next(iter(master["keys"].values())) if master else None
        ok, detail = status(on_server, config.user_id, engine,
                            (config.ref_key, *config.previous_ref_keys))
    except Exception as e:
        return Check("cross-signing", False, f"cannot check: {type(e).__name__}")
    return Check("cross-signing", ok, detail)


REFUSED_WINDOW = timedelta(days=7)


def refused_check(engine: Engine, now: datetime) -> Check:
    """Messages the platform refused for good in the last week (never silent: also in the
    log as errors and in /metrics); per code, and the latest one's template and time."""
    try:
        with session_scope(engine) as session:
            # A removal refused for want of power stops counting once one in that room
            # worked again (the "redaction power" check tells about the power itself).
            rows = outbox.given_up(session, now - REFUSED_WINDOW,
                                   resolved_by_later=("privacy/redaction_reason",))
    except Exception as e:
        return Check("refused sends", False, f"cannot read: {type(e).__name__}")
    if not rows:
        return Check("refused sends", True, "none in the last 7 days")
    codes = Counter(refusal_code(error.removeprefix("gave up: ")) for _, error, _ in rows)
    template, _, at = rows[0]
    per_code = ", ".join(f"{n}× {code}" for code, n in codes.most_common())
    return Check("refused sends", False,
                 f"{len(rows)} not delivered in the last 7 days ({per_code}); latest "
                 f"{template or '?'} at {at:%Y-%m-%d %H:%M} UTC: see the log (\"send refused "
                 "for good\") for its shape")


def _whoami(homeserver: str, token: str) -> bool:
    req = urllib.request.Request(homeserver + "/_matrix/client/v3/account/whoami")
    req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5):
            return True
    except Exception:
        return False


class Metrics:
    """Prometheus text exposition of a few figures, on 127.0.0.1 only (off by default)."""

    def __init__(self, engine: Engine, counters: Any) -> None:
        self.engine = engine
        self.counters = counters  # an object with .handled and .errors and .sent

    def render(self) -> str:
        f = figures(self.engine, datetime.now(UTC))
        lines = [
            "# HELP casusbot_outbox_depth Messages waiting to be sent.",
            "# TYPE casusbot_outbox_depth gauge",
            f"casusbot_outbox_depth {f['outbox_depth']}",
            "# HELP casusbot_outbox_oldest_seconds Age of the oldest waiting message.",
            "# TYPE casusbot_outbox_oldest_seconds gauge",
            f"casusbot_outbox_oldest_seconds {f['outbox_oldest_seconds']:.3f}",
            "# HELP casusbot_sweep_lag_seconds How long the oldest due timer has waited.",
            "# TYPE casusbot_sweep_lag_seconds gauge",
            f"casusbot_sweep_lag_seconds {f['sweep_lag_seconds']:.3f}",
            "# HELP casusbot_handled_total Events that produced replies.",
            "# TYPE casusbot_handled_total counter",
            f"casusbot_handled_total {self.counters.handled}",
            "# HELP casusbot_sent_total Messages sent.",
            "# TYPE casusbot_sent_total counter",
            f"casusbot_sent_total {self.counters.sent}",
            "# HELP casusbot_errors_total Errors while handling or sending.",
            "# TYPE casusbot_errors_total counter",
            f"casusbot_errors_total {self.counters.errors}",
        ]
        lines += ["# HELP casusbot_refused_total Messages the platform refused for good "
                  "(not delivered), per refusal code.",
                  "# TYPE casusbot_refused_total counter"]
        refused = dict(getattr(self.counters, "refused", {}) or {})
        lines += [f'casusbot_refused_total{{code="{code}"}} {n}'
                  for code, n in sorted(refused.items())] or ["casusbot_refused_total 0"]
        own_work = getattr(self.counters, "own_work", None)
        if own_work is not None:
            lines += own_work.prometheus()
        return "\n".join(lines) + "\n"

    async def start(self, port: int) -> web.AppRunner:
        async def handler(_: web.Request) -> web.Response:
            return web.Response(text=self.render(), content_type="text/plain")

        app = web.Application()
        app.router.add_get("/metrics", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner
