"""The command language and its rules: sans-I/O, no network, no clock, no globals."""

from __future__ import annotations

from commands import (
    action,
    agenda,
    agendacommands,
    attendance,
    case,
    covenant,
    help,
    meeting,
    member,
    partner,
    presence,
    privacy,
    retention,
    series,
    settings,
    setup,
    verification,
)
from commands.policy import refusal
from commands.registry import Registry, build

MODULES = (setup, partner, member, meeting, series, case, covenant, agenda, agendacommands,
           attendance, presence, action, privacy, settings, retention, verification, help)
"""The modules whose ``@command``, ``@timer`` and ``@upkeep`` declarations make the bot."""


def default_registry() -> Registry:
    """The registry of every command and timer rule casusbot has."""
    return build(MODULES, refusal)
