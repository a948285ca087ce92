"""The action plan of a case (integraal plan van aanpak): actions with an owner and a due date."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col

from commands import access, caseid, parse, workdays
from commands.auditing import audit_change
from commands.partner import unknown_partner
from commands.registry import (
    Batch,
    Ctx,
    Outgoing,
    ParseError,
    Roster,
    arg,
    command,
    timer,
    upkeep,
)
from storage import actions, cases, overlegs, timers
from storage.models import Action, Overleg, Partner
from storage.timers import Due

DUE_SOON = "action.due_soon"
OVERDUE = "action.overdue"
DIGEST = "overleg.digest"
ACTION_KINDS = (DUE_SOON, OVERDUE)
REMIND_HOUR = 9  # reminders go out at 09:00 local on working days
DIGEST_AT = (8, 30)  # the coordinators' daily digest

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
        return ("partner", parse.free_text(name, ctx, "partner")), ""
    code = caseid.normalise(word)
    if code is not None:
        return ("case", code), rest
    raise ParseError("error/bad_choice", choices=[
        {"value": "open", "nl": "open", "en": "open"},
        {"value": "overdue", "nl": "te-laat", "en": "overdue"},
        {"value": "mine", "nl": "mijn", "en": "mine"},
        {"value": "done", "nl": "klaar", "en": "done"},
        {"value": "case", "nl": "C-…", "en": "C-…"},
        {"value": "partner", "nl": "partner <naam>", "en": "partner <name>"}])


def _today(ctx: Ctx) -> date:
    assert ctx.overleg is not None
    return workdays.local_today(ctx.overleg, ctx.now)


def _find(ctx: Ctx, number: int) -> Action:
    """The action A``number``; refused as unknown when it is not there or hidden from the
    sender (need-to-know: a hidden action is not revealed to exist)."""
    action = actions.by_number(ctx.session, ctx.overleg_id, number)
    if action is None or not access.may_see(ctx, actions.case_of(ctx.session, action)):
        raise ParseError("action/unknown", number=number)
    return action


def _owner(ctx: Ctx, name: str, case_id: int) -> Partner:
    partner = overlegs.partner_by_name(ctx.session, ctx.overleg_id, name)
    if partner is None:
        raise unknown_partner(ctx, name)
    if partner.kind == "external" and partner.id not in actions.linked_partner_ids(
            ctx.session, case_id):
        case = cases.by_id(ctx.session, case_id)
        raise ParseError("action/partner_not_linked", partner=partner.name,
                         case=caseid.display(case.code if case else ""))
    return partner


def _view(ctx: Ctx, action: Action) -> dict[str, object]:
    assert ctx.overleg is not None
    partner = overlegs.partner_by_id(ctx.session, action.partner_id)
    return action_view(ctx.overleg, action, actions.case_of(ctx.session, action).code,
                       partner.name if partner else None, _today(ctx))


# ---- what an action looks like in a message --------------------------------------------------
def overdue_days(overleg: Overleg, due: date, today: date) -> int:
    """Working days past the due date (0 while not overdue)."""
    return workdays.working_days_between(overleg, due, today) if today > due else 0


def action_view(overleg: Overleg, action: Action, case_code: str, partner: str | None,
                today: date) -> dict[str, object]:
    """Plain values a template needs to show one action."""
    return {"id": f"A{action.number}", "case": caseid.display(case_code),
            "partner": partner or "?", "due": action.due, "description": action.description,
            "status": action.status, "overdue_days": overdue_days(overleg, action.due, today)}


def action_views(session: Session, overleg: Overleg, rows: list[tuple[Action, str]],
                 today: date) -> list[dict[str, object]]:
    """``action_view`` of many actions (with their case codes), in ``action_order``;
    partners' names read once."""
    names = overlegs.partner_names(session, overleg.id or 0) if rows else {}
    views = [action_view(overleg, a, code, names.get(a.partner_id), today) for a, code in rows]
    return sorted(views, key=action_order)


def action_order(v: dict[str, object]) -> tuple[bool, int, str, int]:
    """Open before done, most overdue first, then by due date and number."""
    return (v["status"] != "open", -int(str(v["overdue_days"])), str(v["due"]),
            int(str(v["id"])[1:]))


