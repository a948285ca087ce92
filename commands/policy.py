"""Who may run which command: the one policy table (command x role), in one place.

Roles: ``admin`` (a bot administrator from the configuration), ``chair``, ``coordinator``,
``core`` (a member of a core partner: gemeente, politie, OM), ``external`` (a member of an
external partner) and ``stranger`` (anyone else). Need-to-know inside a command (an external
member sees only the cases its partner is linked to) is applied by ``commands.access``.
"""

from __future__ import annotations

from typing import Final

from commands.registry import Ctx
from storage import overlegs

ROLES: Final = ("admin", "chair", "coordinator", "core", "external", "stranger")
EVERYONE: Final = frozenset(ROLES)
CHAIR: Final = frozenset({"chair"})
MEMBERS: Final = frozenset({"chair", "coordinator", "core", "external"})
PARTNERS: Final = frozenset({"chair", "coordinator", "core", "external"})

POLICY: Final[dict[str, frozenset[str]]] = {
    "setup": frozenset({"admin"}),
    "help": EVERYONE,
    "partner add": CHAIR,
    "partner list": MEMBERS,
    "partner remove": CHAIR,
    "member add": CHAIR,
    "member list": MEMBERS,
    "member remove": CHAIR,
    "meeting plan": CHAIR,
    "meeting list": MEMBERS,
    "meeting move": CHAIR,
    "meeting cancel": CHAIR,
    "meeting series": CHAIR,
    "meeting series stop": CHAIR,
    "meeting series change": CHAIR,
    "meeting series show": MEMBERS,
    "case open": CHAIR,
    "case list": CHAIR,
    "case close": CHAIR,
    "case find": CHAIR,
    "case partner": CHAIR,
    "case show": MEMBERS,  # need-to-know applies
    "agenda add": CHAIR,
    "agenda remove": CHAIR,
    "agenda show": MEMBERS,  # need-to-know applies
    "agenda send": CHAIR,
    "confirm": PARTNERS,  # answering needs a partner; the command says so otherwise
    "info": PARTNERS,
    "status": CHAIR,
    "meeting start": CHAIR,
    "present": MEMBERS,  # each member confirms their own presence
    "attendance": CHAIR,
    "action add": CHAIR,
    "action done": MEMBERS,  # the chair, or a member of the owning partner
    "action move": CHAIR,
    "action assign": CHAIR,
    "action edit": CHAIR,  # a correction (AVG art. 16): the chair, as move and assign
    "action list": MEMBERS,  # need-to-know applies
    "privacy forbid": CHAIR,
    "privacy allow": CHAIR,
    "privacy list": CHAIR,
    "settings": CHAIR,
    "annex add": frozenset({"admin"}),
    "annex remove": frozenset({"admin"}),
    "annex list": EVERYONE,
    "verify": frozenset({"admin"}),  # the bot's own verification (issue 22)
    "case phase": CHAIR,
    "weging": CHAIR,
}

# Commands that work outside an overleg's room.
ROOMLESS: Final = frozenset({"setup", "help", "annex add", "annex remove", "annex list",
                              "verify"})


def role_of(ctx: Ctx) -> str:
    """The sender's role in this room's overleg (``admin`` only where no overleg applies)."""
    m = ctx.member
    if m is None:
        return "stranger"
    if m.role in ("chair", "coordinator"):
        return m.role
    partner = overlegs.partner_by_id(ctx.session, m.partner_id)
    return "core" if partner is not None and partner.kind == "core" else "external"


def refusal(key: str, ctx: Ctx) -> str | None:
    """None if the sender may run ``key`` here, else the template of the refusal."""
    allowed = POLICY.get(key)
    if allowed is None:
        return "error/internal"  # a command missing from the table is refused, not allowed
    if key in ROOMLESS:
        if "admin" in allowed and allowed != EVERYONE:
            return None if ctx.sender in ctx.settings.admins else "error/admin_only"
        return None
    if ctx.overleg is None:
        return "error/not_an_overleg"
    role = role_of(ctx)
    if role in allowed:
        return None
    if role == "stranger":
        return "error/not_a_member"
    return "error/chair_only" if allowed == CHAIR else "error/not_allowed"
