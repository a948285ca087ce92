"""A throwaway App on a database URL, as the bot builds it (bootstrap), for tests."""

from __future__ import annotations

from bot.app import App, bootstrap
from bot.clock import FakeClock
from bot.config import load

CHAIR = "@chair:localhost"


def throwaway_app(database_url: str, clock: FakeClock, **extra: str) -> App:
    """An App whose homeserver is never contacted (127.0.0.1:1), the chair an admin."""
    return bootstrap(load({
        "CASUSBOT_HOMESERVER": "http://127.0.0.1:1", "CASUSBOT_USER_ID": "@bot:localhost",
        "CASUSBOT_PASSWORD": "x", "CASUSBOT_ADMINS": CHAIR,
        "CASUSBOT_REF_KEY": "0123456789abcdef01", "CASUSBOT_DATABASE_URL": database_url,
        **extra}), clock)
