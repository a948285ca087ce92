"""Partner organisations of an overleg: core (gemeente, politie, OM) or external."""

from __future__ import annotations

from commands import covenant, parse
from commands.auditing import audit_change
from commands.registry import Ctx, Outgoing, ParseError, arg, command
from storage import overlegs


@command("partner add", nl="partner toevoegen")
@arg("name", parse.new_partner_name, metavar="partner")
@arg("kind", parse.partner_kind, required=False, metavar="kind")
def add(ctx: Ctx, *, name: str, kind: str | None) -> list[Outgoing]:
    """Add a partner organisation; external unless ``core`` is given."""
    if overlegs.partner_by_name(ctx.session, ctx.overleg_id, name) is not None:
        return [ctx.refuse("partner/exists", partner=name)]
    if (kind or "external") == "external" and covenant.on_annex(ctx.session, name) is None:
        return [ctx.refuse("covenant/not_on_annex", partner=name)]
    partner = overlegs.add_partner(ctx.session, overleg_id=ctx.overleg_id, name=name,
                                   kind=kind or "external", now=ctx.now)
    audit_change(ctx, action="partner.add", subject=f"{partner.name} ({partner.kind})")
    return [ctx.reply("partner/added", partner=partner.name, kind=partner.kind)]


@command("partner list", nl="partner lijst")
def listing(ctx: Ctx) -> list[Outgoing]:
    """List the partners and how many members each has."""
    rows = [{"name": p.name, "kind": p.kind,
             "members": len(overlegs.members_of_partner(ctx.session, p.id or 0,
                                                        with_left=True))}
            for p in overlegs.partners(ctx.session, ctx.overleg_id)]
    return [ctx.reply("partner/list", pages_over="partners", partners=rows)]


@command("partner remove", nl="partner verwijderen", aliases=("partner verwijder",))
@arg("name", parse.partner_name, metavar="partner")
def remove(ctx: Ctx, *, name: str) -> list[Outgoing]:
    """Remove a partner that has no members left."""
    partner = overlegs.partner_by_name(ctx.session, ctx.overleg_id, name)
    if partner is None:
        raise unknown_partner(ctx, name)
    linked = overlegs.members_of_partner(ctx.session, partner.id or 0, with_left=True)
    if linked:
        return [ctx.reply("partner/has_members", partner=partner.name,
                          members=[m.user_id for m in linked])]
    overlegs.remove_partner(ctx.session, partner)
    audit_change(ctx, action="partner.remove", subject=partner.name)
    return [ctx.reply("partner/removed", partner=partner.name)]


def unknown_partner(ctx: Ctx, name: str) -> ParseError:
    """The refusal for a partner name that is not in this overleg, listing the known ones
    (to raise: ``run`` turns it into the reply)."""
    known = [p.name for p in overlegs.partners(ctx.session, ctx.overleg_id)]
    return ParseError("partner/unknown", partner=name, known=known)
