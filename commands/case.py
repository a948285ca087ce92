"""Cases: random IDs only. An external reference is kept only as a keyed hash."""

from __future__ import annotations

from commands import access, action, caseid, covenant, parse, refs, retention, workdays
from commands.auditing import audit_change
from commands.partner import unknown_partner
from commands.registry import Choice, Ctx, Outgoing, arg, choice, command
from storage import actions, agendas, cases, overlegs
from storage.models import Action

_status = choice(Choice("open", "open", "open"), Choice("closed", "gesloten", "closed"),
                 Choice("all", "alle", "all"))


@command("case open", nl="casus openen", aliases=("casus open",))
@arg("reference", parse.reference, required=False)
def open_case(ctx: Ctx, *, reference: str | None) -> list[Outgoing]:
    """Open a new case; answers with its random ID."""
    ref_hash = refs.keyed_hash(ctx.settings.ref_keys, reference) if reference else None
    code = caseid.new_code()
    while cases.code_taken(ctx.session, code):
        code = caseid.new_code()
    case = cases.add(ctx.session, overleg_id=ctx.overleg_id, code=code, ref_hash=ref_hash,
                     now=ctx.now)
    assert ctx.overleg is not None and case.id is not None
    retention.schedule_review(ctx.session, ctx.overleg, case.id, opened_at=ctx.now)
    audit_change(ctx, action="case.open", subject=caseid.display(code))
    return [ctx.reply("case/opened", case=caseid.display(code),
                      with_reference=reference is not None)]


@command("case list", nl="casus lijst", aliases=("casus list",))
@arg("status", _status, required=False)
def listing(ctx: Ctx, *, status: str | None) -> list[Outgoing]:
    """List cases: open ones by default, or closed/all."""
    wanted = status or "open"
    rows = cases.listing(ctx.session, ctx.overleg_id,
                         status=None if wanted == "all" else wanted)
    views = [{"id": caseid.display(c.code), "status": c.status, "phase": c.phase,
              "opened_at": c.opened_at, "closed_at": c.closed_at} for c in rows]
    groups = [{"phase": p, "cases": [v for v in views if v["phase"] == p]}
              for p in covenant.PHASES if any(v["phase"] == p for v in views)]
    return [ctx.reply("case/list", pages_over=("groups", "cases"), status=wanted, cases=views,
                      groups=groups)]


@command("case close", nl="casus sluiten", aliases=("casus close", "casus sluit"))
@arg("code", parse.case_code, metavar="case")
def close(ctx: Ctx, *, code: str) -> list[Outgoing]:
    """Close a case."""
    case, _ = access.find_case(ctx, code)
    if case.status == "closed":
        return [ctx.refuse("case/already_closed", case=caseid.display(code))]
    covenant.close_case(ctx, case, reason="closed")
    return [ctx.reply("case/closed", case=caseid.display(code))]


@command("case find", nl="casus zoeken", aliases=("casus find", "casus zoek"))
@arg("reference", parse.searched_reference, metavar="reference")
def find(ctx: Ctx, *, reference: str) -> list[Outgoing]:
    """Find cases by external reference (compared as keyed hashes)."""
    found = cases.by_ref(ctx.session, ctx.overleg_id,
                         refs.keyed_hash(ctx.settings.ref_keys, reference))
    return [ctx.reply("case/found", cases=[{"id": caseid.display(c.code), "status": c.status}
                                           for c in found])]


_link_op = choice(Choice("add", "koppel", "add", ("toevoegen", "koppelen")),
                  Choice("remove", "ontkoppel", "remove",
                         ("verwijder", "verwijderen", "ontkoppelen")))


@command("case partner", nl="casus partner")
@arg("code", parse.case_code, metavar="case")
@arg("op", _link_op, metavar="add_remove")
@arg("partner", parse.partner_name, metavar="partner")
def link(ctx: Ctx, *, code: str, op: str, partner: str) -> list[Outgoing]:
    """Link a partner to one case (need-to-know), or unlink it."""
    _, case_id = access.find_case(ctx, code)
    found = overlegs.partner_by_name(ctx.session, ctx.overleg_id, partner)
    if found is None or found.id is None:
        raise unknown_partner(ctx, partner)
    shown = caseid.display(code)
    if op == "add":
        if not actions.link(ctx.session, case_id, found.id, ctx.now):
            return [ctx.refuse("case/already_linked", case=shown, partner=found.name)]
    else:
        owned = [a for a in actions.of_case(ctx.session, case_id)
                 if a.partner_id == found.id and a.status == "open"]
        if owned:
            return [ctx.reply("case/partner_has_actions", case=shown, partner=found.name,
                              actions=[f"A{a.number}" for a in owned])]
        if not actions.unlink(ctx.session, case_id, found.id):
            return [ctx.refuse("case/not_linked", case=shown, partner=found.name)]
    audit_change(ctx, action=f"case.partner.{op}", subject=f"{shown} {found.name}")
    return [ctx.reply("case/linked" if op == "add" else "case/unlinked", case=shown,
                      partner=found.name)]


@command("case show", nl="casus toon", aliases=("casus show", "casus bekijk"))
@arg("code", parse.case_code, metavar="case")
def show(ctx: Ctx, *, code: str) -> list[Outgoing]:
    """A case's plan: open and done actions, who sees the case (the core partners always;
    ``partners``: the others linked to it, need-to-know) and ``owners``: the partners with
    open actions in it."""
    case, case_id = access.find_case(ctx, code)
    assert ctx.overleg is not None
    today = workdays.local_today(ctx.overleg, ctx.now)
    views = action.action_views(ctx.session, ctx.overleg, actions.with_case_codes(
        ctx.session, Action.case_id == case_id), today)
    linked = sorted(p.name for pid in actions.linked_partner_ids(ctx.session, case_id)
                    if (p := overlegs.partner_by_id(ctx.session, pid)) is not None)
    return [ctx.reply("case/show", pages_over="open_actions", case=caseid.display(code),
                      status=case.status,
                      phase=case.phase,
                      opened_at=case.opened_at, closed_at=case.closed_at,
                      meetings=[f"M{m.number}" for m in agendas.meetings_of_case(ctx.session,
                                                                                 case_id)],
                      open_actions=[v for v in views if v["status"] == "open"],
                      done_actions=[v for v in views if v["status"] == "done"],
                      partners=linked,
                      owners=sorted({v["partner"] for v in views if v["status"] == "open"}))]
