"""The pure parts of the Teams transport: command text from a message, cards from HTML."""

from __future__ import annotations

from bot.render import Renderer
from bot.teams.bot import command_text
from bot.teams.cards import TeamsRenderer, card_blocks, teams_html
from bot.teams.port import Mention
from commands.registry import Outgoing

BOT = "28:bot"
USER = "29:generated-user-1"


def test_the_bots_mention_is_removed_and_stands_for_the_prefix() -> None:
    bot = Mention(BOT, "casusbot", "<at>casusbot</at>")
    assert command_text("<at>casusbot</at> status M1", (bot,), BOT, "!", False) == "!status M1"
    assert command_text("<at>casusbot</at> !status M1", (bot,), BOT, "!", False) == "!status M1"
    # "@casusbot" alone is answered with the commands, not with silence.
    assert command_text("<at>casusbot</at>&nbsp;", (bot,), BOT, "!", False) == "!help"
    assert command_text("", (), BOT, "!", True) == ""  # an empty message in a chat: nothing


def test_other_mentions_become_the_persons_id_and_markup_goes() -> None:
    other = Mention(USER, "Agent", "<at>Agent</at>")
    text = "<p>!lid add <at>Agent</at>&nbsp;Politie</p>"
    assert command_text(text, (other,), BOT, "!", False) == f"!lid add {USER} Politie"


def test_an_unaddressed_channel_message_without_prefix_is_no_command() -> None:
    assert command_text("goedemorgen allemaal", (), BOT, "!", False) == "goedemorgen allemaal"
    assert command_text("hulp", (), BOT, "!", True) == "!hulp"  # a personal chat is addressed


def test_cards_keep_bold_and_numbered_lists_and_pills_become_mentions() -> None:
    html = "<b>Agenda</b> M1.<ol><li><b>C-7K2FJ</b>: nieuw</li><li>C-2</li></ol>Einde"
    texts = [b["text"] for b in card_blocks(html)]
    assert texts == ["**Agenda** M1.", "1. **C-7K2FJ**: nieuw", "2. C-2", "Einde"]
    pill = f'<a href="https://matrix.to/#/{USER}">{USER}</a> kom'
    assert teams_html(pill) == f"<at>{USER}</at> kom"


def test_matrix_only_forms_have_no_teams_form() -> None:
    render = TeamsRenderer(Renderer(platform="teams"))
    poll = Outgoing("agenda/poll", {}, extra={"kind": "poll", "answers": {}})
    assert render(poll, "19:c") is None
    text = render(Outgoing("error/unknown_command", {"given": "x"}), "19:c")
    assert text is not None and text.event_type == "teams.message"


def test_the_teams_package_carries_this_deployments_app_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io
    import json
    import zipfile

    from click.testing import CliRunner

    from bot.cli import main

    app_id = "3f1c2b7a-0000-4000-8000-00000000c0de"
    env = {"CASUSBOT_ADMINS": "29:generated-admin", "CASUSBOT_REF_KEY": "k" * 32,
           "CASUSBOT_TEAMS_APP_ID": app_id, "CASUSBOT_TEAMS_APP_PASSWORD": "x",
           "CASUSBOT_TEAMS_TENANT_ID": "t"}
    args = ["teams-package", "--organisation", "Gemeente Teststad",
            "--website-url", "https://example.org/casusbot",
            "--privacy-url", "https://example.org/privacy",
            "--terms-url", "https://example.org/terms", "--out", str(tmp_path / "app.zip")]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(io.BytesIO((tmp_path / "app.zip").read_bytes())) as z:
        assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(z.read("manifest.json"))
        assert z.read("color.png").startswith(b"\x89PNG")
    assert manifest["id"] == app_id and manifest["bots"][0]["botId"] == app_id
    assert manifest["developer"]["name"] == "Gemeente Teststad"
    assert "${{" not in json.dumps(manifest)

    bad = CliRunner().invoke(main, [*args[:-2], "--out", str(tmp_path / "b.zip")],
                             env={**env, "CASUSBOT_TEAMS_APP_ID": "casusbot"})
    assert bad.exit_code == 2 and "GUID" in bad.output
    assert not (tmp_path / "b.zip").exists()


def test_a_channel_threads_conversation_id_names_its_channel() -> None:
    from bot.teams.agents import base_conversation

    channel = "19:overleg-noord@thread.tacv2"
    assert base_conversation(f"{channel};messageid=1796083079692") == channel
    # The Agents Playground gives two posts of the same millisecond a suffixed ID.
    assert base_conversation(f"{channel};messageid=1796083079692-1a2b3c4d") == channel
    assert base_conversation(channel) == channel
    assert base_conversation("a:persoonlijk-voorzitter") == "a:persoonlijk-voorzitter"


def test_a_channel_activity_names_its_thread_and_a_chat_none() -> None:
    from bot.teams.agents import in_thread, thread_root

    channel = "19:overleg-noord@thread.tacv2"
    # A reply in a thread and a new post (Teams names the post in the conversation ID).
    assert thread_root(f"{channel};messageid=17960", "channel", "17961", "17960") == "17960"
    assert thread_root(f"{channel};messageid=17962", "channel", "17962", None) == "17962"
    # Without the suffix: the card a button was pressed on, else the post itself.
    assert thread_root(channel, "channel", "in-3", "card-1") == "card-1"
    assert thread_root(channel, "channel", "in-3", None) == "in-3"
    assert thread_root("19:groepschat@thread.v2", "groupChat", "in-4", None) is None
    assert thread_root("a:persoonlijk", "personal", "in-5", None) is None
    assert in_thread(f"{channel};messageid=1", "2") == f"{channel};messageid=2"


