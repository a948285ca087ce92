"""The action plan of a case (integraal plan van aanpak): actions with an owner and a due date."""

from __future__ import annotations

from datetime import date

from commands import access, caseid, parse, timed, workdays
from commands.auditing import audit_change
from commands.partner import unknown_partner
from commands.registry import Ctx, Outgoing, ParseError, arg, command
from storage import actions, cases, overlegs
from storage.models import Action, Partner

FILTERS = {"open": "open", "overdue": "overdue", "te-laat": "overdue", "telaat": "overdue",
           "mine": "mine", "mijn": "mine", "done": "done", "klaar": "done", "all": "all",
           "alle": "all"}


def _action_number(text: str, ctx: Ctx) -> tuple[int, str]:
    word, _, rest = text.strip().partition(" ")
    if len(word) > 1 and word[0] in "aA" and word[1:].isascii() and word[1:].isdigit() \
            and len(word) <= 8:
        return int(word[1:]), rest
    raise ParseError("error/bad_action_id", given=word[:20])


def _list_filter(text: str, ctx: Ctx) -> tuple[tuple[str, str | None], str]:
    word, _, rest = text.strip().partition(" ")
    low = word.casefold()
    if low in FILTERS:
        return (FILTERS[low], None), rest
    if low in ("partner",):
        name = rest.strip()
        if not name:
            raise ParseError("error/missing_arg", metavar="partner")
        return ("partner", parse.free_text(name, "partner")), ""
    code = caseid.normalise(word)
    if code is not None:
        return ("case", code), rest
    raise ParseError("error/bad_choice", given=word[:40],
                     choices=["open", "overdue", "mine", "done", "C-…", "partner <naam>"])


def _today(ctx: Ctx) -> date:
    assert ctx.overleg is not None
    return workdays.local_today(ctx.overleg, ctx.now)


def _find(ctx: Ctx, number: int) -> Action | Outgoing:
    action = actions.by_number(ctx.session, ctx.overleg_id, number)
    if action is None:
        return ctx.reply("action/unknown", number=number)
    if not access.may_see(ctx, actions.case_of(ctx.session, action)):
        return ctx.reply("action/unknown", number=number)  # do not reveal it exists
    return action


def _owner(ctx: Ctx, name: str, case_id: int) -> Partner | Outgoing:
    partner = overlegs.partner_by_name(ctx.session, ctx.overleg_id, name)
    if partner is None:
        return unknown_partner(ctx, name)
    if partner.kind == "external" and partner.id not in actions.linked_partner_ids(
            ctx.session, case_id):
        case = cases.by_id(ctx.session, case_id)
        return ctx.reply("action/partner_not_linked", partner=partner.name,
                         case=caseid.display(case.code if case else ""))
    return partner


def _view(ctx: Ctx, action: Action) -> dict[str, object]:
    assert ctx.overleg is not None
    return timed.action_view(ctx.session, ctx.overleg, action, _today(ctx))


@command("action add", aliases=("actie add", "actie toevoegen"))
@arg("code", parse.case_code, metavar="case")
@arg("partner", parse.partner_before_date, metavar="partner")
@arg("due", parse.day, metavar="due")
@arg("text", parse.description, metavar="description")
def add(ctx: Ctx, *, code: str, partner: str, due: date, text: str) -> list[Outgoing]:
    """Add an action to a case's plan; answers with its ID and due date."""
    case = cases.by_code(ctx.session, ctx.overleg_id, code)
    if case is None or case.id is None:
        return [ctx.reply("case/unknown", case=caseid.display(code))]
    if case.status != "open":
        return [ctx.reply("action/case_closed", case=caseid.display(code))]
    if due < _today(ctx):
        return [ctx.reply("action/due_in_past", due=due)]
    owner = _owner(ctx, partner, case.id)
    if isinstance(owner, Outgoing):
        return [owner]
    assert ctx.overleg is not None and owner.id is not None
    action = actions.add(ctx.session, overleg_id=ctx.overleg_id, case_id=case.id,
                         case_code=case.code, partner_id=owner.id, due=due, description=text,
                         actor=ctx.sender, now=ctx.now)
    timed.schedule_action(ctx.session, ctx.overleg, action, ctx.now)
    audit_change(ctx, action="action.add",
                 subject=f"A{action.number} {caseid.display(code)} {owner.name}")
    return [ctx.reply("action/added", action=timed.fact_view(ctx.overleg, action, owner.name,
                                                             _today(ctx)))]


