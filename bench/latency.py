"""`make bench`, part 1: command latency of casusbot beside the floor and the bare round trip.

Starts a real Synapse on loopback (its data on a tmpfs when /dev/shm exists; --disk to
compare), waits for its background updates, then interleaves three round trips from one
client, N times each:
  bare:     client A sends, client B (another user) receives it in its sync;
  floor:    a minimal matrix-nio echo bot (no database) answers at once;
  casusbot: the real bot (in-process, SQLite) answers `!overleg list`.
Prints p50/p95/p99 and the ratios, and writes bench/results.json.
The sweep, scale and growth parts of the benchmark are not written yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from nio import AsyncClient, MatrixRoom, RoomMessageText

from bot import devserver
from bot.app import bootstrap
from bot.chat import ChatClient
from bot.clock import SystemClock
from bot.config import load
from bot.matrix import MatrixTransport


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class EchoBot:
    """The floor: reads its sync, answers every `!` line at once, keeps nothing."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.client = AsyncClient(url, user)
        self.password = password
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.login(self.password)
        await self.client.sync(timeout=0, full_state=True)

        async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
            if event.sender != self.client.user_id and event.body.startswith("?echo"):
                await self.client.room_send(room.room_id, "m.room.message",
                                            {"msgtype": "m.notice", "body": "echo"})

        self.client.add_event_callback(on_text, RoomMessageText)  # type: ignore[arg-type]
        self.task = asyncio.create_task(self.client.sync_forever(timeout=30000))

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        await self.client.close()


async def wait_background_updates(server: devserver.Synapse, admin_token: str) -> None:
    for _ in range(600):
        status = devserver.request(server.url, "GET",
                                   "/_synapse/admin/v1/background_updates/status",
                                   token=admin_token)
        if not status.get("current_updates"):
            return
        await asyncio.sleep(0.2)


async def run(n: int, disk: bool) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="casusbot-bench-",
                                 dir=None if disk or not Path("/dev/shm").exists()
                                 else "/dev/shm"))
    devserver.write_config(base / "synapse", devserver.free_port())
    server = devserver.load(base / "synapse")
    server.start()
    try:
        users = {name: secrets.token_urlsafe(10) for name in
                 ("admin", "chair", "peer", "casusbot", "echo")}
        ids = {n_: server.register(n_, pw, admin=(n_ == "admin")) for n_, pw in users.items()}
        admin = server.login("admin", users["admin"])["access_token"]
        await wait_background_updates(server, admin)
        chair_token = server.login("chair", users["chair"])["access_token"]
        room = devserver.create_room(server.url, chair_token, name="bench",
                                     invite=[ids["peer"], ids["casusbot"], ids["echo"]],
                                     encrypted=False)
        for name in ("peer", "echo"):
            devserver.join(server.url, server.login(name, users[name])["access_token"], room)
        config = load({"CASUSBOT_HOMESERVER": server.url, "CASUSBOT_USER_ID": ids["casusbot"],
                       "CASUSBOT_PASSWORD": users["casusbot"],
                       "CASUSBOT_STORE_PATH": str(base / "store"),
                       "CASUSBOT_DATABASE_URL": f"sqlite:///{base / 'bot.db'}",
                       "CASUSBOT_ADMINS": ids["chair"], "CASUSBOT_REF_KEY": "bench-" * 4,
                       "CASUSBOT_REQUIRE_E2EE": "false", "CASUSBOT_RATE_LIMIT": "10000"})
        bot = MatrixTransport(bootstrap(config, SystemClock()))
        await bot.start()
        await asyncio.wait_for(bot.ready.wait(), 30)
        while room not in bot.client.rooms:
            await asyncio.sleep(0.1)
        echo = EchoBot(server.url, ids["echo"], users["echo"])
        await echo.start()
        chair = ChatClient(server.url, ids["chair"], users["chair"], base / "chair")
        peer = ChatClient(server.url, ids["peer"], users["peer"], base / "peer")
        await chair.start()
        await peer.start()

        async def trip(kind: str, i: int) -> float:
            mark_c, mark_p = len(chair.seen), len(peer.seen)
            started = time.perf_counter()
            if kind == "bare":
                await chair.send(room, f"hello {i}")
                await peer.wait_for(lambda s: s.body == f"hello {i}", timeout=10)
            elif kind == "floor":
                await chair.send(room, f"?echo {i}")
                await chair.next_notice(ids["echo"], room_id=room, after=mark_c, timeout=10)
            else:
                await chair.send(room, "!overleg list")
                await chair.next_notice(ids["casusbot"], room_id=room, after=mark_c,
                                        timeout=10)
            del mark_p
            return (time.perf_counter() - started) * 1000

        await chair.send(room, "!setup Bench")
        await chair.next_notice(ids["casusbot"], room_id=room, timeout=10)
        samples: dict[str, list[float]] = {"bare": [], "floor": [], "casusbot": []}
        for i in range(n):
            for kind in ("bare", "floor", "casusbot"):
                samples[kind].append(await trip(kind, i))
        await chair.close()
        await peer.close()
        await echo.stop()
        await bot.stop()
    finally:
        server.stop()
    result: dict[str, Any] = {"n": n, "synapse_data": "disk" if disk else "tmpfs"}
    for kind, values in samples.items():
        for p in (50, 95, 99):
            result[f"{kind}_p{p}_ms"] = round(pct(values, p), 2)
        result[f"{kind}_mean_ms"] = round(statistics.fmean(values), 2)
    for p in (50, 95):
        result[f"casusbot_over_floor_p{p}_ratio"] = round(
            result[f"casusbot_p{p}_ms"] / result[f"floor_p{p}_ms"], 3)
        result[f"casusbot_over_bare_p{p}_ratio"] = round(
            result[f"casusbot_p{p}_ms"] / result[f"bare_p{p}_ms"], 3)
    result["targets"] = {
        "casusbot_over_floor_p50_ratio <= 1.10":
            "met" if result["casusbot_over_floor_p50_ratio"] <= 1.10 else "not met",
        "casusbot_over_floor_p95_ratio <= 1.20":
            "met" if result["casusbot_over_floor_p95_ratio"] <= 1.20 else "not met",
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="round trips of each kind")
    parser.add_argument("--disk", action="store_true", help="Synapse data on disk")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = parser.parse_args()
    result = asyncio.run(run(args.n, args.disk))
    print(f"{'':10} {'p50':>8} {'p95':>8} {'p99':>8}   (ms, n={args.n}, {result['synapse_data']})")
    for kind in ("bare", "floor", "casusbot"):
        print(f"{kind:10} " + " ".join(f"{result[f'{kind}_p{p}_ms']:8.1f}" for p in (50, 95, 99)))
    for key, value in result.items():
        if key.endswith("_ratio"):
            print(f"{key:40} {value}")
    for target, state in result["targets"].items():
        print(f"target {target}: {state}")
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