@command("action add", nl="actie toevoegen", aliases=("actie add",))
@arg("code", parse.case_code, metavar="case")
@arg("partner", parse.partner_before_date, metavar="partner")
@arg("due", parse.day, metavar="due")
@arg("text", parse.description, metavar="description")
def add(ctx: Ctx, *, code: str, partner: str, due: date, text: str) -> list[Outgoing]:
    """Add an action to a case's plan; answers with its ID and due date."""
    case, case_id = access.find_case(ctx, code)
    if case.status != "open":
        return [ctx.reply("action/case_closed", case=caseid.display(code))]
    if due < _today(ctx):
        return [ctx.reply("action/due_in_past", due=due)]
    owner = _owner(ctx, partner, case_id)
    assert ctx.overleg is not None and owner.id is not None
    action = actions.add(ctx.session, overleg_id=ctx.overleg_id, case_id=case_id,
                         partner_id=owner.id, due=due, description=text, actor=ctx.sender,
                         now=ctx.now)
    schedule_action(ctx.session, ctx.overleg, action, ctx.now, new=True)
    audit_change(ctx, action="action.add",
                 subject=f"A{action.number} {caseid.display(code)} {owner.name}")
    return [ctx.reply("action/added", action=action_view(ctx.overleg, action, case.code,
                                                         owner.name, _today(ctx)))]


@command("action done", nl="actie klaar", aliases=("actie done", "actie gedaan"))
@arg("number", _action_number, metavar="action")
def done(ctx: Ctx, *, number: int) -> list[Outgoing]:
    """Mark an action done (the chair, or a member of the owning partner)."""
    action = _find(ctx, number)
    assert ctx.member is not None and ctx.overleg is not None
    if ctx.member.role != "chair" and ctx.member.partner_id != action.partner_id:
        return [ctx.refuse("action/not_owner", action=_view(ctx, action))]
    if action.status == "done":
        return [ctx.refuse("action/already_done", action=_view(ctx, action))]
    action.status, action.done_at, action.done_by = "done", ctx.now, ctx.sender
    actions.change(ctx.session, action, actor=ctx.sender, kind="done", old="open", new="done",
                   now=ctx.now)
    schedule_action(ctx.session, ctx.overleg, action, ctx.now)  # cancels every reminder
    audit_change(ctx, action="action.done",
                 subject=f"A{action.number}")
    return [ctx.reply("action/done", action=_view(ctx, action))]


@command("action move", nl="actie verplaatsen", aliases=("actie move", "actie verplaats"))
@arg("number", _action_number, metavar="action")
@arg("due", parse.day, metavar="due")
def move(ctx: Ctx, *, number: int, due: date) -> list[Outgoing]:
    """Give an action a new due date; the old one is kept in its history."""
    action = _find(ctx, number)
    assert ctx.overleg is not None
    if action.status == "done":
        return [ctx.refuse("action/already_done", action=_view(ctx, action))]
    if due < _today(ctx):
        return [ctx.reply("action/due_in_past", due=due)]
    old = action.due
    action.due = due
    actions.change(ctx.session, action, actor=ctx.sender, kind="moved", old=old.isoformat(),
                   new=due.isoformat(), now=ctx.now)
    schedule_action(ctx.session, ctx.overleg, action, ctx.now)
    audit_change(ctx, action="action.move",
                 subject=f"A{action.number} {old.isoformat()}->{due.isoformat()}")
    return [ctx.reply("action/moved", action=_view(ctx, action), old=old)]


@command("action edit", nl="actie wijzig", aliases=("actie wijzigen", "actie edit"))
@arg("number", _action_number, metavar="action")
@arg("text", parse.description, metavar="description")
def edit(ctx: Ctx, *, number: int, text: str) -> list[Outgoing]:
    """Correct an action's description (the right to rectification, AVG art. 16): the new
    text passes the PII guard as ``action add``'s does, the old one is kept in the action's
    history (kind ``described``) and the change is audited (``action.edit``, the ID only).
    Also for a done action: what is held must be right whatever its state."""
    action = _find(ctx, number)
    if text == action.description:
        return [ctx.refuse("action/unchanged", action=_view(ctx, action))]
    old = action.description
    action.description = text
    actions.change(ctx.session, action, actor=ctx.sender, kind="described", old=old, new=text,
                   now=ctx.now)
    audit_change(ctx, action="action.edit", subject=f"A{action.number}")
    return [ctx.reply("action/edited", action=_view(ctx, action))]


@command("action assign", nl="actie toewijzen", aliases=("actie assign",))
@arg("number", _action_number, metavar="action")
@arg("partner", parse.partner_name, metavar="partner")
def assign(ctx: Ctx, *, number: int, partner: str) -> list[Outgoing]:
    """Give an action to another partner."""
    action = _find(ctx, number)
    if action.status == "done":
        return [ctx.refuse("action/already_done", action=_view(ctx, action))]
    owner = _owner(ctx, partner, action.case_id)
    old = overlegs.partner_by_id(ctx.session, action.partner_id)
    action.partner_id = owner.id or 0
    actions.change(ctx.session, action, actor=ctx.sender, kind="assigned",
                   old=old.name if old else None, new=owner.name, now=ctx.now)
    audit_change(ctx, action="action.assign", subject=f"A{action.number} {owner.name}")
    return [ctx.reply("action/assigned", action=_view(ctx, action))]


