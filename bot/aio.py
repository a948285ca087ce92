"""Small asyncio helpers that stay correct on Python 3.11.

``asyncio.wait_for`` on 3.11 swallows a cancellation that arrives in the same tick as the
awaited thing completes (python/cpython#86296, fixed in 3.12): a loop waiting on an event
with ``wait_for`` then never stops when the event is set and the task cancelled together,
which is exactly what a shutdown during a poke does. These helpers never swallow it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait at most ``timeout`` seconds for ``event``; True if it was set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]],
                          grace: float = 5.0) -> list[asyncio.Task[Any]]:
    """Cancel ``tasks`` and wait until they have ended. A task that goes on anyway is
    cancelled again; after ``grace`` seconds in all it is given up on (logged, returned),
    so a stop never hangs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    pending = {t for t in tasks if not t.done()}
    done_all: set[asyncio.Task[Any]] = {t for t in tasks if t.done()}
    while pending:
        for task in pending:
            task.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        done, pending = await asyncio.wait(pending, timeout=min(0.5, remaining))
        done_all |= done
    for task in done_all:  # retrieve what they raised: it was expected, not lost
        if not task.cancelled():
            task.exception()
    for task in pending:
        log.warning("a task did not stop", extra={"task": task.get_name()})
    return list(pending)
