"""The covenant's rules: the annex-1 register, case phases, weging outcomes, monitoring.

External partners may join only if their organisation is on annex 1 of the covenant; the
mayor is mandated to amend the annex, so every change records who approved it. A case moves
melding -> weging -> casusoverleg -> monitoren -> afgesloten; the weegoverleg decides per
signal; cases in monitoren come back on an agenda every N weeks.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from commands import access, caseid, parse, workdays
from commands.auditing import audit_change
from commands.registry import Batch, Choice, Ctx, Outgoing, ParseError, arg, choice, command, timer
from storage import actions, audit, cases, overlegs, timers
from storage.models import AnnexOrganisation, Case, Overleg
from storage.timers import Due

PHASES = ("melding", "weging", "casusoverleg", "monitoren", "afgesloten")
PHASE_CHOICES = (Choice("melding", "melding", "signal"), Choice("weging", "weging", "assessment"),
                 Choice("casusoverleg", "casusoverleg", "case-meeting"),
                 Choice("monitoren", "monitoren", "monitoring"),
                 Choice("afgesloten", "afgesloten", "closed", ("afsluiten",)))
OUTCOMES = {
    "geen-actie": "geen_actie", "geen actie": "geen_actie", "no-action": "geen_actie",
    "meer-informatie": "meer_informatie", "meer informatie nodig": "meer_informatie",
    "meer informatie": "meer_informatie", "more-information": "meer_informatie",
    "casusoverleg": "via_casusoverleg", "via casusoverleg": "via_casusoverleg",
    "via-casusoverleg": "via_casusoverleg", "case-meeting": "via_casusoverleg",
    "strafrechtelijk": "strafrechtelijk", "strafrechtelijk via om": "strafrechtelijk",
    "om": "strafrechtelijk", "criminal": "strafrechtelijk",
}
CLOSING_OUTCOMES = ("geen_actie", "strafrechtelijk")
FOLLOWUP = "case.followup"
MONITOR = "case.monitor"
APPROVER_WORDS = ("door", "by", "approved-by", "goedgekeurd-door")


# ---- annex 1 -------------------------------------------------------------------------------
def annex_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def on_annex(session: Session, name: str) -> AnnexOrganisation | None:
    return session.exec(select(AnnexOrganisation).where(
        AnnexOrganisation.name_key == annex_key(name),
        col(AnnexOrganisation.removed_at).is_(None))).first()


def _org_and_approver(text: str, ctx: Ctx) -> tuple[tuple[str, str], str]:
    words = text.split()
    split = next((i for i, w in enumerate(words) if w.casefold() in APPROVER_WORDS), None)
    if split is None or split == 0 or split == len(words) - 1:
        raise ParseError("covenant/annex_usage")
    org = parse.free_text(" ".join(words[:split]), ctx, "organisation", names="whole")
    approver = parse.free_text(" ".join(words[split + 1:]), ctx, "approver")
    return (org, approver), ""


def _annex_audit(ctx: Ctx, action: str, subject: str) -> None:
    """The annex is deployment-wide: its entries belong to no overleg."""
    audit.record(ctx.session, overleg_id=None, actor=ctx.sender, role="admin", action=action,
                 subject=subject, now=ctx.now)


@command("annex add", nl="bijlage toevoegen", aliases=("annex toevoegen", "bijlage add"))
@arg("entry", _org_and_approver, metavar="annex_entry")
def annex_add(ctx: Ctx, *, entry: tuple[str, str]) -> list[Outgoing]:
    """Put an organisation on annex 1 (deployment-wide), recording who approved it."""
    org, approver = entry
    if on_annex(ctx.session, org) is not None:
        return [ctx.reply("covenant/annex_exists", organisation=org)]
    ctx.session.add(AnnexOrganisation(name=" ".join(org.split()), name_key=annex_key(org),
                                      approved_by=approver, approved_at=ctx.now,
                                      added_by=ctx.sender))
    ctx.session.flush()
    _annex_audit(ctx, "annex.add", f"{org} (approved: {approver})")
    return [ctx.reply("covenant/annex_added", organisation=org, approver=approver)]


@command("annex remove", nl="bijlage verwijderen",
         aliases=("annex verwijder", "bijlage remove", "bijlage verwijder"))
@arg("entry", _org_and_approver, metavar="annex_entry")
def annex_remove(ctx: Ctx, *, entry: tuple[str, str]) -> list[Outgoing]:
    """Take an organisation off annex 1: it is unlinked from every case, chairs are told."""
    org, approver = entry
    row = on_annex(ctx.session, org)
    if row is None:
        return [ctx.reply("covenant/annex_unknown", organisation=org)]
    row.removed_at, row.removed_by, row.removal_approved_by = ctx.now, ctx.sender, approver
    ctx.session.add(row)
    out: list[Outgoing] = []
    for overleg in overlegs.all_overlegs(ctx.session):
        partner = overlegs.partner_by_name(ctx.session, overleg.id or 0, org)
        if partner is None or partner.id is None or partner.kind != "external":
            continue
        unlinked = []
        for case_id in sorted(actions.cases_linked_to(ctx.session, partner.id)):
            actions.unlink(ctx.session, case_id, partner.id)
            case = cases.by_id(ctx.session, case_id)
            unlinked.append(caseid.display(case.code if case else "?"))
        audit.record(ctx.session, overleg_id=overleg.id, actor=ctx.sender, role="admin",
                     action="annex.unlink", subject=f"{partner.name}: {', '.join(unlinked)}",
                     now=ctx.now)
        out.append(Outgoing("covenant/annex_removed_notice",
                            {"organisation": partner.name, "cases": unlinked},
                            room=overleg.room_id, locale=overleg.locale,
                            timezone=overleg.timezone))
    _annex_audit(ctx, "annex.remove", f"{org} (approved: {approver})")
    return [ctx.reply("covenant/annex_removed", organisation=org, approver=approver,
                      overlegs=len(out)), *out]


@command("annex list", nl="bijlage lijst", aliases=("annex lijst", "bijlage list"))
def annex_list(ctx: Ctx) -> list[Outgoing]:
    """The organisations on annex 1, with who approved them and when."""
    rows = ctx.session.exec(select(AnnexOrganisation).where(
        col(AnnexOrganisation.removed_at).is_(None))
        .order_by(col(AnnexOrganisation.name_key))).all()
    return [ctx.reply("covenant/annex_list", entries=[
        {"name": r.name, "approved_by": r.approved_by, "approved_at": r.approved_at}
        for r in rows])]


# ---- phases ----------------------------------------------------------------------------------
def set_phase(session: Session, overleg: Overleg, case: Case, phase: str,
              now: datetime) -> None:
    """Move ``case`` to ``phase``; entering monitoren plans its cadence."""
    case.phase, case.phase_since = phase, now
    session.add(case)
    session.flush()
    assert case.id is not None
    timers.cancel(session, kinds=(MONITOR,), subject_id=case.id, now=now)
    if phase == "monitoren":
        schedule_monitor(session, overleg, case, now)


_phase = choice(*PHASE_CHOICES)


@command("case phase", nl="casus fase")
@arg("code", parse.case_code, metavar="case")
@arg("phase", _phase, metavar="phase")
def phase(ctx: Ctx, *, code: str, phase: str) -> list[Outgoing]:
    """Move a case to a phase: melding, weging, casusoverleg, monitoren, afgesloten."""
    case, _ = access.find_case(ctx, code)
    if case.status == "closed":
        return [ctx.refuse("case/already_closed", case=caseid.display(code))]
    if phase == "afgesloten":
        close_case(ctx, case, reason="closed")
        return [ctx.reply("case/closed", case=caseid.display(code))]
    old = case.phase
    assert ctx.overleg is not None
    set_phase(ctx.session, ctx.overleg, case, phase, ctx.now)
    audit_change(ctx, action="case.phase", subject=f"{caseid.display(code)} {old}->{phase}")
    return [ctx.reply("covenant/phase", case=caseid.display(code), old=old, phase=phase)]


def close_case(ctx: Ctx, case: Case, *, reason: str) -> None:
    assert ctx.overleg is not None
    cases.close(ctx.session, case, ctx.now)
    case.close_reason = reason
    set_phase(ctx.session, ctx.overleg, case, "afgesloten", ctx.now)
    timers.cancel(ctx.session, kinds=(FOLLOWUP, "case.review"), subject_id=case.id or 0,
                  now=ctx.now)
    audit_change(ctx, action="case.close", subject=f"{caseid.display(case.code)} {reason}")


# ---- weging ----------------------------------------------------------------------------------
def _outcome(text: str, ctx: Ctx) -> tuple[tuple[str, date | None], str]:
    words = text.split()
    for n in (4, 3, 2, 1):
        outcome = OUTCOMES.get(" ".join(words[:n]).casefold())
        if outcome is None:
            continue
        rest = " ".join(words[n:])
        follow: date | None = None
        if outcome == "meer_informatie":
            if not rest:
                raise ParseError("covenant/followup_needed")
            try:
                follow, rest = parse.day(rest, ctx)
            except ParseError as e:  # the follow-up date is wrong, not the outcome
                raise ParseError(e.template, **(e.values | {"metavar": "date"})) from None
            today = workdays.local_today(ctx.overleg, ctx.now) if ctx.overleg else None
            if today is not None and follow <= today:
                raise ParseError("covenant/followup_in_past")
        return (outcome, follow), rest
    raise ParseError("error/bad_choice", choices=[c.shown() for c in OUTCOME_CHOICES])


OUTCOME_CHOICES = (
    Choice("geen_actie", "geen-actie", "no-action"),
    Choice("meer_informatie", "meer-informatie", "more-information"),
    Choice("via_casusoverleg", "casusoverleg", "case-meeting"),
    Choice("strafrechtelijk", "strafrechtelijk", "criminal"))
"""The weging's outcomes as shown in help and refusals (``OUTCOMES`` holds every word read)."""
_outcome.__casus_choices__ = OUTCOME_CHOICES  # type: ignore[attr-defined]


