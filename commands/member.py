"""Members: people linked to a partner with a role (chair, coordinator, partner)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from commands import parse
from commands.auditing import audit_change
from commands.partner import unknown_partner
from commands.registry import Ctx, Outgoing, ParseError, arg, command
from storage import overlegs, teams


@command("member add", nl="lid toevoegen", aliases=("lid add",))
@arg("user", parse.user_id)
@arg("partner", parse.partner_name_before_role)
@arg("role", parse.role, required=False)
def add(ctx: Ctx, *, user: str, partner: str, role: str | None) -> list[Outgoing]:
    """Link a person to a partner with a role (default: partner)."""
    found = overlegs.partner_by_name(ctx.session, ctx.overleg_id, partner)
    if found is None:
        head = partner.rpartition(" ")[0]
        if head and overlegs.partner_by_name(ctx.session, ctx.overleg_id, head) is not None:
            # "Politie baas": a known partner and a wrong role, not an unknown partner.
            raise ParseError("error/bad_choice", metavar="role",
                             choices=[c.shown() for c in parse.ROLES])
        raise unknown_partner(ctx, partner)
    role = role or "partner"
    existing = overlegs.member(ctx.session, ctx.overleg_id, user)
    if existing is not None and existing.role == "chair" and role != "chair" \
            and overlegs.count_role(ctx.session, ctx.overleg_id, "chair") == 1:
        return [ctx.reply("member/last_chair", user=user)]
    was_partner_id = existing.partner_id if existing is not None else None
    was_role = existing.role if existing is not None else None  # (put_member changes it)
    overlegs.put_member(ctx.session, overleg_id=ctx.overleg_id, user_id=user,
                        partner_id=found.id, role=role, now=ctx.now)
    audit_change(ctx, action="member.add" if existing is None else "member.change",
                 subject=f"{user} {found.name} {role}")
    was = overlegs.partner_by_id(ctx.session, was_partner_id)
    return [ctx.reply("member/added" if existing is None else "member/updated",
                      user=user, partner=found.name, role=role,
                      was_partner=was.name if was is not None and was.id != found.id else None,
                      was_role=was_role)]


@command("member list", nl="lid lijst", aliases=("lid list",))
def listing(ctx: Ctx) -> list[Outgoing]:
    """List the members with their partner and role."""
    names = {p.id: p.name for p in overlegs.partners(ctx.session, ctx.overleg_id)}
    rows = [{"user": m.user_id, "role": m.role, "partner": names.get(m.partner_id),
             "left_room_at": m.left_room_at}
            for m in overlegs.members(ctx.session, ctx.overleg_id, with_left=True)]
    return [ctx.reply("member/list", pages_over="members", members=rows)]


@command("member remove", nl="lid verwijderen", aliases=("lid remove", "lid verwijder"))
@arg("user", parse.user_id)
def remove(ctx: Ctx, *, user: str) -> list[Outgoing]:
    """Remove a person from this overleg."""
    existing = overlegs.member(ctx.session, ctx.overleg_id, user)
    if existing is None:
        return [ctx.refuse("member/unknown", user=user)]
    if existing.role == "chair" and overlegs.count_role(ctx.session, ctx.overleg_id,
                                                        "chair") == 1:
        return [ctx.reply("member/last_chair", user=user)]
    overlegs.remove_member(ctx.session, existing)
    audit_change(ctx, action="member.remove", subject=user)
    return [ctx.reply("member/removed", user=user)]


def unreachable_notices(session: Session, user_id: str, now: datetime) -> list[Outgoing]:
    """Teams lets a bot message a person only after they wrote to it once: say so, once, in
    each overleg the person is a member of (the chair is mentioned)."""
    if not teams.note_unreachable(session, user_id, now):
        return []
    out = []
    for overleg_id in teams.overleg_ids_of(session, user_id):
        overleg = overlegs.by_id(session, overleg_id)
        if overleg is None:
            continue
        chairs = tuple(m.user_id for m in overlegs.members(session, overleg_id)
                       if m.role == "chair")
        out.append(Outgoing("teams/unreachable", {"user": user_id, "chairs": list(chairs)},
                            room=overleg.room_id,
                            locale=overleg.locale, timezone=overleg.timezone,
                            mentions=(user_id, *chairs)))
    return out
