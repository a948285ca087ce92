"""Every message fits the platform's size limit: long lists are split into parts, in order,
each saying "part i of n"; what cannot be split is replaced by a short notice saying what
could not be sent. Nothing is lost to the limit without a word.

Limits (the whole event, as the homeserver or the service counts it):
- Matrix: 65,536 bytes per event, JSON with envelope and signatures (Client-Server API,
  "Size limits"). In an encrypted room the content travels as base64 of Megolm ciphertext
  (4/3 of the JSON, plus ~600 bytes of keys and IDs), so the budget for the content's JSON
  is 40,000 bytes: 53,400 when encrypted, leaving room for the envelope.
- Teams: about 28 KB per activity (Bot Framework's documented message size); budget 24,000.

A message is measured as the JSON nio or the Agents SDK sends (``ensure_ascii``: a non-ASCII
character counts as its ``\\uXXXX`` escape).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from commands.registry import Outgoing, Render
    from storage.outbox import Rendered

log = logging.getLogger(__name__)
MATRIX_MAX_BYTES = 40_000
TEAMS_MAX_BYTES = 24_000


def size(message: Rendered) -> int:
    """The bytes of what is sent: plain body, HTML body, other content, mentions."""
    return len(json.dumps([message.body, message.html, message.content_json,
                           list(message.mentions)]).encode())


def _surely_fits(message: Rendered, limit: int) -> bool:
    """Whether ``message`` fits without measuring it: a character is at most 12 bytes of
    ``size``'s JSON (a character beyond the BMP is two ``\\uXXXX`` escapes), the list
    around the values less than 64. Most replies are far below the limit."""
    chars = len(message.body) + len(message.html or "") + len(message.content_json or "") \
        + sum(len(m) for m in message.mentions)
    return 12 * chars + 64 <= limit


def fit(render: Render, out: Outgoing, room: str) -> list[Rendered]:
    """``out`` rendered as one message, or as parts that each fit ``render.max_bytes`` (a
    Render without one has Matrix's). ``out.pages_over`` names the list to split: ``"key"``,
    or ``("groups", "items")`` for a list of groups each with a list of items (a group is
    repeated in each part that holds some of its items), or for one record (a mapping)
    holding the list. A message that does not fit and
    cannot be split becomes the notice ``error/too_large`` to the same room."""
    limit = int(getattr(render, "max_bytes", MATRIX_MAX_BYTES))
    whole = render(out, room)
    if whole is None or _surely_fits(whole, limit) or size(whole) <= limit:
        return [whole] if whole is not None else []
    units, rebuild = _units(out)
    # Packed with the widest part numbers there can be ("12/12"): a part numbered "10/10"
    # after packing as "1/12" could be one character over.
    widest = len(units)
    parts = _pack(units, lambda chunk: render(_part(out, rebuild(chunk), widest, widest), room),
                  limit) if len(units) > 1 else None
    if parts is None:
        log.warning("message too large, not sent", extra={"template": out.template,
                                                          "bytes": size(whole)})
        notice = render(_too_large(out), room)
        return [notice] if notice is not None else []
    rendered = []
    for i, chunk in enumerate(parts, 1):
        message = render(_part(out, rebuild(chunk), i, len(parts)), room)
        if message is not None:
            rendered.append(message)
    return rendered


def _units(out: Outgoing) -> tuple[list[Any], Callable[[Sequence[Any]], dict[str, Any]]]:
    """The smallest pieces a message may be split into, and how a run of them becomes the
    message's values again."""
    key = out.pages_over
    if key is None:
        return [], lambda _chunk: dict(out.values)
    if isinstance(key, str):
        items = list(out.values.get(key) or [])
        return items, lambda chunk: {**out.values, key: list(chunk)}
    outer, inner = key
    holder = out.values.get(outer)
    if isinstance(holder, Mapping):  # one record holding the list, e.g. a status board
        items = list(holder.get(inner) or [])
        return items, lambda chunk: {**out.values, outer: {**holder, inner: list(chunk)}}
    groups = list(holder or [])
    units = [(g, item) for g, group in enumerate(groups) for item in group[inner]]

    def regroup(chunk: Sequence[Any]) -> dict[str, Any]:
        rebuilt: list[dict[str, Any]] = []
        last = None
        for g, item in chunk:
            if g != last:
                rebuilt.append({**groups[g], inner: []})
                last = g
            rebuilt[-1][inner].append(item)
        return {**out.values, outer: rebuilt}

    return units, regroup


def _pack(units: list[Any], render_chunk: Callable[[Sequence[Any]], Rendered | None],
          limit: int) -> list[list[Any]] | None:
    """Consecutive runs of ``units``, each as long as still fits (binary search on the
    run's end); None if a single unit does not fit on its own."""
    runs: list[list[Any]] = []
    start = 0
    while start < len(units):
        low, high = start + 1, len(units)  # the longest run start:end that fits
        if not _fits(render_chunk(units[start:low]), limit):
            return None
        while low < high:
            mid = (low + high + 1) // 2
            if _fits(render_chunk(units[start:mid]), limit):
                low = mid
            else:
                high = mid - 1
        runs.append(units[start:low])
        start = low
    return runs


def _fits(message: Rendered | None, limit: int) -> bool:
    return message is None or size(message) <= limit


def _part(out: Outgoing, values: dict[str, Any], part: int, parts: int) -> Outgoing:
    return replace(out, values={**values, "part": part, "parts": parts})


def _too_large(out: Outgoing) -> Outgoing:
    from commands.registry import Outgoing

    return Outgoing("error/too_large", {"what": out.template}, room=out.room, locale=out.locale,
                    timezone=out.timezone, mentions=out.mentions)
