"""Cases: random IDs only. An external reference is kept only as a keyed hash."""

from __future__ import annotations

from commands import caseid, parse, refs
from commands.registry import Ctx, Outgoing, ParseError, arg, command
from storage import audit, cases

STATUS_WORDS = {"open": "open", "closed": "closed", "gesloten": "closed", "all": "all",
                "alle": "all"}


def _status(text: str, ctx: Ctx) -> tuple[str, str]:
    word, _, rest = text.partition(" ")
    if word.casefold() not in STATUS_WORDS:
        raise ParseError("error/bad_choice", given=word[:40],
                               choices=["open", "closed", "all"])
    return STATUS_WORDS[word.casefold()], rest


@command("case open", aliases=("casus open", "casus openen"), role="chair")
@arg("reference", parse.reference, required=False)
def open_case(ctx: Ctx, *, reference: str | None) -> list[Outgoing]:
    """Open a new case; answers with its random ID."""
    ref_hash = refs.keyed_hash(ctx.settings.ref_key, reference) if reference else None
    code = caseid.new_code()
    while cases.code_taken(ctx.session, code):
        code = caseid.new_code()
    case = cases.add(ctx.session, overleg_id=ctx.overleg_id, code=code, ref_hash=ref_hash,
                     now=ctx.now)
    audit.record(ctx.session, overleg_id=ctx.overleg_id, actor=ctx.sender, action="case.open",
                 subject=caseid.display(case.code), now=ctx.now)
    return [ctx.reply("case/opened", case=caseid.display(case.code),
                      with_reference=reference is not None)]


@command("case list", aliases=("casus list", "casus lijst"), role="chair")
@arg("status", _status, required=False)
def listing(ctx: Ctx, *, status: str | None) -> list[Outgoing]:
    """List cases: open ones by default, or closed/all."""
    wanted = status or "open"
    rows = cases.listing(ctx.session, ctx.overleg_id,
                         status=None if wanted == "all" else wanted)
    return [ctx.reply("case/list", status=wanted,
                      cases=[{"id": caseid.display(c.code), "status": c.status,
                              "opened_at": c.opened_at, "closed_at": c.closed_at}
                             for c in rows])]


@command("case close", aliases=("casus close", "casus sluit", "casus sluiten"), role="chair")
@arg("code", parse.case_code, metavar="case")
def close(ctx: Ctx, *, code: str) -> list[Outgoing]:
    """Close a case."""
    case = cases.by_code(ctx.session, ctx.overleg_id, code)
    if case is None:
        return [ctx.reply("case/unknown", case=caseid.display(code))]
    if case.status == "closed":
        return [ctx.reply("case/already_closed", case=caseid.display(code))]
    cases.close(ctx.session, case, ctx.now)
    audit.record(ctx.session, overleg_id=ctx.overleg_id, actor=ctx.sender, action="case.close",
                 subject=caseid.display(code), now=ctx.now)
    return [ctx.reply("case/closed", case=caseid.display(code))]


@command("case find", aliases=("casus find", "casus zoek", "casus zoeken"), role="chair")
@arg("reference", parse.reference)
def find(ctx: Ctx, *, reference: str) -> list[Outgoing]:
    """Find cases by external reference (compared as keyed hashes)."""
    found = cases.by_ref(ctx.session, ctx.overleg_id,
                         refs.keyed_hash(ctx.settings.ref_key, reference))
    return [ctx.reply("case/found", cases=[{"id": caseid.display(c.code), "status": c.status}
                                           for c in found])]