def test_a_reply_answers_its_command_and_what_starts_something_new_does_not() -> None:
    from bot.teams.bot import answers_where
    from storage.models import OutboxMessage

    channel = "19:overleg-noord@thread.tacv2"

    def row(**fields: object) -> OutboxMessage:
        return OutboxMessage(room_id=channel, txn_id="t", body="b", **fields)

    command = f"teams:{channel}:17961"
    assert answers_where(row(in_reply_to=command, thread_root="17960"), False) == (
        "17961", "17960")
    # A chat has no threads: a reply to the activity.
    assert answers_where(row(in_reply_to=command), False) == ("17961", None)
    # A card's button: the answer replies to the card (its own activity ID).
    assert answers_where(row(in_reply_to="card-1", thread_root="card-1"), False) == (
        "card-1", "card-1")
    # Reminders (no command) and the agenda card (people answer it) are new posts.
    assert answers_where(row(), False) == (None, None)
    assert answers_where(row(in_reply_to=command, thread_root="17960", ref="agenda:1:1"),
                         True) == (None, None)
    # An activity that came without an ID: nothing to reply to, still its thread.
    assert answers_where(row(in_reply_to=f"teams:{channel}:~ab12", thread_root="17960"),
                         False) == (None, "17960")


def test_the_bots_name_typed_as_text_addresses_it_too() -> None:
    assert command_text("@casusbot hulp", (), BOT, "!", False) == "!hulp"
    assert command_text("@Casusbot status M1", (), BOT, "!", True) == "!status M1"
    assert command_text("@casusbotje hulp", (), BOT, "!", False) == "@casusbotje hulp"


def test_names_are_kept_for_members_only_and_go_with_the_membership(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from sqlmodel import select

    from storage import teams
    from storage.db import create_schema, make_engine, session_scope
    from storage.models import Member, Overleg

    engine = make_engine(f"sqlite:///{tmp_path / 'names.db'}")
    create_schema(engine)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    channel, member, stranger = "19:overleg@thread.tacv2", "29:generated-1", "29:generated-2"
    with session_scope(engine) as s:
        overleg = Overleg(room_id=channel, name="Overleg", created_at=now)
        s.add(overleg)
        s.flush()
        s.add(Member(overleg_id=overleg.id or 0, user_id=member, created_at=now))
    with session_scope(engine) as s:
        assert teams.remember_names(s, channel, {member: "Agent", stranger: "Iemand"}) == 1
        assert teams.remember_names(s, channel, {member: "Agent"}) == 0  # unchanged
        assert teams.remember_names(s, "19:elders@thread.tacv2", {member: "X"}) == 0
    with session_scope(engine) as s:
        assert teams.names_of(s, [member, stranger]) == {member: "Agent"}
        s.delete(s.exec(select(Member)).one())  # the membership ends: so does the name
    with session_scope(engine) as s:
        assert teams.names_of(s, [member]) == {}
    engine.dispose()


def test_people_are_named_except_where_an_id_is_to_be_copied() -> None:
    from bot.teams.bot import by_name, card_by_name

    a, b = "29:generated-a", "29:generated-b"
    names = {a: "Agent <Politie>"}
    text = f"Voorzitter: {a}. Bevestigd ({b}). Uw ID: <code>{a}</code>"
    assert by_name(text, names) == (f"Voorzitter: Agent &lt;Politie&gt;. Bevestigd ({b}). "
                                    f"Uw ID: <code>{a}</code>")
    card = {"body": [{"type": "TextBlock", "text": f"- {a}: bevestigd"},
                     {"type": "Input.Toggle", "id": f"case:{a}"}]}
    named = card_by_name(card, names)
    assert named["body"][0]["text"] == "- Agent <Politie>: bevestigd"
    assert named["body"][1]["id"] == f"case:{a}"  # input IDs are left as they are


def test_doctor_on_a_teams_deployment_checks_what_teams_has(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No homeserver, no E2EE store on Teams: doctor does not fail on them, and its
    configuration line names the Teams app, not an empty Matrix account."""
    import os

    from click.testing import CliRunner

    from bot.cli import main

    env = tmp_path / "teams.env"
    env.write_text(f"CASUSBOT_TRANSPORT=teams\nCASUSBOT_TEAMS_ANONYMOUS=true\n"
                   f"CASUSBOT_REF_KEY={'k' * 32}\nCASUSBOT_ADMINS=user-id-0\n"
                   f"CASUSBOT_DATABASE_URL=sqlite:///{tmp_path / 'teams.db'}\n"
                   f"CASUSBOT_STORE_PATH={tmp_path / 'store'}\n")
    os.chmod(env, 0o600)
    runner = CliRunner()
    assert runner.invoke(main, ["migrate", "--env-file", str(env)]).exit_code == 0
    result = runner.invoke(main, ["doctor", "--env-file", str(env)])
    names = [line.split(":")[0][5:] for line in result.output.splitlines()]
    assert "homeserver" not in names and "e2ee store" not in names, result.output
    assert "Teams" in result.output.splitlines()[0]
    assert result.exit_code == 0, result.output
