"""A per-sender flood guard for commands: a flood from one person never starves the others,
and never silently loses a command of the overleg's own people.

Two kinds of senders (``check(..., trusted=...)``):
- **trusted**: a member of the room's overleg or an administrator, with a command the bot
  knows. At most ``trusted_per_minute`` in any minute are carried out; each one beyond is
  refused with a reply that names it (``refuse``): recorded as handled, nothing done, and
  the sender knows which to send again. None is ever dropped quietly.
- **anyone else**, and unknown commands: at most ``per_minute``; the first one beyond gets
  one notice (``notify``), the rest of the burst is dropped quietly (``drop``).

Owned by the caller (like the database session) and fed the caller's ``now``; nothing here
reads a clock.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=1)
KEEP = timedelta(hours=2)  # times kept per sender: a gap replayed later still counts right
TRUSTED_FACTOR = 4
"""A member may give ``TRUSTED_FACTOR`` times the general limit (default 4 x 30 = 120 a
minute, two a second for a whole minute): far above a chair typing or pasting a list of
commands, low enough to stop a runaway script."""


class RateLimiter:
    """``check(sender, now, trusted)`` -> ``ok`` | ``refuse`` | ``notify`` | ``drop``.

    ``now`` is when the sender spoke, which is not always later than the last call: after an
    outage one room's gap is handled after another's, with older times. Each sender's times
    are kept sorted, and a command counts against the minute before it, whatever the order
    of handling. Trusted and other commands are counted apart (a member's typo does not eat
    into the member's limit, nor the reverse)."""

    def __init__(self, per_minute: int = 30, trusted_per_minute: int | None = None) -> None:
        self.per_minute = per_minute
        self.trusted_per_minute = trusted_per_minute or per_minute * TRUSTED_FACTOR
        self._seen: dict[tuple[str, bool], list[datetime]] = {}
        self._told: dict[str, datetime] = {}

    def check(self, sender: str, now: datetime, trusted: bool = False) -> str:
        """``ok`` to handle; for a trusted sender over the limit ``refuse`` (reply naming
        the command); for anyone else ``notify`` once per burst, then ``drop``."""
        times = self._seen.setdefault((sender, trusted), [])
        if times and times[-1] - times[0] > KEEP:
            del times[:bisect_left(times, times[-1] - KEEP)]  # bounded memory
        within = bisect_right(times, now) - bisect_right(times, now - WINDOW)
        limit = self.trusted_per_minute if trusted else self.per_minute
        if within < limit:
            insort(times, now)
            return "ok"
        if trusted:
            return "refuse"
        told = self._told.get(sender)
        if told is not None and abs(now - told) < WINDOW:
            return "drop"
        self._told[sender] = now
        return "notify"

    def retry_at(self, sender: str, now: datetime, trusted: bool = True) -> datetime:
        """When a command refused at ``now`` could be sent again: when the oldest command
        in the minute before ``now`` leaves it."""
        times = self._seen.get((sender, trusted), [])
        start = bisect_right(times, now - WINDOW)
        return times[start] + WINDOW if start < len(times) else now
