"""A room's new events in the room's own order, also across a gap in the sync.

A sync returns at most the filter's limit of events per room (``limited``: there were
more). The missing ones are fetched with ``/messages`` backwards from the timeline's
``prev_batch`` to the previous sync token, newest first, page by page. They are older than
every event of the sync's timeline, so they are handled first, oldest first: otherwise a
``!overleg cancel M1`` after the gap would be handled before the ``!overleg plan`` in it
(Matrix Client-Server API, "Syncing": ``limited``/``prev_batch``; "GET /messages":
``dir=b``, ``to``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def in_timeline_order(gap_pages: Sequence[Sequence[Any]], timeline: Iterable[Any]) -> list[Any]:
    """``gap_pages``: the pages of ``/messages`` with ``dir=b`` in the order fetched (each
    newest first); ``timeline``: the sync's timeline (oldest first). Returns every event
    once, oldest first: the gap, then the timeline. An event seen twice (pages overlapping
    each other or the timeline) keeps its first place in that order."""
    ordered: list[Any] = []
    seen: set[str] = set()
    gap = [event for page in gap_pages for event in page]
    for event in [*reversed(gap), *timeline]:
        event_id = getattr(event, "event_id", None)
        if event_id is not None:
            if event_id in seen:
                continue
            seen.add(event_id)
        ordered.append(event)
    return ordered
