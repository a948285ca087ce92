"""What real clients send (wire JSON as Element and others send it): replies with quoted
fallbacks, edits, threads, pills in every form, invisible characters, emoji forms. Each is
read as the command the person meant; the answer belongs to the command."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from nio import Event, RoomMessageText
from sqlmodel import Session, select

from bot.matrix.events import pill_target, said
from bot.matrix.sending import relation
from commands.attendance import reaction_answer
from commands.inbound import Inbound, handle
from commands.registry import Registry
from commands.text import clean
from storage.models import InboundEvent, OutboxMessage, Partner
from tests.unit.conftest import CHAIR, NOW, ROOM, SETTINGS, Say

BOT = "@casusbot:localhost"
POL = "@politie1:localhost"


def _event(content: dict[str, Any], event_id: str = "$e1:localhost") -> RoomMessageText:
    event = Event.parse_event({"type": "m.room.message", "event_id": event_id,
                               "sender": CHAIR, "origin_server_ts": 1_764_000_000_000,
                               "content": content, "unsigned": {"age": 5}})
    assert isinstance(event, RoomMessageText)
    return event


def _text(content: dict[str, Any]) -> str:
    return said(_event(content).source["content"]).text


ELEMENT_REPLY = {  # Element Web's "Reply" to the bot's agenda, as sent on the wire
    "msgtype": "m.text",
    "body": "> <@casusbot:localhost> Agenda casusoverleg M1\n> Casussen: C-7K2FJ\n\n"
            "!bevestig M1 ja",
    "format": "org.matrix.custom.html",
    "formatted_body": "<mx-reply><blockquote><a href=\"https://matrix.to/#/!r:localhost/"
                      "$agenda:localhost?via=localhost\">In reply to</a> <a href=\"https://"
                      "matrix.to/#/@casusbot:localhost\">@casusbot:localhost</a><br>Agenda "
                      "casusoverleg M1<br>Casussen: C-7K2FJ</blockquote></mx-reply>"
                      "!bevestig M1 ja",
    "m.relates_to": {"m.in_reply_to": {"event_id": "$agenda:localhost"}},
}


def test_a_reply_with_the_quoted_fallback_reads_as_the_command() -> None:
    assert _text(ELEMENT_REPLY) == "!bevestig M1 ja"
    plain_only = {k: v for k, v in ELEMENT_REPLY.items()
                  if k not in ("format", "formatted_body")}
    assert _text(plain_only) == "!bevestig M1 ja"


def test_an_edit_reads_as_its_new_content_and_names_what_it_corrects() -> None:
    edit = {"msgtype": "m.text", "body": "* !partner add Politie core",
            "m.new_content": {"msgtype": "m.text", "body": "!partner add Politie core"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig:localhost"}}
    what = said(_event(edit).source["content"])
    assert (what.text, what.replaces) == ("!partner add Politie core", "$orig:localhost")


def test_a_command_in_a_thread_knows_its_thread() -> None:
    threaded = {"msgtype": "m.text", "body": "!overleg lijst",
                "m.relates_to": {"rel_type": "m.thread", "event_id": "$root:localhost",
                                 "is_falling_back": True,
                                 "m.in_reply_to": {"event_id": "$last:localhost"}}}
    what = said(_event(threaded).source["content"])
    assert (what.text, what.thread_root) == ("!overleg lijst", "$root:localhost")
    assert relation("$cmd", "$root:localhost") == {
        "rel_type": "m.thread", "event_id": "$root:localhost", "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$cmd"}}
    assert relation("$cmd", None) == {"m.in_reply_to": {"event_id": "$cmd"}}


@pytest.mark.parametrize("href", [
    "https://matrix.to/#/@politie1:localhost",
    "https://matrix.to/#/%40politie1%3Alocalhost",
    "https://matrix.to/#/@politie1:localhost?via=localhost",
    "matrix:u/politie1:localhost",
    "matrix:u/politie1:localhost?action=chat",
    "MATRIX:u/politie1:localhost",
])
def test_a_pill_in_every_spec_form_becomes_the_user_id(href: str) -> None:
    assert pill_target(href) == POL
    content = {"msgtype": "m.text", "body": "!lid add Politie Agent Politie",
               "format": "org.matrix.custom.html",
               "formatted_body": f"!lid add <a href=\"{href}\">Politie Agent</a> Politie"}
    assert _text(content) == f"!lid add {POL} Politie"


def test_links_that_are_no_user_pill_are_left_as_text() -> None:
    assert pill_target("https://matrix.to/#/!room:localhost") is None
    assert pill_target("https://example.org/#/@x:y") is None


@pytest.mark.parametrize("noise", ["\ufeff", "\u200b", "\u200c", "\u200d", "\u2060",
                                   "\ufe0f", "\u00ad", "\u200e", "\u200f", "\u202a",
                                   "\u202e", "\u2066", "\u2069", "\u061c", "\u034f",
                                   "\u2061", "\U000e0020"])
def test_invisible_characters_are_removed_from_a_command(noise: str) -> None:
    assert clean(f"{noise}!partner{noise} add Po{noise}litie core") == \
        "!partner add Politie core"
    assert clean("!partner\u00a0add\u202fPolitie core") == "!partner add Politie core"


@pytest.mark.parametrize("mark", ["\ufeff", "\u200f", "\u202e", "\u2066"])
def test_a_command_behind_an_invisible_mark_is_carried_out_not_ignored(
        overleg: Say, session: Session, mark: str) -> None:
    assert overleg.key(f"{mark}!partner add\u200b Reclassering core") == "partner/added"
    assert "Reclassering" in {p.name for p in session.exec(select(Partner))}


@pytest.mark.parametrize("key,answer", [("✅", True), ("✅\ufe0f", True), ("✅\ufe0e", True),
                                        ("✔", True), ("✔\ufe0f", True), ("❌", False),
                                        ("❌\ufe0f", False), ("👍", True), ("👍🏾", True),
                                        ("☑\ufe0f", True), ("✓", True), ("🎉", None),
                                        ("✅ ", True),
                                        ("\ufeff✅", True), ("\u200b✅", True),
                                        ("✅\u200d", True)])
def test_every_presentation_form_of_a_reaction_counts_the_same(key: str,
                                                               answer: bool | None) -> None:
    assert reaction_answer(key) is answer


def _say(session: Session, registry: Registry, overleg: Say, event_id: str, text: str,
         replaces: str | None = None, thread_root: str | None = None,
         minutes: int = 0) -> list[Any]:
    at = NOW + timedelta(minutes=minutes)
    return handle(session, registry, overleg._render, SETTINGS,
                  Inbound(event_id, ROOM, CHAIR, text, at, encrypted=True, replaces=replaces,
                          thread_root=thread_root), at).replies


def test_an_edit_of_a_refused_command_is_carried_out_once(overleg: Say, session: Session,
                                                         registry: Registry) -> None:
    [refused] = _say(session, registry, overleg, "$typo", "!partner add Reclassering xyz")
    assert refused.template == "covenant/not_on_annex"  # "xyz" read as part of the name
    assert session.get(InboundEvent, "$typo").refused  # type: ignore[union-attr]
    [done] = _say(session, registry, overleg, "$fix", "!partner add Reclassering core",
                  replaces="$typo", minutes=1)
    assert done.template == "partner/added"
    # A second edit of the same command does not add it again; it says how to correct.
    [note] = _say(session, registry, overleg, "$fix2", "!partner add Reclassering2 core",
                  replaces="$typo", minutes=2)
    assert note.template == "error/edit_after_effect"
    names = [p.name for p in session.exec(select(Partner))]
    assert names.count("Reclassering") == 1 and "Reclassering2" not in names


def test_an_edit_of_a_command_that_took_effect_changes_nothing_and_says_so(
        overleg: Say, session: Session, registry: Registry) -> None:
    [added] = _say(session, registry, overleg, "$ok", "!partner add Reclassering core")
    assert added.template == "partner/added"
    [note] = _say(session, registry, overleg, "$edit", "!partner add Raad core",
                  replaces="$ok", minutes=1)
    assert note.template == "error/edit_after_effect"
    assert "Raad" not in {p.name for p in session.exec(select(Partner))}


def test_an_edit_that_turns_chatter_into_a_command_is_carried_out(
        overleg: Say, session: Session, registry: Registry) -> None:
    [done] = _say(session, registry, overleg, "$chat-edit", "!partner add Raad core",
                  replaces="$chatter-never-handled")
    assert done.template == "partner/added"


def test_every_reply_answers_its_command_in_its_thread(overleg: Say, session: Session,
                                                      registry: Registry) -> None:
    [reply] = _say(session, registry, overleg, "$cmd", "!partner lijst",
                   thread_root="$root")
    assert (reply.in_reply_to, reply.thread_root) == ("$cmd", "$root")
    [plain] = _say(session, registry, overleg, "$cmd2", "!partner lijst", minutes=1)
    assert (plain.in_reply_to, plain.thread_root) == ("$cmd2", None)


def test_a_refusal_never_quotes_an_identifier_back(overleg: Say, session: Session) -> None:
    import random

    from tests.unit.pii_corpus import fake_bsn  # generated, with a valid 11-proef

    number = fake_bsn(random.Random(17)).replace(" ", "").replace(".", "")
    # A command refused for another reason (an unexpected argument) is scanned whole: the
    # refusal names personal data, never the number, and the message is redacted.
    refused = overleg(f"!privacy lijst {number}")
    assert [r.template for r in refused] == ["error/pii", "privacy/redaction_reason"]
    assert all(number not in r.body and number not in (r.html or "") for r in refused)
    rows = session.exec(select(OutboxMessage)).all()
    assert not any(number in r.body or number in (r.formatted_body or "") for r in rows)
    plain = overleg.reply("!privacy lijst extra")  # a harmless word is still quoted
    assert "extra" in plain.body


def test_a_bsn_after_the_word_ref_is_refused_as_a_reference_and_in_a_description(
        overleg: Say, session: Session) -> None:
    import random

    from tests.unit.pii_corpus import fake_bsn

    number = fake_bsn(random.Random(5)).replace(" ", "").replace(".", "")
    # Hashed, never stored, but the message stays in the room: refused (issue 23).
    assert overleg.keys(f"!casus open ref {number}")[0] == "error/pii"
    code = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    keys = overleg.keys(f"!actie add {code} Politie 15-1-2027 bellen ref {number}")
    assert keys[0] == "error/pii"
    assert number not in " ".join(r.body for r in session.exec(select(OutboxMessage)))



def _edit_of(session: Session, registry: Registry, overleg: Say, original: str,
             event_id: str, text: str, sender: str = CHAIR, minutes: int = 1) -> list[Any]:
    at = NOW + timedelta(minutes=minutes)
    return handle(session, registry, overleg._render, SETTINGS,
                  Inbound(event_id, ROOM, sender, text, at, encrypted=True,
                          replaces=original), at).replies


def test_an_edit_counts_by_what_changed_not_by_how_the_refusal_was_worded(
        overleg: Say, session: Session, registry: Registry) -> None:
    code = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    [late] = _say(session, registry, overleg, "$past", f"!actie add {code} Gemeente "
                  "1-11-2026 bel ouders")
    assert late.template == "action/due_in_past"
    [done] = _edit_of(session, registry, overleg, "$past", "$past-fix",
                      f"!actie add {code} Gemeente 10-12-2026 bel ouders")
    assert done.template == "action/added"


def test_an_edit_of_a_command_into_chatter_is_answered(overleg: Say, session: Session,
                                                      registry: Registry) -> None:
    _say(session, registry, overleg, "$did", "!partner add Reclassering core")
    [note] = _edit_of(session, registry, overleg, "$did", "$oops", "sorry, verkeerde kamer")
    assert note.template == "error/edit_after_effect"


def test_an_edit_by_someone_else_is_ignored(overleg: Say, session: Session,
                                           registry: Registry) -> None:
    _say(session, registry, overleg, "$chair-typo", "!partner add Reclassering xyz")
    assert _edit_of(session, registry, overleg, "$chair-typo", "$other",
                    "!partner add Stadsbank core", sender=POL) == []
    assert "Stadsbank" not in {p.name for p in session.exec(select(Partner))}
    [done] = _edit_of(session, registry, overleg, "$chair-typo", "$own",
                      "!partner add Reclassering core", minutes=2)
    assert done.template == "partner/added"


def test_an_edit_is_scanned_for_personal_data_like_any_message(
        overleg: Say, session: Session, registry: Registry) -> None:
    import random

    from tests.unit.pii_corpus import fake_bsn

    number = fake_bsn(random.Random(11))
    code = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[index]
    _say(session, registry, overleg, "$ok2", f"!actie add {code} Gemeente 10-12-2026 bellen")
    replies = _edit_of(session, registry, overleg, "$ok2", "$pii",
                       f"!actie add {code} Gemeente 10-12-2026 bellen {number}")
    assert replies[0].template == "error/pii"


def test_the_answer_to_an_edit_goes_to_the_originals_thread(
        overleg: Say, session: Session, registry: Registry) -> None:
    _say(session, registry, overleg, "$in-thread", "!partner add Reclassering xyz",
         thread_root="$root")
    [done] = _edit_of(session, registry, overleg, "$in-thread", "$thread-fix",
                      "!partner add Reclassering core")
    assert (done.in_reply_to, done.thread_root) == ("$thread-fix", "$root")


def test_html_paragraphs_end_lines() -> None:
    content = {"msgtype": "m.text", "body": "x", "format": "org.matrix.custom.html",
               "formatted_body": "<p>!lid add <a href=\"https://matrix.to/#/@politie1:"
                                 "localhost\">Agent</a> Politie</p><p>bedankt</p>"}
    assert _text(content) == "!lid add @politie1:localhost Politie\nbedankt"


def test_chatter_edited_into_a_command_twice_is_carried_out_once(
        overleg: Say, session: Session, registry: Registry) -> None:
    [done] = _edit_of(session, registry, overleg, "$chat", "$e1", "!partner add Raad core")
    assert done.template == "partner/added"
    [note] = _edit_of(session, registry, overleg, "$chat", "$e2", "!partner add Raad2 core",
                      minutes=2)
    assert note.template == "error/edit_after_effect"
    assert "Raad2" not in {p.name for p in session.exec(select(Partner))}
