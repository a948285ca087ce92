"""What a Bot Connector accepts from a bot: the fake connector refuses what the real one does.

Mirrors the request validation of the Microsoft 365 Agents Playground's connector (its zod
schemas ``createMessageActivitySchema`` and ``updateMessageActivitySchema`` and the mention
checks), which answers 400 ``BadArgument`` as the Bot Connector service does, and is stricter
where the service's contract is: no ``null`` anywhere (a field is a value or absent) and no
top-level field that is not part of the Bot Framework Activity schema (a misspelt field).
"""

from __future__ import annotations

from typing import Any

# The Bot Framework Activity schema's top-level fields (JSON names).
ACTIVITY_FIELDS = frozenset({
    "type", "id", "timestamp", "localTimestamp", "localTimezone", "callerId", "serviceUrl",
    "channelId", "from", "conversation", "recipient", "textFormat", "attachmentLayout",
    "membersAdded", "membersRemoved", "reactionsAdded", "reactionsRemoved", "topicName",
    "historyDisclosed", "locale", "text", "speak", "inputHint", "summary", "suggestedActions",
    "attachments", "entities", "channelData", "action", "replyToId", "label", "valueType",
    "value", "name", "relatesTo", "code", "expiration", "importance", "deliveryMode",
    "listenFor", "textHighlights", "semanticAction", "feedbackLoopEnabled",
})
STRINGS = ("id", "timestamp", "localTimestamp", "localTimezone", "callerId", "serviceUrl",
           "channelId", "topicName", "locale", "text", "speak", "summary", "replyToId", "label",
           "valueType", "name", "code", "expiration", "importance", "deliveryMode")
ENUMS = {
    "textFormat": {"markdown", "plain", "xml"},
    "attachmentLayout": {"list", "carousel"},
    "inputHint": {"acceptingInput", "ignoringInput", "expectingInput"},
}
CONVERSATION_TYPES = {"personal", "groupChat", "channel"}
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


class BadArgument(ValueError):
    """The connector refuses the activity (HTTP 400, code ``BadArgument``)."""


def nulls(value: Any, path: str = "$") -> list[str]:
    """The JSON paths of every ``null`` in ``value``, at any depth."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return []


def _expect(ok: bool, message: str) -> None:
    if not ok:
        raise BadArgument(message)


def _account(value: Any, field: str) -> None:
    _expect(isinstance(value, dict), f"{field} must be an object")
    _expect(isinstance(value.get("id"), str), f"{field}.id must be a string")
    for key in ("name", "role", "aadObjectId"):
        _expect(key not in value or isinstance(value[key], str), f"{field}.{key}: a string")


def validate(body: Any, *, update: bool = False) -> None:
    """Raise ``BadArgument`` for a body the connector refuses: a POST to
    ``/v3/conversations/{id}/activities[/{id}]`` or, with ``update``, a PUT."""
    _expect(isinstance(body, dict), "the body must be a JSON object")
    found = nulls(body)
    _expect(not found, f"null is not a value: {', '.join(found)}")
    unknown = sorted(set(body) - ACTIVITY_FIELDS)
    _expect(not unknown, f"unknown Activity fields: {', '.join(unknown)}")
    kinds = {"message"} if update else {"message", "typing", "trace"}
    _expect(body.get("type") in kinds, f"type must be one of {sorted(kinds)}")
    for key in STRINGS:
        _expect(key not in body or isinstance(body[key], str), f"{key} must be a string")
    for key, allowed in ENUMS.items():
        _expect(key not in body or body[key] in allowed, f"{key} must be one of {allowed}")
    for key in ("from", "recipient"):
        if key in body:
            _account(body[key], key)
    if "conversation" in body:
        conv = body["conversation"]
        _expect(isinstance(conv, dict) and isinstance(conv.get("id"), str),
                "conversation.id must be a string")
        _expect(conv.get("conversationType", "channel") in CONVERSATION_TYPES,
                f"conversation.conversationType must be one of {CONVERSATION_TYPES}")
        _expect(isinstance(conv.get("tenantId", ""), str), "conversation.tenantId: a string")
    attachments = body.get("attachments", [])
    _expect(isinstance(attachments, list), "attachments must be a list")
    for att in attachments:
        _expect(isinstance(att, dict) and isinstance(att.get("contentType"), str),
                "an attachment needs a contentType")
        if att["contentType"] == ADAPTIVE:
            card = att.get("content")
            _expect(isinstance(card, dict) and card.get("type") == "AdaptiveCard",
                    "an Adaptive Card attachment's content must be an AdaptiveCard object")
    entities = body.get("entities", [])
    _expect(isinstance(entities, list), "entities must be a list")
    for entity in entities:
        _expect(isinstance(entity, dict) and isinstance(entity.get("type"), str),
                "an entity needs a type")
        if entity["type"] != "mention":
            continue
        mentioned, text = entity.get("mentioned"), entity.get("text")
        _expect(isinstance(mentioned, dict) and isinstance(mentioned.get("id"), str),
                "a mention needs mentioned.id")
        _expect(isinstance(text, str) and text.startswith("<at>") and text.endswith("</at>"),
                "a mention's text must be <at>…</at>")
        _expect(not body.get("text") or text in body["text"],
                "a mention's text must appear in the message text")
    if body["type"] == "message":
        _expect("text" in body or bool(attachments), "a message needs text or attachments")
