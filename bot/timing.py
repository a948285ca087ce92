"""The bot's own work per command: from the event reaching the bot to its reply's send.

Kept as Prometheus histogram buckets (cumulative counts) plus the last samples for exact
quantiles, which ``make bench`` reads from /metrics. Timing only: no IDs, no content.
"""

from __future__ import annotations

import time
from collections import deque

BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class OwnWork:
    def __init__(self, keep: int = 10_000) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.samples: deque[float] = deque(maxlen=keep)
        self._started: dict[str, float] = {}  # room -> when the command reached the bot

    def started(self, room: str, at: float | None = None) -> None:
        """A command in ``room`` reached the bot (its first reply will stop the clock)."""
        self._started.setdefault(room, time.perf_counter() if at is None else at)

    def sending(self, room: str) -> None:
        """The first reply to ``room`` is about to be sent."""
        began = self._started.pop(room, None)
        if began is not None:
            self.observe(time.perf_counter() - began)

    def discard(self, room: str) -> None:
        self._started.pop(room, None)  # the event produced no reply

    def observe(self, seconds: float) -> None:
        self.samples.append(seconds)
        self.total += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def prometheus(self, name: str = "casusbot_own_work_seconds") -> list[str]:
        lines = [f"# HELP {name} From a command reaching the bot to its reply's send.",
                 f"# TYPE {name} histogram"]
        running = 0
        for bound, count in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'{name}_bucket{{le="{le}"}} {running}')
        lines += [f"{name}_sum {self.total:.6f}", f"{name}_count {running}"]
        for q in (0.5, 0.95, 0.99):
            lines.append(f'{name}_recent{{quantile="{q}"}} {self.quantile(q):.6f}')
        return lines