@command("action done", aliases=("actie done", "actie klaar", "actie gedaan"))
@arg("number", _action_number, metavar="action")
def done(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Mark an action done (the chair, or a member of the owning partner)."""
    action = _find(ctx, number)
    if isinstance(action, Outgoing):
        return [action]
    assert ctx.member is not None and ctx.overleg is not None
    if ctx.member.role != "chair" and ctx.member.partner_id != action.partner_id:
        return [ctx.reply("action/not_owner", action=_view(ctx, action))]
    if action.status == "done":
        return [ctx.reply("action/already_done", action=_view(ctx, action))]
    action.status, action.done_at, action.done_by = "done", ctx.now, ctx.sender
    actions.change(ctx.session, action, actor=ctx.sender, kind="done", old="open", new="done",
                   now=ctx.now)
    timed.schedule_action(ctx.session, ctx.overleg, action, ctx.now)  # cancels every reminder
    audit_change(ctx, action="action.done",
                 subject=f"A{action.number}")
    return [ctx.reply("action/done", action=_view(ctx, action))]


@command("action move", aliases=("actie move", "actie verplaats", "actie verplaatsen"))
@arg("number", _action_number, metavar="action")
@arg("due", parse.day, metavar="due")
def move(ctx: Ctx, *, number: int, due: date) -> list[Outgoing]:
    """Give an action a new due date; the old one is kept in its history."""
    action = _find(ctx, number)
    if isinstance(action, Outgoing):
        return [action]
    assert ctx.overleg is not None
    if action.status == "done":
        return [ctx.reply("action/already_done", action=_view(ctx, action))]
    if due < _today(ctx):
        return [ctx.reply("action/due_in_past", due=due)]
    old = action.due
    action.due = due
    actions.change(ctx.session, action, actor=ctx.sender, kind="moved", old=old.isoformat(),
                   new=due.isoformat(), now=ctx.now)
    timed.schedule_action(ctx.session, ctx.overleg, action, ctx.now)
    audit_change(ctx, action="action.move",
                 subject=f"A{action.number} {old.isoformat()}->{due.isoformat()}")
    return [ctx.reply("action/moved", action=_view(ctx, action), old=old)]


@command("action assign", aliases=("actie assign", "actie toewijzen"))
@arg("number", _action_number, metavar="action")
@arg("partner", parse.partner_name, metavar="partner")
def assign(ctx: Ctx, *, number: int, partner: str) -> list[Outgoing]:
    """Give an action to another partner."""
    action = _find(ctx, number)
    if isinstance(action, Outgoing):
        return [action]
    if action.status == "done":
        return [ctx.reply("action/already_done", action=_view(ctx, action))]
    owner = _owner(ctx, partner, action.case_id)
    if isinstance(owner, Outgoing):
        return [owner]
    old = overlegs.partner_by_id(ctx.session, action.partner_id)
    action.partner_id = owner.id or 0
    actions.change(ctx.session, action, actor=ctx.sender, kind="assigned",
                   old=old.name if old else None, new=owner.name, now=ctx.now)
    audit_change(ctx, action="action.assign", subject=f"A{action.number} {owner.name}")
    return [ctx.reply("action/assigned", action=_view(ctx, action))]


@command("action list", aliases=("actie list", "actie lijst"))
@arg("which", _list_filter, required=False, metavar="filter")
def listing(ctx: Ctx, *, which: tuple[str, str | None] | None) -> list[Outgoing]:
    """List actions: open (default), overdue, mine, done, all, one case, or one partner."""
    kind, value = which or ("open", None)
    status = None if kind in ("all", "case") else ("done" if kind == "done" else "open")
    today = _today(ctx)
    rows = actions.facts_of_overleg(ctx.session, ctx.overleg_id, status=status,
                                    due_before=today if kind == "overdue" else None)
    visible = access.visible_case_ids(ctx)
    if visible is not None:
        rows = [a for a in rows if a.case_id in visible]
    if kind == "mine":
        mine = ctx.member.partner_id if ctx.member else None
        rows = [a for a in rows if a.partner_id == mine]
    elif kind == "case":
        case = cases.by_code(ctx.session, ctx.overleg_id, value or "")
        rows = [a for a in rows if case is not None and a.case_id == case.id]
    elif kind == "partner":
        p = overlegs.partner_by_name(ctx.session, ctx.overleg_id, value or "")
        if p is None:
            return [unknown_partner(ctx, value or "")]
        rows = [a for a in rows if a.partner_id == p.id]
    assert ctx.overleg is not None
    views = timed.fact_views(ctx.session, ctx.overleg, rows, today)
    views.sort(key=timed.action_order)
    return [ctx.reply("action/list", actions=views, which=kind,
                      value=caseid.display(value) if kind == "case" and value else value)]
