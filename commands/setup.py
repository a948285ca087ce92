"""``!setup``: turn this room into an overleg; the sender becomes its chair."""

from __future__ import annotations

from commands import action, parse
from commands.auditing import audit_change
from commands.registry import Ctx, Outgoing, arg, command
from storage import overlegs


@command("setup", nl="inrichten")
@arg("name", parse.name)
def setup(ctx: Ctx, *, name: str) -> list[Outgoing]:
    """Make this room an overleg named ``name``. When the bot may not remove others'
    messages here (``Ctx.redact_power``, Matrix power levels) while it is to remove
    messages with personal data (``Settings.redact_pii``), the reply says what is missing
    (``setup/no_redact_power``: the bot's level and the level needed; issue 23)."""
    if ctx.overleg is not None:
        return [ctx.refuse("setup/already", overleg=ctx.overleg.name)]
    overleg = overlegs.create(ctx.session, room_id=ctx.room, name=name,
                              timezone=ctx.settings.timezone, locale=ctx.settings.locale,
                              now=ctx.now)
    overleg.agenda_days_before = ctx.settings.agenda_days
    overleg.nudge_days_before = ctx.settings.nudge_days
    overlegs.save(ctx.session, overleg)
    assert overleg.id is not None
    overlegs.put_member(ctx.session, overleg_id=overleg.id, user_id=ctx.sender,
                        partner_id=None, role="chair", now=ctx.now)
    action.ensure_digest(ctx.session, overleg, ctx.now)
    audit_change(ctx, action="overleg.setup", subject=f"overleg {overleg.id}",
                 overleg_id=overleg.id, role="admin")
    out = [ctx.reply("setup/done", overleg=name, chair=ctx.sender)]
    if ctx.settings.redact_pii and ctx.redact_power is not None:
        have, need = ctx.redact_power
        if have < need:  # a refused message with personal data would stay visible
            out.append(ctx.reply("setup/no_redact_power", have=have, need=need))
    return out


def lost_redact_power(ctx: Ctx) -> list[Outgoing]:
    """The room's power levels were changed so that the bot may no longer remove others'
    messages (``Ctx.redact_power``: its level and the level needed): in an overleg whose
    messages with personal data are removed (``Settings.redact_pii``), the chairs are told
    at once (``setup/lost_redact_power``, mentioning them), before a refused message stays
    visible. Nothing elsewhere."""
    if ctx.overleg is None or ctx.overleg.id is None or not ctx.settings.redact_pii \
            or ctx.redact_power is None or ctx.redact_power[0] >= ctx.redact_power[1]:
        return []
    chairs = tuple(m.user_id for m in overlegs.members(ctx.session, ctx.overleg.id)
                   if m.role == "chair")
    have, need = ctx.redact_power
    audit_change(ctx, action="overleg.redact_power_lost", subject=f"{have}<{need}")
    return [Outgoing("setup/lost_redact_power",
                     {"chairs": ", ".join(chairs), "have": have, "need": need},
                     room=ctx.room, locale=ctx.locale, timezone=ctx.tz.key, mentions=chairs)]