@command("action list", nl="actie lijst", aliases=("actie list",))
@arg("which", _list_filter, required=False, metavar="filter")
def listing(ctx: Ctx, *, which: tuple[str, str | None] | None) -> list[Outgoing]:
    """List actions: open (default), overdue, mine, done, all, one case, or one partner."""
    kind, value = which or ("open", None)
    status = None if kind in ("all", "case") else ("done" if kind == "done" else "open")
    today = _today(ctx)
    where: list[Any] = [Action.overleg_id == ctx.overleg_id]
    if status is not None:
        where.append(Action.status == status)
    if kind == "overdue":
        where.append(col(Action.due) < today)
    rows = actions.with_case_codes(ctx.session, *where)
    visible = access.visible_case_ids(ctx)
    if visible is not None:
        rows = [(a, c) for a, c in rows if a.case_id in visible]
    if kind == "mine":
        mine = ctx.member.partner_id if ctx.member else None
        rows = [(a, c) for a, c in rows if a.partner_id == mine]
    elif kind == "case":
        case = cases.by_code(ctx.session, ctx.overleg_id, value or "")
        rows = [(a, c) for a, c in rows if case is not None and a.case_id == case.id]
    elif kind == "partner":
        p = overlegs.partner_by_name(ctx.session, ctx.overleg_id, value or "")
        if p is None:
            raise unknown_partner(ctx, value or "")
        rows = [(a, c) for a, c in rows if a.partner_id == p.id]
    assert ctx.overleg is not None
    views = action_views(ctx.session, ctx.overleg, rows, today)
    return [ctx.reply("action/list", pages_over="actions", actions=views, which=kind,
                      value=caseid.display(value) if kind == "case" and value else value)]


# ---- reminders: the rules of the action.* timers and the coordinators' digest ---------------
def schedule_action(session: Session, overleg: Overleg, action: Action, now: datetime, *,
                    new: bool = False) -> None:
    """(Re)plan the reminders of ``action`` from its due date; earlier plans are cancelled
    (``new``: the action was just added, it has none)."""
    assert action.id is not None and overleg.id is not None
    if not new:
        timers.cancel(session, kinds=ACTION_KINDS, subject_id=action.id, now=now)
    if action.status != "open":
        return
    plans: list[timers.Plan] = []
    soon_day = workdays.working_days_before(overleg, action.due, overleg.due_soon_days)
    soon_at = workdays.at_local(overleg, soon_day, REMIND_HOUR)
    if soon_at > now and overleg.due_soon_days > 0:
        plans.append(timers.Plan(overleg.id, DUE_SOON, action.id, soon_at))
    first_overdue = workdays.next_working_day(overleg, action.due)
    plans.append(timers.Plan(overleg.id, OVERDUE, action.id,
                             max(workdays.at_local(overleg, first_overdue, REMIND_HOUR), now)))
    timers.schedule_all(session, plans)  # (one INSERT)


def _to(overleg: Overleg, template: str, values: dict[str, object], *, to: str,
        mentions: tuple[str, ...] = (), pages_over: str | tuple[str, str] | None = None
        ) -> Outgoing:
    return Outgoing(template, values, room=to, locale=overleg.locale, timezone=overleg.timezone,
                    mentions=mentions, pages_over=pages_over)


def _open_action(batch: Batch, overleg: Overleg, due: Due
                 ) -> tuple[Action, dict[str, object], Roster, date] | None:
    """What an action reminder shows: the action (None when it is gone or done), its view,
    the overleg's roster and today's date in the overleg."""
    found = batch.action(due.subject_id)
    if found is None or found[0].status != "open":
        return None
    action, code = found
    today = workdays.local_today(overleg, batch.now)
    roster = batch.roster(overleg)
    view = action_view(overleg, action, code, roster.partner_names.get(action.partner_id), today)
    return action, view, roster, today


