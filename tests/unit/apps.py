"""A throwaway App on a database URL, as the bot builds it (bootstrap), for tests."""

from __future__ import annotations

from bot.app import App, offline_app
from bot.clock import FakeClock

CHAIR = "@chair:localhost"


def throwaway_app(database_url: str, clock: FakeClock, **extra: str) -> App:
    """An App whose homeserver is never contacted, the chair an admin."""
    return offline_app(database_url, clock, CASUSBOT_USER_ID="@bot:localhost",
                       CASUSBOT_ADMINS=CHAIR, **extra)
