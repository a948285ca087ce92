"""The command language and its rules: sans-I/O, no network, no clock, no globals."""

from __future__ import annotations

from commands import (
    action,
    agenda,
    case,
    covenant,
    help,
    meeting,
    member,
    partner,
    privacy,
    settings,
    setup,
)
from commands.policy import refusal
from commands.registry import Registry, build

MODULES = (setup, partner, member, meeting, case, covenant, agenda, action, privacy, settings,
           help)


def default_registry() -> Registry:
    """The registry of every command casusbot has."""
    return build(MODULES, refusal)