@timer(DUE_SOON)
def due_soon_reminder(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """N working days before the due date: the owning partner's members, in the room (and
    by direct message with ``remind_by_dm``, not to who missed the case's last meeting)."""
    found = _open_action(batch, overleg, due)
    if found is None:
        return []
    action, view, roster, today = found
    if today > action.due:
        return []  # sent this late it would be news from the past: the overdue one says it
    owners = list(roster.owners.get(action.partner_id, ()))
    late = {"action": view, "late": batch.late(due), "late_since": due.due_at}
    out = [_to(overleg, "action/due_soon", {**late, "owners": owners}, to=overleg.room_id,
               mentions=tuple(owners))]
    if overleg.remind_by_dm:
        cleared = batch.clearance(overleg)  # not who missed the case's last meeting
        out += [_to(overleg, "action/due_soon", {**late, "owners": [user], "direct": True},
                    to=user) for user in owners if cleared.allows(user, action.case_id)]
    return out


@timer(OVERDUE)
def overdue_reminder(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """Overdue: owner and coordinators, every working day; after E days the chair as well
    (by direct message too with ``remind_by_dm``: not to who missed the case's last
    meeting, issue 24)."""
    found = _open_action(batch, overleg, due)
    if found is None:
        return []
    action, view, roster, today = found
    owners = list(roster.owners.get(action.partner_id, ()))
    coordinators = list(roster.coordinators)
    escalated = int(str(view["overdue_days"])) >= overleg.escalate_after_days
    chairs = list(roster.chairs) if escalated else []
    told = tuple(dict.fromkeys(owners + coordinators + chairs))
    values: dict[str, object] = {"action": view, "owners": owners, "coordinators": coordinators,
              "chairs": chairs, "escalated": escalated, "late": batch.late(due),
              "late_since": due.due_at}
    out = [_to(overleg, "action/overdue", values, to=overleg.room_id, mentions=told)]
    if overleg.remind_by_dm:
        cleared = batch.clearance(overleg)  # not who missed the case's last meeting
        out += [_to(overleg, "action/overdue", {**values, "direct": True}, to=user)
                for user in told if cleared.allows(user, action.case_id)]
    next_day = workdays.next_working_day(overleg, today)
    batch.plan(due, workdays.at_local(overleg, next_day, REMIND_HOUR))
    return out


def ensure_digest(session: Session, overleg: Overleg, now: datetime) -> None:
    """Make sure the coordinators' daily digest is planned (08:30 on the next working day)."""
    assert overleg.id is not None
    if timers.has_pending(session, overleg_id=overleg.id, kind=DIGEST):
        return
    today = workdays.local_today(overleg, now)
    day = today if workdays.is_working_day(overleg, today) else \
        workdays.next_working_day(overleg, today)
    at = workdays.at_local(overleg, day, *DIGEST_AT)
    if at <= now:
        at = workdays.at_local(overleg, workdays.next_working_day(overleg, today), *DIGEST_AT)
    timers.schedule(session, overleg_id=overleg.id, kind=DIGEST, subject_id=overleg.id,
                    due_at=at)


@upkeep
def ensure_digests(session: Session, now: datetime) -> None:
    """Every overleg has its digest planned (one query for those that have)."""
    planned = timers.overlegs_with_pending(session, DIGEST)
    for overleg in overlegs.all_overlegs(session):
        if overleg.id not in planned:
            ensure_digest(session, overleg, now)


def digest_rows(session: Session, overleg: Overleg, today: date,
                rows: list[tuple[Action, str]] | None = None) -> list[dict[str, object]]:
    """Open actions grouped per case, overdue first, most overdue on top; ``rows``: the
    open actions with their cases' codes, when the caller read (and filtered) them."""
    if rows is None:
        rows = actions.with_case_codes(session, Action.overleg_id == overleg.id,
                                       Action.status == "open")
    return _per_case(action_views(session, overleg, rows, today))


def _per_case(views: list[dict[str, object]]) -> list[dict[str, object]]:
    """Action views grouped per case, in the order of their first action."""
    per_case: dict[str, list[dict[str, object]]] = {}
    for v in views:
        per_case.setdefault(str(v["case"]), []).append(v)
    return [{"case": case, "actions": rows} for case, rows in per_case.items()]


@timer(DIGEST)
def digest(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """08:30 on working days: each coordinator gets the open actions, per case (not those
    of a case whose last meeting they did not confirm presence at: issue 24)."""
    today = workdays.local_today(overleg, batch.now)
    nxt = workdays.next_working_day(overleg, today)
    batch.plan(due, workdays.at_local(overleg, nxt, *DIGEST_AT))
    if not workdays.is_working_day(overleg, today):
        return []  # the day became a holiday after planning (settings changed)
    open_rows = actions.with_case_codes(batch.session, Action.overleg_id == overleg.id,
                                        Action.status == "open")
    cleared = batch.clearance(overleg)  # each coordinator: not the cases of a meeting missed
    roster = batch.roster(overleg)
    views = {a.id: action_view(overleg, a, code, roster.partner_names.get(a.partner_id), today)
             for a, code in open_rows}  # (once, whatever the number of coordinators)
    out = []
    for user in roster.coordinators:
        rows = _per_case(sorted((views[a.id] for a, _ in open_rows
                                 if cleared.allows(user, a.case_id)), key=action_order))
        if not rows:
            continue  # nothing to report: no digest
        values: dict[str, object] = {
            "cases": rows, "overleg_name": overleg.name,
            "today": workdays.at_local(overleg, today, 12), "late": batch.late(due),
            "late_since": due.due_at}
        out.append(_to(overleg, "action/digest", values, to=user,
                       pages_over=("cases", "actions")))
    return out
