"""A per-sender rate limit for commands: a flood from one person never starves the others.

Owned by the caller (like the database session) and fed the caller's ``now``; nothing here
reads a clock.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=1)


class RateLimiter:
    """At most ``per_minute`` commands per sender in any minute; one notice per burst."""

    def __init__(self, per_minute: int = 30) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[datetime]] = {}
        self._told: dict[str, datetime] = {}

    def check(self, sender: str, now: datetime) -> str:
        """``ok`` to handle, ``notify`` to refuse politely once, ``drop`` to refuse quietly."""
        times = self._seen.setdefault(sender, deque())
        while times and now - times[0] >= WINDOW:
            times.popleft()
        if len(times) < self.per_minute:
            times.append(now)
            return "ok"
        told = self._told.get(sender)
        if told is not None and now - told < WINDOW:
            return "drop"
        self._told[sender] = now
        return "notify"
