"""A room's events in its own order across a sync gap (bot/matrix/timeline.py), on real nio
events parsed from the wire JSON a homeserver sends."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from nio import Event, RoomMessageText

from bot.matrix.timeline import in_timeline_order


def _wire(i: int) -> dict[str, Any]:
    return {"type": "m.room.message", "event_id": f"$ev{i}:localhost",
            "sender": "@chair:localhost", "origin_server_ts": 1_764_000_000_000 + i * 1000,
            "content": {"msgtype": "m.text", "body": f"line {i}"},
            "unsigned": {"age": 10}}


def _events(n: int) -> list[Any]:
    events = [Event.parse_event(_wire(i)) for i in range(n)]
    assert all(isinstance(e, RoomMessageText) for e in events)
    return events


def _pages_back(gap: list[Any], size: int, overlap: int) -> list[list[Any]]:
    """``/messages`` with dir=b: newest first, ``size`` per page; each page may repeat the
    last ``overlap`` events of the page before (servers differ at page boundaries)."""
    pages: list[list[Any]] = []
    newest_first = list(reversed(gap))
    i = 0
    while i < len(newest_first):
        start = max(0, i - overlap) if pages else i
        pages.append(newest_first[start:i + size])
        i += size
    return pages


def test_the_outage_case_plan_then_chat_then_move_and_cancel() -> None:
    # The case: plan, 120 lines of chat, move, cancel; the sync returns the last 100.
    stream = _events(123)
    timeline = stream[-100:]
    gap = stream[:-100]
    ordered = in_timeline_order(_pages_back(gap, 100, 0), timeline)
    assert [e.event_id for e in ordered] == [e.event_id for e in stream]
    assert ordered[0].body == "line 0"  # the plan comes first, the cancel last


@settings(max_examples=300, deadline=None)
@given(total=st.integers(0, 400), since=st.integers(0, 400), limit=st.integers(1, 120),
       page=st.integers(1, 120), overlap=st.integers(0, 5), timeline_overlap=st.integers(0, 3))
def test_any_gap_is_handled_oldest_first_each_event_once(
        total: int, since: int, limit: int, page: int, overlap: int,
        timeline_overlap: int) -> None:
    stream = _events(total)
    since = min(since, total)
    new = stream[since:]  # what happened after the previous sync
    timeline = new[-limit:] if limit < len(new) else new
    gap = new[:len(new) - len(timeline)]
    # A page may also repeat the oldest events of the timeline itself.
    gap_as_fetched = gap + timeline[:timeline_overlap] if gap else []
    ordered = in_timeline_order(_pages_back(gap_as_fetched, page, overlap), timeline)
    assert [e.event_id for e in ordered] == [e.event_id for e in new]


def test_without_a_gap_the_timeline_is_kept_as_it_is() -> None:
    stream = _events(5)
    assert in_timeline_order([], stream) == stream