@command("weging", nl="weging", en="assessment", aliases=("weigh",))
@arg("code", parse.case_code, metavar="case")
@arg("outcome", _outcome, metavar="outcome")
def weging(ctx: Ctx, *, code: str, outcome: tuple[str, date | None]) -> list[Outgoing]:
    """The weegoverleg's decision on a signal; closing outcomes close the case."""
    case, case_id = access.find_case(ctx, code)
    if case.status == "closed":
        return [ctx.refuse("case/already_closed", case=caseid.display(code))]
    assert ctx.overleg is not None
    result, follow = outcome
    shown = caseid.display(code)
    audit_change(ctx, action=f"weging.{result}", subject=shown)
    if result in CLOSING_OUTCOMES:
        close_case(ctx, case, reason=result)
    elif result == "via_casusoverleg":
        set_phase(ctx.session, ctx.overleg, case, "casusoverleg", ctx.now)
    else:
        set_phase(ctx.session, ctx.overleg, case, "weging", ctx.now)
        assert follow is not None
        timers.cancel(ctx.session, kinds=(FOLLOWUP,), subject_id=case_id, now=ctx.now)
        timers.schedule(ctx.session, overleg_id=ctx.overleg_id, kind=FOLLOWUP,
                        subject_id=case_id, due_at=workdays.at_local(ctx.overleg, follow, 9))
    return [ctx.reply("covenant/weging", case=shown, outcome=result, follow=follow)]


@timer(FOLLOWUP)
def followup(batch: Batch, overleg: Overleg, due: Due) -> list[Outgoing]:
    """The follow-up date of a weging outcome: the chairs are asked to look at the case."""
    case = batch.session.get(Case, due.subject_id)
    if case is None or case.status != "open":
        return []
    return [Outgoing("covenant/followup", {"case": caseid.display(case.code)}, room=chair,
                     locale=overleg.locale, timezone=overleg.timezone)
            for chair in batch.roster(overleg).chairs]


# ---- monitoring cadence ---------------------------------------------------------------------
def schedule_monitor(session: Session, overleg: Overleg, case: Case, since: datetime) -> None:
    day = workdays.local_today(overleg, since + timedelta(weeks=overleg.monitor_weeks))
    timers.schedule(session, overleg_id=overleg.id or 0, kind=MONITOR, subject_id=case.id or 0,
                    due_at=workdays.at_local(overleg, day, 9))
