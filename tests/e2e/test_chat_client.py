"""The terminal client (`casusbot chat`, `make chat`) on a real Synapse: a partner reads a
poll and a reply as text, with the command the reply answers; Ctrl-C quits at once with exit
status 0 (issue 23)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import json
import os
import pty
import re
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from bot.chat import run_chat, show_news
from tests.e2e.conftest import World, overleg_with_politie
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


async def _printed(out: io.StringIO, pattern: str, timeout: float = 20.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not re.search(pattern, out.getvalue()):
        assert loop.time() < deadline, f"not printed: {pattern!r} in {out.getvalue()!r}"
        await asyncio.sleep(0.1)
    return out.getvalue()


async def test_a_partner_reads_a_poll_and_a_reply_with_its_command(world: World) -> None:
    o = await overleg_with_politie(world)
    out = io.StringIO()
    printer = asyncio.create_task(show_news(o.pol, o.bot_id, o.room, out, len(o.pol.seen)))
    try:
        await o.pol.send(o.room, "!hulp")
        text = await _printed(out, re.escape(f"↳ {o.politie.user_id}: !hulp"))

        await ask(o.chair, o.room, o.bot_id, "!overleg plan 15-12-2026 14:00 op Stadhuis")
        case = re.search(r"C-\w+", await ask(o.chair, o.room, o.bot_id, "!casus open"))
        assert case is not None
        await ask(o.chair, o.room, o.bot_id, f"!agenda add M1 {case[0]}")
        await o.chair.send(o.room, "!agenda send M1")
        poll = await o.pol.wait_for(lambda s: s.room_id == o.room
                                    and s.msgtype == "m.poll.start", timeout=20)
        content = poll.content or {}
        answers = [a["m.text"] for a in content["m.poll.start"]["answers"]]
        question = content["m.poll.start"]["question"]["m.text"]
        text = await _printed(out, re.escape(f"  1. {answers[0]}\n  2. {answers[1]}"))
        assert question.split("\n")[0] in text
        assert "↳ " + o.chair.client.user_id + ": !casus open" in text
    finally:
        printer.cancel()
        await asyncio.gather(printer, return_exceptions=True)


async def test_piped_commands_are_answered_before_the_client_ends(world: World) -> None:
    """`printf '!hulp\n' | make chat`: the input ends at once, yet the bot's answer is
    printed before the client quits (it waits for the answers to what it sent)."""
    o = await overleg_with_politie(world)
    creds = {"homeserver": world.synapse.url, "room_id": o.room,
             "users": {"partner1": {"user_id": o.politie.user_id,
                                    "password": o.politie.password},
                       "casusbot": {"user_id": o.bot_id, "password": ""}}}
    read, write = os.pipe()
    os.write(write, b"!hulp\n")
    os.close(write)
    out = io.StringIO()
    try:
        await asyncio.wait_for(run_chat(creds, "partner1", world.tmp / "pipe-store",
                                        stdin=read, out=out), 40)
    finally:
        os.close(read)
    assert f"↳ {o.politie.user_id}: !hulp" in out.getvalue()


async def test_ctrl_c_quits_the_terminal_client_at_once_with_status_0(world: World) -> None:
    partner = world.user("partner")
    room = world.room(world.chair, [world.bot_user, partner])
    world.join(partner, room)
    demo = world.tmp / "demo"
    demo.mkdir()
    (demo / "credentials.json").write_text(json.dumps({
        "homeserver": world.synapse.url, "room_id": room,
        "users": {"partner1": {"user_id": partner.user_id, "password": partner.password},
                  "casusbot": {"user_id": world.bot_user.user_id,
                               "password": world.bot_user.password}}}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for started in (True, False):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from bot.cli import main; main()", "chat",
            "--as", "partner1", "--dir", str(demo), cwd=REPO, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        try:
            if started:  # at the prompt, with the input open (nothing typed yet)
                line = await asyncio.wait_for(proc.stdout.readline(), 30)
                assert line.startswith(b"Chatting"), line
            else:  # while it logs in and syncs for the first time
                await asyncio.sleep(1.5)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            rc = await asyncio.wait_for(proc.wait(), 5)
            took = time.monotonic() - sent
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert rc == 0, (started, rc, await proc.stderr.read() if proc.stderr else b"")
        assert took < 1.0, (started, took)


def _controlling_terminal() -> None:
    """In the child, after setsid: its stdin (a pty) becomes its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def test_ctrl_c_in_make_chat_ends_make_with_status_0(world: World) -> None:
    """As in a terminal: `make chat` on a pty, Ctrl-C typed there (the terminal signals
    its foreground process group); make ends at once with status 0 and no make error."""
    partner = world.user("partner")
    room = world.room(world.chair, [world.bot_user, partner])
    world.join(partner, room)
    demo = world.tmp / "demo"
    demo.mkdir()
    (demo / "credentials.json").write_text(json.dumps({
        "homeserver": world.synapse.url, "room_id": room,
        "users": {"partner1": {"user_id": partner.user_id, "password": partner.password},
                  "casusbot": {"user_id": world.bot_user.user_id,
                               "password": world.bot_user.password}}}))
    # A stand-in for the installed venv: its casusbot runs this checkout on the demo folder,
    # and its install stamp is up to date, so make builds nothing.
    venv = world.tmp / "venv"
    (venv / "bin").mkdir(parents=True)
    casusbot = venv / "bin" / "casusbot"
    casusbot.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -c "
                        f"'from bot.cli import main; main()' \"$@\" --dir {demo}\n")
    casusbot.chmod(0o700)
    cksum = subprocess.run("cat pyproject.toml | cksum | cut -d' ' -f1", shell=True,
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    (venv / f".installed-{cksum}").touch()
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        "make", "--no-print-directory", "chat", f"VENV={venv}", "WHO=partner1", cwd=REPO,
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        preexec_fn=_controlling_terminal)
    os.close(slave)
    os.set_blocking(master, False)
    shown = b""

    async def screen(until: bytes, timeout: float) -> None:
        nonlocal shown
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while until not in shown:
            assert loop.time() < deadline, shown
            with contextlib.suppress(BlockingIOError, OSError):
                shown += os.read(master, 4096)
            await asyncio.sleep(0.05)

    try:
        await screen(b"Chatting", 30)
        sent = time.monotonic()
        os.write(master, b"\x03")  # Ctrl-C typed on the terminal
        rc = await asyncio.wait_for(proc.wait(), 5)
        took = time.monotonic() - sent
        with contextlib.suppress(BlockingIOError, OSError):
            shown += os.read(master, 4096)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        os.close(master)
    assert rc == 0, shown
    assert b"***" not in shown  # make's error line
    assert took < 1.0, took
