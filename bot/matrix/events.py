"""What the bot reads out of nio's events: a message's command line (mention pills become the
Matrix IDs they link), the poll and answer of a poll response, and an event's timestamp."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from nio import RoomMessageText


class _Mentions(HTMLParser):
    """The text of an HTML body with matrix.to user pills replaced by the user ID they link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pill: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") or ""
        m = re.match(r"https://matrix\.to/#/(@[^/?]+)", href)
        if tag == "a" and m:
            self._pill = m[1]
            self.parts.append(m[1])
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._pill = None

    def handle_data(self, data: str) -> None:
        if self._pill is None:
            self.parts.append(data)


def command_text(event: RoomMessageText) -> str:
    """The command line of a message: pills (mentions) become the Matrix IDs they point to."""
    html = event.formatted_body if event.format == "org.matrix.custom.html" else None
    if html and "matrix.to/#/@" in html:
        parser = _Mentions()
        parser.feed(html)
        return "".join(parser.parts)
    return str(event.body)


POLL_RESPONSE = ("m.poll.response", "org.matrix.msc3381.poll.response")


def poll_answer(content: dict[str, Any]) -> tuple[str | None, str]:
    """(poll start event ID, the chosen answer ID) of a stable or unstable poll response."""
    relates = content.get("m.relates_to") or {}
    target = relates.get("event_id") if isinstance(relates, dict) else None
    chosen: Any = content.get("m.selections")
    for key in ("m.poll.response", "org.matrix.msc3381.poll.response"):
        block = content.get(key)
        if chosen is None and isinstance(block, dict):
            chosen = block.get("answers")
    first = chosen[0] if isinstance(chosen, list) and chosen else ""
    return (target if isinstance(target, str) else None), (first if isinstance(first, str)
                                                            else "")


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
