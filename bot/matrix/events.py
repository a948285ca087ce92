"""What the bot reads out of nio's events: a message's command line (mention pills become the
Matrix IDs they link), the poll and answer of a poll response, and an event's timestamp."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

_PILL = re.compile(r"^(?:https://matrix\.to/#/|matrix:u/)([^?/#]+)", re.I)


def pill_target(href: str) -> str | None:
    """The user ID a mention pill links to, in every form the spec allows and clients send:
    ``https://matrix.to/#/@user:server`` (also percent-encoded: ``%40user%3Aserver``), with
    ``?via=`` or an event after it, and ``matrix:u/user:server`` (Matrix URI scheme)."""
    m = _PILL.match(href.strip())
    if m is None:
        return None
    target = unquote(m[1])
    if href.strip().lower().startswith("matrix:u/"):
        target = "@" + target
    return target if target.startswith("@") and ":" in target else None


class _Mentions(HTMLParser):
    """The text of an HTML body: user pills become the user ID they link (whatever display
    name they show), ``<br>`` a line break, and a reply's quoted ``<mx-reply>`` is left
    out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pill: str | None = None
        self._quoted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "mx-reply":
            self._quoted += 1
        elif self._quoted:
            return
        elif tag == "a" and (target := pill_target(dict(attrs).get("href") or "")):
            self._pill = target
            self.parts.append(target)
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "mx-reply":
            self._quoted = max(0, self._quoted - 1)
        elif self._quoted:
            return
        elif tag == "a":
            self._pill = None
        elif tag in ("p", "div", "li", "blockquote", "pre", "h1", "h2", "h3", "tr"):
            self.parts.append("\n")  # a block ends a line, as it does on screen

    def handle_data(self, data: str) -> None:
        if self._pill is None and not self._quoted:
            self.parts.append(data)


def strip_reply_fallback(body: str) -> str:
    """A reply's plain body without the quoted fallback clients put first: the leading
    lines that start with ``>``, and the empty line after them (Client-Server API, "Rich
    replies", fallbacks)."""
    lines = body.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i and i < len(lines) and not lines[i].strip():
        i += 1
    return "\n".join(lines[i:]) if i else body


@dataclass(frozen=True)
class Said:
    """What a text event says as a command: the line, the event an edit corrects, the
    thread it was sent in."""

    text: str
    replaces: str | None = None
    thread_root: str | None = None


def said(content: dict[str, Any]) -> Said:
    """A message's command line as the person typed it: an edit's new content (``m.new_content``
    of an ``m.replace``), without a reply's quoted fallback (body and HTML), with mention
    pills as the user IDs they link."""
    relates = content.get("m.relates_to")
    relates = relates if isinstance(relates, dict) else {}
    replaces = None
    if relates.get("rel_type") == "m.replace" and isinstance(content.get("m.new_content"),
                                                              dict):
        replaces = relates.get("event_id") if isinstance(relates.get("event_id"), str) \
            else None
        content = content["m.new_content"]
        relates = {}
    thread_root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    body = content.get("body") if isinstance(content.get("body"), str) else ""
    html = content.get("formatted_body") \
        if content.get("format") == "org.matrix.custom.html" else None
    if isinstance(html, str) and any(mark in html.lower()
                                     for mark in ("mx-reply", "matrix.to/#/", "matrix:u/")):
        parser = _Mentions()
        parser.feed(html)
        text = "".join(parser.parts)
    elif "m.in_reply_to" in relates:
        text = strip_reply_fallback(str(body))
    else:
        text = str(body)
    return Said(text=text.strip("\n"), replaces=replaces,
                thread_root=thread_root if isinstance(thread_root, str) else None)


PRIVILEGED_CREATORS = frozenset({"12", "org.matrix.hydra.11"})
"""Room versions whose creators have unlimited power and are not listed in the power levels
(room version 12, MSC4289); later numbered versions keep the rule."""


def may_tombstone(state: list[dict[str, Any]], sender: str) -> bool:
    """Whether a room's current state lets ``sender`` send ``m.room.tombstone``: one of the
    room's creators in a room version where creators have unlimited power (the sender of
    ``m.room.create`` and its ``additional_creators``), or a power level at least the
    level for ``m.room.tombstone`` (else ``state_default``, 50); without a power levels
    event, only the creator (Client-Server API, "m.room.power_levels"; room version 12).
    A tombstone from anyone else is not acted on. ``state``: the events of
    ``GET /rooms/{room}/state``."""
    def first(kind: str) -> dict[str, Any] | None:
        return next((e for e in state if isinstance(e, dict) and e.get("type") == kind
                     and e.get("state_key", "") == ""), None)

    create = first("m.room.create") or {}
    create_content: dict[str, Any] = create["content"] \
        if isinstance(create.get("content"), dict) else {}
    version = str(create_content.get("room_version") or "1")
    extra = create_content.get("additional_creators")
    creators = {create.get("sender"), *(extra if isinstance(extra, list) else [])}
    if (version in PRIVILEGED_CREATORS or (version.isdigit() and int(version) >= 12)) \
            and sender in creators:
        return True
    levels = first("m.room.power_levels")
    if levels is None:
        # The creator has 100. (The spec's state_default is then 0, which would let every
        # member tombstone the room: only the creator is trusted.)
        return sender in creators
    content: dict[str, Any] = levels["content"] if isinstance(levels.get("content"), dict) \
        else {}

    def number(value: Any, default: int) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            return default

    users: dict[str, Any] = content["users"] if isinstance(content.get("users"), dict) else {}
    events: dict[str, Any] = content["events"] if isinstance(content.get("events"), dict) \
        else {}
    level = number(users.get(sender, content.get("users_default", 0)), 0)
    needed = number(events.get("m.room.tombstone", content.get("state_default", 50)), 50)
    return level >= needed


POLL_RESPONSE = ("m.poll.response", "org.matrix.msc3381.poll.response")
POLL_END = ("m.poll.end", "org.matrix.msc3381.poll.end")


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


def redact_power(room: Any, user_id: str) -> tuple[int, int]:
    """``(level, needed)``: ``user_id``'s power level in the nio ``room`` and the level needed
    to remove other people's events there: the higher of ``redact`` and the level to send an
    ``m.room.redaction`` event (Client-Server API, ``m.room.power_levels``)."""
    levels = room.power_levels
    need = max(int(levels.defaults.redact),
               int(levels.get_message_event_required_level("m.room.redaction")))
    return int(levels.get_user_level(user_id)), need


def redact_power_in(content: dict[str, Any], user_id: str) -> tuple[int, int]:
    """The same as ``redact_power``, from the content of a room's ``m.room.power_levels``
    state event (what ``casusbot doctor`` reads over HTTP). Defaults from the spec:
    ``redact`` 50, ``users_default`` 0, ``events_default`` 0."""
    users = content.get("users") or {}
    events = content.get("events") or {}
    level = int(users.get(user_id, content.get("users_default", 0)))
    need = max(int(content.get("redact", 50)),
               int(events.get("m.room.redaction", content.get("events_default", 0))))
    return level, need
