"""``!help [command]``: every command with its usage; words come from the help templates."""

from __future__ import annotations

from commands import parse
from commands.registry import Ctx, Outgoing, arg, command


@command("help", nl="hulp")
@arg("topic", parse.help_topic, required=False)
def help_(ctx: Ctx, *, topic: str | None) -> list[Outgoing]:
    """The list of commands, or the details of one (``!help meeting plan``)."""
    registry = ctx.registry
    assert registry is not None  # handle() always sets it
    if not topic:
        return [ctx.reply("help/index", usages=[c.usage() for c in registry.commands])]
    words = tuple(topic.split())
    exact = registry.verbs.get(words) or registry.verbs.get(words[:2])
    if exact is not None:
        return [ctx.reply("help/command", usages=[exact.usage(" ".join(words))])]
    group = registry.nouns.get(words[0])
    single = registry.verbs.get(words[:1])
    found = list(group or ()) + ([single] if single else [])
    if found:
        return [ctx.reply("help/command", usages=[c.usage() for c in found])]
    return [ctx.refuse("help/unknown_topic", given=topic[:40])]
