"""Need-to-know: who may see which case.

The chair, coordinators and members of core partners see every case of their overleg;
members of an external partner see only the cases their partner is linked to.
"""

from __future__ import annotations

from commands import caseid
from commands.registry import Ctx, ParseError
from storage import actions, cases, overlegs
from storage.models import Case


def sees_all_cases(ctx: Ctx) -> bool:
    m = ctx.member
    if m is None:
        return False
    if m.role in ("chair", "coordinator"):
        return True
    partner = overlegs.partner_by_id(ctx.session, m.partner_id)
    return partner is not None and partner.kind == "core"


def may_see(ctx: Ctx, case: Case) -> bool:
    if sees_all_cases(ctx):
        return True
    m = ctx.member
    if m is None or m.partner_id is None or case.id is None:
        return False
    return m.partner_id in actions.linked_partner_ids(ctx.session, case.id)


def visible_case_ids(ctx: Ctx) -> set[int] | None:
    """None means "every case"; otherwise the IDs this sender may see."""
    if sees_all_cases(ctx):
        return None
    m = ctx.member
    if m is None or m.partner_id is None:
        return set()
    return actions.cases_linked_to(ctx.session, m.partner_id)


def find_case(ctx: Ctx, code: str) -> tuple[Case, int]:
    """The overleg's case ``code`` and its ID, if the sender may see it (need-to-know: a
    hidden case is not revealed to exist). Raises ``ParseError`` (``case/unknown``)
    otherwise, which the registry turns into the reply: the one way a command finds a typed
    case."""
    case = cases.by_code(ctx.session, ctx.overleg_id, code)
    if case is None or case.id is None or not may_see(ctx, case):
        raise ParseError("case/unknown", case=caseid.display(code))
    return case, case.id
