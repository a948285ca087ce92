"""Teams rendering: the same templates, as Teams HTML or as Adaptive Cards.

The agenda becomes a card with "we attend" / "we do not attend" buttons and one "we hold
information" toggle per case; the presence question at a meeting's start a card with one
"present" button; the status board, agenda view, action list and digest become
cards of text. Everything else is a message in Teams' HTML subset. Matrix-only forms have no
Teams form: the poll (the card's buttons replace it), the .ics file and the redaction.
No SDK here: a card is a plain dict.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

from bot.render import Renderer, html_to_text
from commands.answers import CARD_CASE
from commands.fitting import TEAMS_MAX_BYTES
from commands.inbound import TEAMS_MESSAGE
from commands.presence import CARD_VERB
from commands.registry import Outgoing
from storage.outbox import Rendered

EVENT_TYPE = TEAMS_MESSAGE
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
TEXT_CARDS = frozenset({"agenda/status", "agenda/summary", "agenda/show", "action/list",
                        "action/digest"})
NO_TEAMS_FORM = frozenset({"poll", "ics", "redact"})
BOT_NAME = "casusbot"  # the app's short name (bot/teams/manifest/manifest.json)
MENTION_PREFIX = f"@{BOT_NAME} "
"""What goes before a command in Teams' words: in a channel the bot reads only what
@mentions it, so examples and help say ``@casusbot status M1``, never ``!status M1``."""
_PILL = re.compile(r'<a href="https://matrix\.to/#/([^"]+)">[^<]*</a>')


def teams_html(html: str) -> str:
    """Matrix pills become Teams mentions ``<at>ID</at>`` (the sender adds the entities)."""
    return _PILL.sub(lambda m: f"<at>{m.group(1)}</at>", html)


class _Markdown(HTMLParser):
    """HTML to the markdown subset an Adaptive Card TextBlock shows: bold, lists, lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.line: list[str] = []
        self.lists: list[list[int]] = []  # a counter per open <ol>, [] per <ul>

    def _end_line(self) -> None:
        text = re.sub(r"[ \t]+", " ", "".join(self.line)).strip()
        if text:
            self.blocks.append(text)
        self.line = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("b", "strong"):
            self.line.append("**")
        elif tag in ("ul", "ol"):
            self._end_line()
            self.lists.append([0] if tag == "ol" else [])
        elif tag == "li":
            self._end_line()
            counter = self.lists[-1] if self.lists else []
            if counter:
                counter[0] += 1
                self.line.append(f"{counter[0]}. ")
            else:
                self.line.append("- ")
        elif tag in ("br", "p", "div"):
            self._end_line()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("b", "strong"):
            self.line.append("**")
        elif tag in ("ul", "ol"):
            self._end_line()
            if self.lists:
                self.lists.pop()
        elif tag in ("li", "p", "div"):
            self._end_line()

    def handle_data(self, data: str) -> None:
        self.line.append(data.replace("\n", " "))

    def result(self) -> list[str]:
        self._end_line()
        return [b.replace("****", "") for b in self.blocks]


def card_blocks(html: str) -> list[dict[str, Any]]:
    parser = _Markdown()
    parser.feed(_PILL.sub(lambda m: m.group(1), html))
    parser.close()
    blocks: list[dict[str, Any]] = []
    for text in parser.result():
        item = text.startswith("- ") or bool(re.match(r"^\d+\. ", text))
        blocks.append({"type": "TextBlock", "text": text, "wrap": True,
                       "spacing": "None" if item else "Default"})
    return blocks


def card(body: list[dict[str, Any]], fallback: str,
         actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "AdaptiveCard", "version": "1.4",
                           "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                           "body": body, "fallbackText": fallback}
    if actions:
        out["actions"] = actions
    return out


class TeamsRenderer:
    """Wraps the Matrix ``Renderer``: same templates and words, Teams shapes; ``max_bytes``
    the size one activity may have (commands/fitting.py)."""

    max_bytes = TEAMS_MAX_BYTES

    def __init__(self, base: Renderer) -> None:
        self.base = base

    def __call__(self, out: Outgoing, room: str) -> Rendered | None:
        if (out.extra or {}).get("kind") in NO_TEAMS_FORM:
            return None
        target = out.room or room
        kind = "chat" if target.startswith(("a:", "29:")) or target.endswith("@thread.v2") \
            else "channel"  # personal chats, people, group chats; else a team's channel
        if kind == "chat":
            out = replace(out, values={**out.values, "room_kind": kind})
        plain = self.base(out, room)
        html = plain.html or ""
        payload: dict[str, Any]
        if out.template == "agenda/agenda":
            payload = {"card": self._agenda(out, html, plain.body)}
        elif out.template == "presence/question":
            payload = {"card": self._presence(out, html, plain.body)}
        elif out.template in TEXT_CARDS:
            payload = {"card": card(card_blocks(html), plain.body)}
        else:
            payload = {"text": teams_html(html)}
        return replace(plain, event_type=EVENT_TYPE, content_json=json.dumps(payload))

    def _label(self, out: Outgoing, block: str, **values: Any) -> str:
        key = block if "/" in block else f"agenda/{block}"
        return html_to_text(self.base.html(key, {**out.values, **values}, out.locale,
                                           out.timezone))

    def _presence(self, out: Outgoing, html: str, fallback: str) -> dict[str, Any]:
        """The presence question with one button: present (and confidentiality confirmed)."""
        return card(card_blocks(html), fallback, [
            {"type": "Action.Submit", "title": self._label(out, "presence/card_confirm"),
             "data": {"verb": CARD_VERB}}])

    def _agenda(self, out: Outgoing, html: str, fallback: str) -> dict[str, Any]:
        body = card_blocks(html)
        for line in out.values.get("lines", []):
            body.append({"type": "Input.Toggle", "id": f"{CARD_CASE}{line['case']}",
                         "title": self._label(out, "card_toggle", case=line["case"]),
                         "value": "false", "valueOn": "true", "valueOff": "false"})
        actions = [
            {"type": "Action.Submit", "title": self._label(out, "card_accept"),
             "data": {"verb": "accept"}},
            {"type": "Action.Submit", "title": self._label(out, "card_decline"),
             "data": {"verb": "decline"}},
        ]
        if out.values.get("lines"):
            actions.append({"type": "Action.Submit", "title": self._label(out, "card_info"),
                            "data": {"verb": "info"}})
        return card(body, fallback, actions)
