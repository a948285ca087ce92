"""Messages rendered when sent, not when made.

The sweep may make thousands of reminders at once; rendering each (Jinja, then its plain
text) was most of the sweep's time. Instead it stores a message's template and values as
JSON in the outbox row, and the deliverer renders the row just before sending it, at the
homeserver's pace. Values are plain data: strings, numbers, booleans, None, dates and
datetimes, lists, tuples and dicts; a message with anything else, or with extra content
(a poll, an attachment, a redaction), is rendered at once as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from commands.registry import Outgoing, Render, render_all
from storage.outbox import Rendered

_DATE, _DATETIME, _TUPLE = "__date__", "__datetime__", "__tuple__"
_TAGS = frozenset({_DATE, _DATETIME, _TUPLE})
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one, not one per call


class NotPlainData(TypeError):
    """A value the JSON form cannot carry faithfully."""


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:  # (exact types first: this runs for every value of every message)
        return value
    if kind is dict:
        return _encode_mapping(value)
    if kind is list:
        return [v if type(v) in _SCALARS else _encode(v) for v in value]
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, datetime):  # (before date: a datetime is a date)
        if value.tzinfo is None:
            raise NotPlainData("a naive datetime")
        return {_DATETIME: value.isoformat()}
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return _encode_mapping(value)
    raise NotPlainData(kind.__name__)


def _encode_mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        if type(k) is not str and not isinstance(k, str):
            raise NotPlainData("a mapping with keys that are not strings")
        if k in _TAGS:
            raise NotPlainData("a mapping that looks like a tagged value")
        out[k] = v if type(v) in _SCALARS else _encode(v)
    return out


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            [(key, inner)] = value.items()
            if key == _DATETIME:
                return datetime.fromisoformat(inner)
            if key == _DATE:
                return date.fromisoformat(inner)
            if key == _TUPLE:
                return tuple(_decode(v) for v in inner)
        return {k: _decode(v) for k, v in value.items()}
    return value


def dumps(out: Outgoing) -> str:
    """The JSON form of ``out``'s template and values (NotPlainData if it has none)."""
    if out.extra is not None:
        raise NotPlainData("extra content")
    return _JSON.encode({"template": out.template, "values": _encode_mapping(out.values),
                         "locale": out.locale, "timezone": out.timezone})


def loads(data: str, *, room: str, mentions: tuple[str, ...], ref: str | None) -> Outgoing:
    """The message a row's ``deferred`` JSON stands for (the row holds room, mentions, ref)."""
    d = json.loads(data)
    return Outgoing(d["template"], _decode(d["values"]), room=room, locale=d["locale"],
                    timezone=d["timezone"], mentions=mentions, ref=ref)


def defer_all(render: Render, messages: Iterable[Outgoing], room: str) -> list[Rendered]:
    """Each message as an outbox row to render when sent; those that cannot wait (extra
    content, values that are not plain data) rendered now."""
    out: list[Rendered] = []
    for message in messages:
        try:
            data = dumps(message)
        except NotPlainData:
            out += render_all(render, [message], room)
            continue
        out.append(Rendered(room_id=message.room or room, body="", html=None,
                            mentions=message.mentions, ref=message.ref, deferred=data))
    return out
