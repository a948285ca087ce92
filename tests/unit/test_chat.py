"""The terminal client's printing (bot/chat.py): replies name the command they answer, polls
and files read as text, the printing and the sync loop outlast quiet hours and network errors,
and typed lines are read without a thread (issue 23)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.chat import ChatClient, Lines, Seen, poll_text, show, show_news

ROOM = "!demo:localhost"
BOT = "@casusbot:localhost"
POL = "@politie-1a2b:localhost"

STABLE_POLL: dict[str, Any] = {
    "m.poll.start": {"question": {"m.text": "Komt Politie naar M1?"},
                     "kind": "m.poll.disclosed", "max_selections": 1,
                     "answers": [{"id": "yes", "m.text": "ja"}, {"id": "no", "m.text": "nee"}]},
    "body": "fallback",
}
UNSTABLE_POLL: dict[str, Any] = {
    "org.matrix.msc3381.poll.start": {
        "question": {"org.matrix.msc1767.text": "Q-7"},
        "answers": [{"id": "a", "org.matrix.msc1767.text": "A-1"},
                    {"id": "b", "org.matrix.msc1767.text": "A-2"}]},
    "body": "fallback",
}


def _seen(body: str, *, sender: str = BOT, room: str = ROOM, event_id: str = "$e",
          msgtype: str = "m.notice", relates: dict[str, Any] | None = None,
          content: dict[str, Any] | None = None) -> Seen:
    return Seen(room, sender, body, None, msgtype, event_id, relates, content)


def test_a_poll_reads_as_its_question_and_numbered_answers() -> None:
    assert poll_text(STABLE_POLL).split("\n") == ["Komt Politie naar M1?", "1. ja", "2. nee"]
    assert poll_text(UNSTABLE_POLL).split("\n") == ["Q-7", "1. A-1", "2. A-2"]
    assert poll_text({"body": "only a body"}) == "only a body"


def test_a_poll_is_shown_indented_under_its_question() -> None:
    poll = _seen("", msgtype="m.poll.start", content=UNSTABLE_POLL)
    assert show(poll, [poll], ROOM) == "Q-7\n  1. A-1\n  2. A-2\n"


def test_a_reply_names_the_command_it_answers() -> None:
    command = _seen("!casus toon C-7K2M9Q\nmore", sender=POL, event_id="$cmd",
                    msgtype="m.text")
    reply = _seen("Casus C-7K2M9Q", event_id="$r", relates={"m.in_reply_to": {
        "event_id": "$cmd"}})
    assert show(reply, [command, reply], ROOM).split("\n")[0] == f"↳ {POL}: !casus toon …"
    threaded = _seen("x", relates={"rel_type": "m.thread", "event_id": "$root",
                                   "m.in_reply_to": {"event_id": "$cmd"}})
    assert show(threaded, [command], ROOM).startswith(f"↳ {POL}: !casus toon")
    unknown = _seen("y", relates={"m.in_reply_to": {"event_id": "$gone"}})
    assert show(unknown, [command], ROOM) == "y\n"


def test_a_direct_message_and_a_file_are_marked() -> None:
    dm = _seen("Agenda M1", room="!dm:localhost")
    assert show(dm, [dm], ROOM) == "[direct]\n  Agenda M1\n"
    ics = _seen("overleg-M1.ics", msgtype="m.file")
    assert show(ics, [ics], ROOM).startswith("📎 overleg-M1.ics")


async def _client(tmp_path: Path) -> ChatClient:
    return ChatClient("http://127.0.0.1:9", "@partner1:localhost", "pw", tmp_path / "store")


async def test_printing_goes_on_after_more_than_an_hour_of_quiet(tmp_path: Path) -> None:
    chat = await _client(tmp_path)
    out = io.StringIO()
    loop = asyncio.get_running_loop()
    printer = asyncio.create_task(show_news(chat, BOT, ROOM, out))
    try:
        await asyncio.sleep(0)
        real = loop.time
        loop.time = lambda: real() + 3 * 3600  # type: ignore[method-assign]
        for _ in range(5):
            await asyncio.sleep(0)
        assert not printer.done()
        chat.add(_seen("Casus C-7K2M9Q", event_id="$late"))
        chat.add(_seen("!hulp", sender=POL, msgtype="m.text", event_id="$other"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert "Casus C-7K2M9Q" in out.getvalue()
        assert "!hulp" not in out.getvalue()  # only the bot's messages are printed
    finally:
        del loop.time
        printer.cancel()
        await asyncio.gather(printer, return_exceptions=True)
        await chat.client.close()


async def test_the_sync_loop_survives_a_network_error(tmp_path: Path) -> None:
    chat = await _client(tmp_path)
    chat.retry_after = 0
    calls = 0
    forever = asyncio.Event()

    async def sync(**_: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise aiohttp.ClientConnectionError("homeserver restarting")
        if calls == 2:
            return object()  # an error response
        await forever.wait()

    chat.client.sync = sync  # type: ignore[method-assign]
    task = asyncio.create_task(chat._loop())
    try:
        for _ in range(10):
            await asyncio.sleep(0)
        assert calls == 3
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await chat.client.close()


async def test_typed_lines_are_read_from_a_pipe_and_a_file(tmp_path: Path) -> None:
    r, w = os.pipe()
    lines = Lines(r)
    os.write(w, b"!hulp\n!casus")
    assert await asyncio.wait_for(lines.get(), 2) == "!hulp"
    os.close(w)
    assert await asyncio.wait_for(lines.get(), 2) == "!casus"
    assert await asyncio.wait_for(lines.get(), 2) is None
    os.close(r)

    typed = tmp_path / "typed.txt"
    typed.write_text("!hulp\n\n!overleg\n")
    with typed.open("rb") as f:
        from_file = Lines(f.fileno())
        got = [await from_file.get() for _ in range(4)]
    assert got == ["!hulp", "", "!overleg", None]


def test_a_reply_never_shows_the_commands_arguments_again() -> None:
    """A refused command's arguments may hold what the bot removed from the room: the line
    naming the command shows its words only (issue 23, found by a newcomer's try-out)."""
    number = "06" + "".join(str((7 * i + 3) % 10) for i in range(8))  # generated, fake
    command = _seen(f"!actie toevoegen C-7K2M9Q Politie morgen Bel {number}", sender=POL,
                    event_id="$cmd", msgtype="m.text")
    refusal = _seen("Niet opgeslagen", event_id="$r",
                    relates={"m.in_reply_to": {"event_id": "$cmd"}})
    shown = show(refusal, [command, refusal], ROOM)
    assert number not in shown and "Politie" not in shown
    assert shown.startswith(f"↳ {POL}: !actie toevoegen …")
    hulp = _seen("!hulp", sender=POL, event_id="$h", msgtype="m.text")
    answer = _seen("Commando's", relates={"m.in_reply_to": {"event_id": "$h"}})
    assert show(answer, [hulp], ROOM).startswith(f"↳ {POL}: !hulp\n")


async def test_the_client_says_what_it_waits_for_when_the_homeserver_is_not_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make chat` without `make run`: a line saying what it waits for, not silence."""
    from bot import chat

    monkeypatch.setattr(chat, "START_NOTE_S", 0.2)
    out = io.StringIO()
    read, write = os.pipe()
    creds = {"homeserver": "http://127.0.0.1:9", "room_id": ROOM,
             "users": {"chair": {"user_id": POL, "password": "x"},
                       "casusbot": {"user_id": "@casusbot:localhost"}}}
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(chat.run_chat(creds, "chair", tmp_path / "store",
                                                 stdin=read, out=out), 1.5)
    finally:
        os.close(read)
        os.close(write)
    assert "Waiting for the homeserver at http://127.0.0.1:9" in out.getvalue()


async def test_another_server_on_the_demos_port_is_named_in_one_line(tmp_path: Path) -> None:
    """`make chat` when the demo's port answers, but not as its Synapse (another program):
    a ChatError naming the server (`casusbot chat` prints it as one line, exit status 2),
    no traceback (found by a newcomer's try-out)."""
    import http.server
    import threading

    from bot.chat import ChatError, run_chat

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    creds = {"homeserver": url, "room_id": ROOM,
             "users": {"chair": {"user_id": POL, "password": "x"},
                       "casusbot": {"user_id": "@casusbot:localhost"}}}
    read, write = os.pipe()
    try:
        with pytest.raises(ChatError, match=re.escape(url)):
            await asyncio.wait_for(run_chat(creds, "chair", tmp_path / "store", stdin=read,
                                            out=io.StringIO()), 10)
    finally:
        server.shutdown()
        os.close(read)
        os.close(write)
