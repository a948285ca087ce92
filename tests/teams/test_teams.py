"""casusbot in a Teams channel: setup, planning, cards, buttons, proactive reminders, DMs."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import aiohttp
from sqlmodel import col, select

from bot.app import bootstrap
from bot.clock import FakeClock
from bot.config import load
from bot.teams.bot import TeamsBot
from storage.db import session_scope
from storage.models import (
    Attendance,
    InfoAnswer,
    Member,
    OutboxMessage,
    TeamsConversation,
)
from tests.teams.conftest import CHANNEL, NOW, Teams, card_of, teams_id, text_of


def case_id(text: str) -> str:
    found = re.search(r"C-[0-9A-Z]{5,}", text)
    assert found, text
    return found[0]


async def overleg(t: Teams) -> dict[str, str]:
    """An overleg in the channel: Politie (core), Jeugdzorg (external, annex 1), members."""
    chair = t.admin  # type: ignore[attr-defined]
    politie, jeugd = teams_id(), teams_id()
    # Addressed with an @mention and no prefix: still a command.
    done = await t.say(chair, "@casusbot inrichten Overleg Noord", mentions=(t.mention_bot(),))
    assert "Overleg Noord" in done
    await t.say(chair, "!annex add Jeugdzorg door burgemeester Teststad")
    await t.say(chair, "!partner add Politie core")
    await t.say(chair, "!partner add Jeugdzorg")
    added = await t.say(chair, "!lid add @Agent Politie", mentions=((politie, "Agent"),))
    # Named as Teams showed them in the mention, not by their 29:… ID.
    assert "Agent" in added and "Politie" in added and politie not in added
    await t.say(chair, "!lid add @Jeugdwerker Jeugdzorg", mentions=((jeugd, "Jeugdwerker"),))
    return {"chair": chair, "politie": politie, "jeugd": jeugd}


async def test_setup_binds_the_channel_and_members_are_teams_ids(teams: Teams) -> None:
    people = await overleg(teams)
    with session_scope(teams.app.engine) as s:
        members = {m.user_id: m.role for m in s.query(Member).all()}  # type: ignore[attr-defined]
        refs = [r.reference_json for r in s.query(TeamsConversation).all()]  # type: ignore[attr-defined]
    assert members == {people["chair"]: "chair", people["politie"]: "partner",
                       people["jeugd"]: "partner"}
    # The stored conversation reference holds no display names.
    assert refs and all("Testpersoon" not in r and "Agent" not in r for r in refs)
    # A mention that is not a Teams user is refused with an example, nothing stored.
    refused = await teams.say(people["chair"], "!lid add iemand Politie")
    assert "Geen geldige Teams-gebruiker" in refused and "@-vermelding" in refused
    # The bot's replies reached the channel as proactive-free replies without a token.
    assert all("Authorization" not in r["headers"] for r in teams.connector.received)


async def test_meeting_case_agenda_card_and_buttons(teams: Teams) -> None:
    p = await overleg(teams)
    mark = len(teams.connector.messages())
    planned = await teams.say(p["chair"], "!overleg plan 15-12-2026 14:00 op Stadhuis")
    assert "M1" in planned and "gepland" in planned
    # The answer is a reply to the command, in its post's thread (a new post's ID).
    command = teams.last_activity
    answer = teams.connector.messages()[mark]
    assert answer["thread"] == command["id"] and answer["body"]["replyToId"] == command["id"]
    assert answer["path"].endswith(f";messageid={command['id']}/activities/{command['id']}")
    case = case_id(await teams.say(p["chair"], "!casus open"))
    await teams.say(p["chair"], f"!agenda add M1 {case}")

    mark = len(teams.connector.messages())
    await teams.post(teams.activity(p["chair"], type="message", text="!agenda send M1"))
    sent = await teams.card(lambda r: r["conversation"] == CHANNEL, after=mark)
    card = card_of(sent)
    toggles = [i for i in card["body"] if i["type"] == "Input.Toggle"]
    assert [t["id"] for t in toggles] == [f"case:{case}"]
    verbs = [a["data"]["verb"] for a in card["actions"]]
    assert verbs == ["accept", "decline", "info"]
    assert case in card["fallbackText"] and "Kies hieronder" in text_of(sent)
    # No poll and no .ics file on Teams: the card carries the answers.
    assert not any("peiling" in text_of(r) for r in teams.connector.messages()[mark:])

    # Politie presses "Wij komen" (Action.Submit on the card).
    mark = len(teams.connector.messages())
    resp = await teams.post(teams.activity(p["politie"], type="message", replyToId=sent["id"],
                                           value={"verb": "accept", f"case:{case}": "true"}))
    assert resp.status == 202
    reply = await teams.connector.wait_for(lambda r: r["conversation"] == CHANNEL, after=mark)
    assert "Politie komt naar overleg M1 (via de knop)" in text_of(reply)
    # ... and ticks "we hold information" on the case.
    mark = len(teams.connector.messages())
    await teams.post(teams.activity(p["politie"], type="message", replyToId=sent["id"],
                                    value={"verb": "info", f"case:{case}": "true"}))
    noted = await teams.connector.wait_for(lambda r: r["conversation"] == CHANNEL, after=mark)
    assert case in text_of(noted) and "wel informatie" in text_of(noted)

    # The chair's status board is a card with the same answers.
    status = await teams.say(p["chair"], "!status M1")
    assert "Politie: bevestigd" in status and f"{case}: Politie" in status

    # Action.Execute (Universal Actions): answered in the HTTP response itself.
    execute = teams.activity(p["politie"], type="invoke", name="adaptiveCard/action",
                             replyToId=sent["id"],
                             value={"action": {"type": "Action.Execute", "verb": "decline",
                                               "data": {}}, "trigger": "manual"})
    async with teams.http.post(f"{teams.bot.url}/api/messages", json=execute) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["statusCode"] == 200 and "komt niet" in body["value"]

    with session_scope(teams.app.engine) as s:
        answers = [(a.attends, a.source) for a in s.query(Attendance).all()]  # type: ignore[attr-defined]
        info = [(i.holds, i.user_id) for i in s.query(InfoAnswer).all()]  # type: ignore[attr-defined]
    assert answers == [(True, "card"), (False, "card")]
    assert info == [(True, p["politie"])]


async def test_a_stranger_pressing_a_button_records_nothing(teams: Teams) -> None:
    p = await overleg(teams)
    await teams.say(p["chair"], "!overleg plan 15-12-2026 14:00")
    case = case_id(await teams.say(p["chair"], "!casus open"))
    await teams.say(p["chair"], f"!agenda add M1 {case}")
    mark = len(teams.connector.messages())
    await teams.post(teams.activity(p["chair"], type="message", text="!agenda send M1"))
    sent = await teams.card(lambda r: True, after=mark)
    mark = len(teams.connector.messages())
    await teams.post(teams.activity(teams_id(), type="message", replyToId=sent["id"],
                                    value={"verb": "accept"}))
    reply = await teams.connector.wait_for(lambda r: r["conversation"] == CHANNEL, after=mark)
    assert "geen lid" in text_of(reply).lower()
    with session_scope(teams.app.engine) as s:
        assert s.query(Attendance).count() == 0  # type: ignore[attr-defined]


async def test_external_partner_sees_only_its_case_in_a_personal_chat(teams: Teams) -> None:
    p = await overleg(teams)
    await teams.say(p["chair"], "!overleg plan 15-12-2026 14:00")
    a = case_id(await teams.say(p["chair"], "!casus open"))
    b = case_id(await teams.say(p["chair"], "!casus open"))
    await teams.say(p["chair"], f"!casus partner {b} add Jeugdzorg")
    await teams.say(p["chair"], f"!agenda add M1 {a}")
    await teams.say(p["chair"], f"!agenda add M1 {b}")

    # Jeugdzorg's member never wrote to the bot personally: Teams forbids a DM, so the
    # overleg (chair mentioned) is told, once; the agenda DM waits.
    mark = len(teams.connector.messages())
    await teams.post(teams.activity(p["chair"], type="message", text="!agenda send M1"))
    note = await teams.connector.wait_for(
        lambda r: "persoonlijk bericht" in text_of(r), after=mark)
    assert note["conversation"] == CHANNEL
    mentioned = {e["mentioned"]["id"] for e in note["body"].get("entities", [])}
    assert {p["jeugd"], p["chair"]} <= mentioned
    channel_card = await teams.connector.wait_for(
        lambda r: r["conversation"] == CHANNEL and bool(r["body"].get("attachments")),
        after=mark)
    assert a in text_of(channel_card) and b in text_of(channel_card)

    # Once they open a personal chat, the waiting agenda arrives there: only case B.
    personal = "a:personal-jeugd"
    mark = len(teams.connector.messages())
    await teams.post(teams.activity(p["jeugd"], personal, personal=True, type="message",
                                    text="hulp"))  # no prefix needed in a personal chat
    dm = await teams.card(lambda r: r["conversation"] == personal, after=mark)
    await teams.connector.wait_for(
        lambda r: r["conversation"] == personal and "overleg" in text_of(r).lower()
        and not r["body"].get("attachments"), after=mark)  # the answer to "hulp"
    assert b in text_of(dm) and a not in text_of(dm)
    toggles = [i["id"] for i in card_of(dm)["body"] if i["type"] == "Input.Toggle"]
    assert toggles == [f"case:{b}"]
    # A forged toggle for the case Jeugdzorg may not see is not recorded.
    mark = len(teams.connector.messages())
    await teams.post(teams.activity(p["jeugd"], personal, personal=True, type="message",
                                    replyToId=dm["id"],
                                    value={"verb": "info", f"case:{a}": "true",
                                           f"case:{b}": "false"}))
    noted = await teams.connector.wait_for(lambda r: r["conversation"] == personal,
                                           after=mark)
    assert b in text_of(noted) and a not in text_of(noted)
    with session_scope(teams.app.engine) as s:
        assert [(i.holds,) for i in s.query(InfoAnswer).all()] == [(False,)]  # type: ignore[attr-defined]
    # The note to the chair was sent once, not per message.
    assert sum("persoonlijk bericht" in text_of(r) for r in teams.connector.messages()) == 1


async def test_overdue_reminder_is_delivered_proactively(teams: Teams) -> None:
    p = await overleg(teams)
    case = case_id(await teams.say(p["chair"], "!casus open"))
    added = await teams.say(p["chair"], f"!actie add {case} Politie 3-12-2026 Dossier delen")
    assert "A1" in added
    mark = len(teams.connector.messages())
    teams.clock.advance(timedelta(days=3))  # Friday 4 December, 09:00: one day late
    teams.bot.waker.poke()
    overdue = await teams.connector.wait_for(
        lambda r: "te laat" in text_of(r) and r["conversation"] == CHANNEL, after=mark)
    # A proactive send: a plain POST to the conversation, not a reply to an activity.
    assert overdue["path"] == f"/v3/conversations/{CHANNEL}/activities"
    assert "A1" in text_of(overdue) and "Authorization" not in overdue["headers"]
    mentioned = {e["mentioned"]["id"] for e in overdue["body"].get("entities", [])}
    assert p["politie"] in mentioned
    assert teams.clock.now() == NOW + timedelta(days=3)


async def test_a_removed_bot_gives_up_on_that_conversation(teams: Teams) -> None:
    p = await overleg(teams)
    before = len(teams.connector.received)
    teams.connector.refuse[CHANNEL] = 403  # the bot was removed from the team
    await teams.post(teams.activity(p["chair"], type="message", text="!lid list"))
    for _ in range(100):
        rows = _rows(teams)
        if rows[-1].sent_at is not None:
            break
        await asyncio.sleep(0.05)
    for _ in range(100):
        if all(r.sent_at is not None for r in _rows(teams)):
            break
        await asyncio.sleep(0.05)
    listed, notice = _rows(teams)[-2:]
    # Given up for good (not retried forever), and nothing reached the conversation; the
    # notice that says so was refused as well and is not told again.
    assert (listed.template, notice.template) == ("member/list", "error/not_delivered")
    for row in (listed, notice):
        assert row.sent_at is not None and row.remote_id is None
        assert (row.last_error or "").startswith("gave up: 403")
    assert len(teams.connector.received) == before
    assert teams.bot.refused == {"403": 2}


async def test_a_refused_message_is_logged_counted_and_told_once(teams: Teams, caplog) -> None:  # type: ignore[no-untyped-def]
    import json
    import logging

    p = await overleg(teams)
    teams.connector.refuse_next = [400]  # the connector finds the next activity malformed
    mark = len(teams.connector.messages())
    with caplog.at_level(logging.ERROR, logger="bot.deliver"):
        await teams.post(teams.activity(p["chair"], type="message", text="!partner list"))
        told = await teams.connector.wait_for(lambda r: r["conversation"] == CHANNEL,
                                              after=mark)
    rows = _rows(teams)
    assert [r.template for r in rows[-2:]] == ["partner/list", "error/not_delivered"]
    assert (rows[-2].last_error or "").startswith("gave up: 400") and rows[-2].remote_id is None
    # The notice is the only message that arrived, in the command's thread.
    assert told["thread"] is not None and len(teams.connector.messages()) == mark + 1
    [error] = [r for r in caplog.records if r.getMessage().startswith("send refused")]
    shape = json.loads(error.shape)  # type: ignore[attr-defined]
    assert shape["reply"] is True and shape["activity"]["text"].startswith("str[")
    assert "Politie" not in error.shape  # type: ignore[attr-defined]
    assert teams.bot.refused == {"400": 1}


def _rows(t: Teams) -> list[OutboxMessage]:
    with session_scope(t.app.engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


async def test_production_mode_refuses_a_request_without_a_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"CASUSBOT_ADMINS": teams_id(), "CASUSBOT_REF_KEY": "k" * 32,
           "CASUSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
           "CASUSBOT_TEAMS_APP_ID": "00000000-0000-0000-0000-000000000001",
           "CASUSBOT_TEAMS_APP_PASSWORD": "not-a-real-secret",
           "CASUSBOT_TEAMS_TENANT_ID": "00000000-0000-0000-0000-000000000002"}
    config = load(env, "teams")
    from dataclasses import replace

    assert config.teams is not None
    config = replace(config, teams=replace(config.teams, port=0))
    app = bootstrap(config, FakeClock(NOW))
    bot = TeamsBot(app)
    await bot.start()
    try:
        async with aiohttp.ClientSession() as http:
            activity = {"type": "message", "id": "x", "channelId": "msteams", "text": "!hulp",
                        "serviceUrl": "http://127.0.0.1:9/", "from": {"id": teams_id()},
                        "recipient": {"id": "28:bot"}, "conversation": {"id": CHANNEL}}
            async with http.post(f"{bot.url}/api/messages", json=activity) as resp:
                assert resp.status == 401
            async with http.post(f"{bot.url}/api/messages", json=activity,
                                 headers={"Authorization": "Bearer not-a-jwt"}) as resp:
                assert resp.status == 401
        with session_scope(app.engine) as s:
            assert s.query(TeamsConversation).count() == 0  # type: ignore[attr-defined]
    finally:
        await bot.stop()
        app.engine.dispose()



async def test_a_conversation_is_welcomed_once(teams: Teams) -> None:
    """The Agents Playground sends "added" each time its page opens, Teams again after an
    app update: one welcome per conversation."""
    added = {"type": "conversationUpdate",
             "membersAdded": [{"id": teams.bot_id, "name": "casusbot"}]}
    mark = len(teams.connector.messages())
    for _ in range(3):
        resp = await teams.post(teams.activity(teams.admin, **added))  # type: ignore[attr-defined]
        assert resp.status in (200, 202)
    await teams.connector.wait_for(lambda r: r["conversation"] == CHANNEL, after=mark)
    await teams.say(teams.admin, "!hulp")  # type: ignore[attr-defined]  (all handled by now)
    with session_scope(teams.app.engine) as s:
        welcomes = s.exec(select(OutboxMessage).where(
            OutboxMessage.template == "teams/welcome")).all()
    assert len(welcomes) == 1


async def test_a_conversation_that_is_an_overleg_is_not_asked_to_set_one_up(
        teams: Teams) -> None:
    """An "added" that comes after the overleg was set up (a bot installed before the
    welcome existed, then updated) greets the overleg by name and asks for no setup
    (issue 23)."""
    await teams.say(teams.admin, "@casusbot inrichten Overleg Noord",  # type: ignore[attr-defined]
                    mentions=(teams.mention_bot(),))
    mark = len(teams.connector.messages())
    resp = await teams.post(teams.activity(  # type: ignore[attr-defined]
        teams.admin, type="conversationUpdate",  # type: ignore[attr-defined]
        membersAdded=[{"id": teams.bot_id, "name": "casusbot"}]))
    assert resp.status in (200, 202)
    await teams.connector.wait_for(lambda r: r["conversation"] == CHANNEL, after=mark)
    with session_scope(teams.app.engine) as s:
        welcome = s.exec(select(OutboxMessage).where(
            OutboxMessage.template == "teams/welcome")).one()
    assert "Overleg Noord" in welcome.body
    assert "inrichten" not in welcome.body and "setup" not in welcome.body


async def test_teams_help_and_replies_speak_of_channels_chats_and_mentions(
        teams: Teams) -> None:
    """Teams' words: "@casusbot" before every command in help and examples (a channel
    delivers only what mentions the bot), never the "!" prefix; "kanaal" or "chat" where
    Matrix says "kamer"."""
    admin = teams.admin  # type: ignore[attr-defined]
    mark = len(teams.connector.messages())
    await teams.say(admin, "@casusbot hulp", mentions=(teams.mention_bot(),))
    raw = teams.connector.messages()[mark]["body"]["text"]
    assert "<code>@casusbot hulp &lt;" in raw and "<code>!" not in raw
    assert "@naam" in raw and ":server" not in raw  # a Teams mention, not a Matrix ID
    done = await teams.say(admin, "@casusbot inrichten Overleg Noord",
                           mentions=(teams.mention_bot(),))
    assert done.startswith("Dit kanaal is nu het overleg") and "kamer" not in done
    group = "19:groepschat-0001@thread.v2"
    in_chat = await teams.say(admin, "@casusbot inrichten Overleg Zuid", group,
                              mentions=(teams.mention_bot(),))
    assert in_chat.startswith("Deze chat is nu het overleg")


async def test_the_presence_question_is_a_card_whose_button_confirms(teams: Teams) -> None:
    """Issue 24: the chair starts the meeting of today; the question is a card with one
    button; Politie presses it and is recorded as present with confidentiality."""
    from storage.models import Presence

    p = await overleg(teams)
    await teams.say(p["chair"], "!overleg plan 1-12-2026 14:00")
    mark = len(teams.connector.messages())
    await teams.post(teams.activity(p["chair"], type="message", text="!overleg starten M1"))
    sent = await teams.card(lambda r: r["conversation"] == CHANNEL, after=mark)
    card = card_of(sent)
    assert [a["data"] for a in card["actions"]] == [{"verb": "present"}]
    assert "geheimhouding" in card["fallbackText"]
    mark = len(teams.connector.messages())
    await teams.post(teams.activity(p["politie"], type="message", replyToId=sent["id"],
                                    value={"verb": "present"}))
    reply = await teams.connector.wait_for(lambda r: r["conversation"] == CHANNEL, after=mark)
    assert "(via de knop)" in text_of(reply)
    with session_scope(teams.app.engine) as s:
        rows = [(r.user_id, r.source, r.confidential)
                for r in s.exec(select(Presence)).all()]
    assert rows == [(p["politie"], "card", True)]
