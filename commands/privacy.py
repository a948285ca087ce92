"""``!privacy``: the chair's forbidden words (person references), kept only as keyed hashes."""

from __future__ import annotations

from commands import pii
from commands.auditing import audit_change
from commands.registry import Ctx, Outgoing, ParseError, arg, command
from storage import privacy


def _word(text: str, ctx: Ctx) -> tuple[str, str]:
    words = text.split()
    if not words or len(words) > 3:
        raise ParseError("error/bad_forbidden_word")
    return " ".join(words), ""


@command("privacy forbid", nl="privacy verbieden", aliases=("privacy verbied",))
@arg("word", _word, metavar="word")
def forbid(ctx: Ctx, *, word: str) -> list[Outgoing]:
    """Forbid a person reference (a name, a nickname; up to three words) in every text."""
    digest = pii.word_hash(ctx.settings.ref_keys, word)
    added = privacy.add(ctx.session, ctx.overleg_id, digest, ctx.now)
    if added:
        audit_change(ctx, action="privacy.forbid", subject="word")
    return [ctx.reply("privacy/forbidden", added=added,
                      count=privacy.count(ctx.session, ctx.overleg_id)), ctx.redact_original()]


@command("privacy allow", nl="privacy toestaan", aliases=("privacy sta toe",))
@arg("word", _word, metavar="word")
def allow(ctx: Ctx, *, word: str) -> list[Outgoing]:
    """Take a forbidden word off the list."""
    removed = privacy.remove(ctx.session, ctx.overleg_id,
                             pii.word_hash(ctx.settings.ref_keys, word))
    if removed:
        audit_change(ctx, action="privacy.allow", subject="word")
    return [ctx.reply("privacy/allowed", removed=removed,
                      count=privacy.count(ctx.session, ctx.overleg_id)), ctx.redact_original()]


@command("privacy list", nl="privacy lijst")
def listing(ctx: Ctx) -> list[Outgoing]:
    """How many words are forbidden (the words themselves are not kept, so not shown)."""
    return [ctx.reply("privacy/list", count=privacy.count(ctx.session, ctx.overleg_id))]
