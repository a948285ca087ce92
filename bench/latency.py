"""Pieces of `make bench` (bench/run.py): the floor echo bot, percentiles, and waiting for
a fresh Synapse's background database updates."""

from __future__ import annotations

import asyncio

from nio import AsyncClient, MatrixRoom, RoomMessageText

from bot import devserver


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
