"""What real clients send, end to end on Synapse, as Element puts it on the wire: a
confirmation given with "Reply" (quoted fallback), a refused command corrected by an edit,
a command typed in a thread answered in that thread."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import Attendance, Member, Partner
from tests.e2e.conftest import World, overleg_with_politie
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e



async def test_replies_edits_and_threads_as_element_sends_them(world: World) -> None:
    o = await overleg_with_politie(world, encrypted=True)
    app = o.app
    room, bot_id, chair, pol, politie = o.room, o.bot_id, o.chair, o.pol, o.politie
    await pol.wait_for(lambda s: s.sender == bot_id and s.room_id == room, 20)
    await ask(chair, room, bot_id, "!overleg plan 15-12-2026 14:00")
    notice = [s for s in pol.seen if s.sender == bot_id and s.room_id == room][-1]

    # 1. Politie confirms with Element's "Reply" to the bot's notice: quoted fallback first.
    quoted = notice.body.replace("\n", "\n> ")
    reply: dict[str, Any] = {
        "msgtype": "m.text",
        "body": f"> <{bot_id}> {quoted}\n\n!bevestig M1 ja",
        "format": "org.matrix.custom.html",
        "formatted_body": f"<mx-reply><blockquote><a href=\"https://matrix.to/#/{room}/"
                          f"{notice.event_id}\">In reply to</a> <a href=\"https://matrix.to/"
                          f"#/{bot_id}\">{bot_id}</a><br>{notice.html or notice.body}"
                          "</blockquote></mx-reply>!bevestig M1 ja",
        "m.relates_to": {"m.in_reply_to": {"event_id": notice.event_id}}}
    sent = await pol.send_content(room, reply)
    answer = await pol.wait_for(lambda s: s.sender == bot_id and s.relates is not None
                                and s.relates.get("m.in_reply_to", {}).get("event_id")
                                == sent, 20)
    assert "M1" in answer.body
    with session_scope(app.engine) as s:
        [row] = s.exec(select(Attendance)).all()
    assert (row.user_id, row.attends) == (politie.user_id, True)

    # 2. A refused command corrected by an edit is carried out as corrected.
    typo = await chair.send(room, "!partner add Reclassering xyz")
    await chair.wait_for(lambda s: s.sender == bot_id and s.relates is not None
                         and s.relates.get("m.in_reply_to", {}).get("event_id") == typo, 20)
    edit = {"msgtype": "m.text", "body": "* !partner add Reclassering core",
            "m.new_content": {"msgtype": "m.text", "body": "!partner add Reclassering core"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": typo}}
    edited = await chair.send_content(room, edit)
    await chair.wait_for(lambda s: s.sender == bot_id and s.relates is not None
                         and s.relates.get("m.in_reply_to", {}).get("event_id") == edited, 20)
    with session_scope(app.engine) as s:
        assert "Reclassering" in {p.name for p in s.exec(select(Partner))}

    # 3. A command typed in a thread is answered in that thread.
    root = await chair.send(room, "Overleg over de planning")
    in_thread = {"msgtype": "m.text", "body": "!overleg lijst",
                 "m.relates_to": {"rel_type": "m.thread", "event_id": root,
                                  "is_falling_back": True,
                                  "m.in_reply_to": {"event_id": root}}}
    command = await chair.send_content(room, in_thread)
    threaded = await chair.wait_for(lambda s: s.sender == bot_id and s.relates is not None
                                    and s.relates.get("rel_type") == "m.thread", 20)
    assert threaded.relates is not None
    assert threaded.relates["event_id"] == root
    assert threaded.relates["m.in_reply_to"]["event_id"] == command


async def test_a_member_who_leaves_the_room_is_no_longer_addressed(world: World) -> None:
    o = await overleg_with_politie(world)
    app = o.app
    room, bot_id, chair, pol, politie = o.room, o.bot_id, o.chair, o.pol, o.politie
    await pol.client.room_leave(room)
    told = await chair.wait_for(lambda s: s.sender == bot_id and s.room_id == room
                                and politie.user_id in s.body and "Politie" in s.body
                                and world.chair.user_id in s.body, 20)
    assert told.body
    with session_scope(app.engine) as s:
        [member] = [m for m in s.exec(select(Member)) if m.user_id == politie.user_id]
    assert member.left_room_at is not None
