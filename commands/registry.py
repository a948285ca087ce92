"""The command core: declarations, the contexts, and ``run``.

A command is a plain function declared with ``@command`` and ``@arg``; a rule of timed work
a plain function declared with ``@timer`` (and work for every sweep with ``@upkeep``), each
in the module of its noun. ``build`` turns the declarations into an immutable table; ``run``
parses one line and applies it. Nothing here awaits, sleeps, reads the clock or touches the
network: the caller passes ``now`` and an open database session in ``Ctx`` (a command) or
``Batch`` (a sweep) and sends whatever ``Outgoing`` values come back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from types import ModuleType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session, col

from commands import pii
from storage import actions, overlegs, presence, privacy
from storage.models import Action, Member, Overleg
from storage.outbox import Rendered
from storage.timers import Due, Plan


@dataclass(frozen=True)
class Settings:
    """What the core needs from the deployment's configuration."""

    prefix: str = "!"
    admins: frozenset[str] = frozenset()
    timezone: str = "Europe/Amsterdam"
    locale: str = "nl"
    ref_key: bytes = b""  # the current key for keyed hashes of references
    previous_ref_keys: tuple[bytes, ...] = ()  # older keys, oldest first (after a rekey)
    require_e2ee: bool = True  # refuse commands in rooms without end-to-end encryption
    redact_pii: bool = True  # redact a message the PII guard refused, where we may
    agenda_days: int = 5  # defaults for a new overleg; each overleg can change its own
    nudge_days: int = 2
    platform: str = "matrix"  # matrix | teams: which user IDs a command accepts

    @property
    def ref_keys(self) -> tuple[bytes, ...]:
        return (*self.previous_ref_keys, self.ref_key)


@dataclass(frozen=True)
class Outgoing:
    """A message to send: a template name and its values; ``room`` None means "reply here"."""

    template: str
    values: Mapping[str, Any] = field(default_factory=dict)
    room: str | None = None  # a room ID, or a user ID for a direct message
    locale: str | None = None
    timezone: str | None = None
    mentions: tuple[str, ...] = ()
    ref: str | None = None  # links the sent message back to the domain (answers by reaction)
    extra: Mapping[str, Any] | None = None  # poll content, attachments: see bot/render.py
    pages_over: str | tuple[str, str] | None = None  # the list split when too large
    # (commands/fitting.py): a value's name, or (groups, items) for a list of groups


class ParseError(Exception):
    """User input that does not fit, or a thing it names that is not there (raised by a
    parser or a command before it changes anything); ``run`` turns it into the reply from
    ``template`` with ``values`` and the command's usage."""

    def __init__(self, template: str, **values: Any) -> None:
        super().__init__(template)
        self.template = template
        self.values = values


class PersonalData(ParseError):
    """A free-text argument holds a direct identifier (``commands.pii``): the command is
    refused, the message is redacted and nothing is stored (docs/privacy.md).
    ``what`` names the argument (description, place...); the findings give kinds only."""

    def __init__(self, what: str | None, findings: list[pii.Finding]) -> None:
        super().__init__("error/pii", what=what, kind=findings[0].kind,
                         kinds=[f.kind for f in findings],
                         masked=next((f.masked for f in findings if f.masked), ""))


class Absent(Exception):
    """An optional argument is not there; the parser consumed nothing."""


@dataclass(frozen=True)
class Ctx:
    """Everything a command may use: no clock, no network, no globals."""

    room: str
    sender: str
    now: datetime
    session: Session
    settings: Settings
    overleg: Overleg | None = None
    member: Member | None = None
    registry: Registry | None = None  # set by run(), for !help
    event_id: str = ""  # the inbound event being handled (to redact it, say)
    said_at: datetime | None = None  # when the sender spoke (the event's server time)
    # (the bot's power level, the level needed to remove others' messages) in this room;
    # None: not known (Teams, tests)
    redact_power: tuple[int, int] | None = None

    @property
    def spoken(self) -> datetime:
        """When the sender spoke: what deadlines are judged by (an answer given before a
        meeting's start counts, however late the bot handles it). ``now`` is the handling
        time: what is stored as done, and whether a new date lies in the past."""
        return self.said_at or self.now

    @property
    def overleg_id(self) -> int:
        assert self.overleg is not None and self.overleg.id is not None
        return self.overleg.id

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.overleg.timezone if self.overleg else self.settings.timezone)

    @property
    def locale(self) -> str:
        return self.overleg.locale if self.overleg else self.settings.locale

    def reply(self, template: str, pages_over: str | tuple[str, str] | None = None,
              **values: Any) -> Outgoing:
        return Outgoing(template, values, room=self.room, locale=self.locale,
                        timezone=self.tz.key, pages_over=pages_over)

    def refuse(self, template: str, **values: Any) -> Outgoing:
        """A reply saying no. What the sender typed (``given``) is quoted back only
        if it passes the PII guard; otherwise "…" stands in its place (docs/privacy.md, "What
        casusbot never stores or sends": a refusal never carries an identifier into the
        room or the outbox)."""
        if isinstance(values.get("given"), str):
            given = values["given"]
            if template == "error/unexpected" and not _keyword_like(given):
                # Left over after the arguments: free text that may hold what the guard
                # cannot see in a fragment ("van den Berg" after a first name).
                given = "…"
            values["given"] = self.echo(given)
        return self.reply(template, **values)

    def echo(self, typed: str) -> str:
        """``typed`` if it may be quoted back (no identifier found in it), else "…"."""
        return typed if not pii.scan_all(typed, self.guard) else "…"

    @cached_property
    def guard(self) -> pii.Guard:
        """The PII guard of this overleg (its forbidden words, its organisations' names);
        read from the database once per command, when free text is first checked."""
        overleg_id = self.overleg.id if self.overleg else None
        return pii.Guard(
            key=self.settings.ref_keys,
            forbidden=privacy.hashes(self.session, overleg_id) if overleg_id else frozenset(),
            organisations=privacy.organisation_names(self.session, overleg_id))

    def check(self, value: str, what: str, names: str = "all") -> str:
        """``value`` unchanged if the PII guard finds nothing in it; else PersonalData."""
        if found := pii.scan_all(value, self.guard, names=names):
            raise PersonalData(what, found)
        return value

    def redact_original(self) -> Outgoing:
        """Remove the message being handled (it named a person) from the room."""
        return Outgoing("privacy/redaction_reason", {}, room=self.room, locale=self.locale,
                        extra={"kind": "redact", "event_id": self.event_id})

    def refuse_personal_data(self, e: PersonalData) -> list[Outgoing]:
        """The refusal of a message with personal data, and its redaction where allowed."""
        out = [self.reply(e.template, **e.values)]
        return [*out, self.redact_original()] if self.settings.redact_pii else out


def _keyword_like(text: str) -> bool:
    """One short word in lower case (a mistyped choice or sub-command), or a word with a
    digit in it (a mistyped ID or date): what may be quoted back of text left over."""
    return (len(text) <= 30 and " " not in text.strip()
            and (text.islower() or any(c.isdigit() for c in text)))


@dataclass(frozen=True)
class Outcome:
    """What handling an event or a sweep did: the messages it enqueued, and when the earliest
    pending timer is due afterwards (the runtime's waker is set to it)."""

    replies: list[Rendered]
    next_due: datetime | None = None


@dataclass(frozen=True)
class Roster:
    """Who is told what in one overleg: read once per overleg in a sweep."""

    partner_names: dict[int, str]
    owners: dict[int, list[str]]  # partner id -> its members' user IDs
    coordinators: list[str]
    chairs: list[str]


@dataclass
class Batch:
    """One sweep's claimed timers and what their rules read, each read once for the batch:
    the overleggen, each overleg's roster, the actions the timers are about; and the next
    timers the rules plan (``plan``), written together when the batch is done."""

    session: Session
    now: datetime
    claimed: list[Due]
    overlegs: dict[int, Overleg]
    planned: list[Plan] = field(default_factory=list)  # next timers, written after the batch
    _rosters: dict[int, Roster] = field(default_factory=dict)
    _actions: dict[int, tuple[Action, str]] | None = None
    _clearances: dict[int, presence.Clearance] = field(default_factory=dict)

    def plan(self, due: Due, at: datetime, kind: str | None = None) -> None:
        """Plan the next timer of ``due``'s subject (its kind, or ``kind``) at ``at``."""
        self.planned.append(Plan(due.overleg_id, kind or due.kind, due.subject_id, at))

    def roster(self, overleg: Overleg) -> Roster:
        key = overleg.id or 0
        if key not in self._rosters:
            members = overlegs.members(self.session, key)
            owners: dict[int, list[str]] = {}
            for m in members:
                if m.partner_id is not None:
                    owners.setdefault(m.partner_id, []).append(m.user_id)
            self._rosters[key] = Roster(
                partner_names=overlegs.partner_names(self.session, key), owners=owners,
                coordinators=[m.user_id for m in members if m.role == "coordinator"],
                chairs=[m.user_id for m in members if m.role == "chair"])
        return self._rosters[key]

    def clearance(self, overleg: Overleg) -> presence.Clearance:
        """Who may get direct messages about which of the overleg's cases (issue 24: not
        who did not confirm presence at the last meeting that discussed it); read once per
        overleg in a sweep."""
        key = overleg.id or 0
        if key not in self._clearances:
            self._clearances[key] = presence.clearance(self.session, key, self.now)
        return self._clearances[key]

    def late(self, due: Due) -> bool:
        """Whether ``due`` is handled late (the bot was down): messages then say so."""
        return self.now - due.due_at > LATE_AFTER

    def action(self, action_id: int) -> tuple[Action, str] | None:
        """An action the batch's timers are about (with its case's code): the actions of
        every ``action.*`` timer claimed are read with one query on first use."""
        if self._actions is None:
            ids = {t.subject_id for t in self.claimed if t.kind.startswith("action.")}
            self._actions = {a.id or 0: (a, code) for a, code in actions.with_case_codes(
                self.session, col(Action.id).in_(ids))} if ids else {}
        return self._actions.get(action_id)


LATE_AFTER = timedelta(minutes=15)
TimerRule = Callable[[Batch, Overleg, Due], list[Outgoing]]
"""The rule of one kind of timer: the messages a due timer makes (it may plan the next)."""
Upkeep = Callable[[Session, datetime], None]
"""Work every sweep does first (keeping the digest planned, the retention purge)."""


def timer(*kinds: str) -> Callable[[TimerRule], TimerRule]:
    """Declare ``func`` as the rule of the timer ``kinds`` (e.g. ``"action.overdue"``)."""

    def attach(func: TimerRule) -> TimerRule:
        func.__casus_timer__ = kinds  # type: ignore[attr-defined]
        return func

    return attach


def upkeep(func: Upkeep) -> Upkeep:
    """Declare ``func`` as work every sweep does before it claims timers."""
    func.__casus_upkeep__ = True  # type: ignore[attr-defined]
    return func


Render = Callable[[Outgoing, str], "Rendered | None"]
"""Turns an ``Outgoing`` into the exact message to send to the given default room; None when
the platform has no form for it (Teams has no polls: its agenda card carries the buttons)."""


def render_all(render: Render, messages: Iterable[Outgoing], room: str) -> list[Rendered]:
    """Each message rendered (``room`` where it names none), skipping those without a form;
    one too large for the platform split into parts, or told (commands/fitting.py)."""
    from commands.fitting import fit

    return [r for m in messages for r in fit(render, m, room)]

Handler = Callable[..., list[Outgoing]]
H = TypeVar("H", bound=Handler)
Parser = Callable[[str, Ctx], tuple[Any, str]]


LOCALES = ("nl", "en")
"""The languages of an overleg: every word a command shows exists in each."""


@dataclass(frozen=True)
class Choice:
    """One value of a choice argument (``partner add``'s kind, say): the word shown in each
    locale, other words accepted for it, all matched case-insensitively. The help
    templates explain each value (``m.explain``)."""

    value: str  # what the command receives, e.g. "core"
    nl: str  # the Dutch word shown in a Dutch overleg, e.g. "kern"
    en: str  # the English word shown in an English overleg, e.g. "core"
    also: tuple[str, ...] = ()

    def words(self) -> tuple[str, ...]:
        return (self.nl, self.en, *self.also)

    def shown(self) -> dict[str, str]:
        """Plain values for the templates: the value and its word per locale."""
        return {"value": self.value, "nl": self.nl, "en": self.en}


def choose(choices: Iterable[Choice], word: str) -> str | None:
    """The value ``word`` names among ``choices`` (any locale's word or alias), else None."""
    low = word.casefold()
    return next((c.value for c in choices if low in (w.casefold() for w in c.words())), None)


def choice(*choices: Choice, optional: bool = False) -> Parser:
    """A parser of one word out of ``choices``. An optional choice whose word is not one of
    them is absent (the next argument reads it); otherwise it is ``error/bad_choice`` with the
    choices in the overleg's language. The choices travel with the parser, so the usage line
    shows them (``CommandSpec.usage``)."""

    def parse_choice(text: str, ctx: Ctx) -> tuple[str, str]:
        parts = text.split(maxsplit=1)
        word, rest = (parts[0], parts[1] if len(parts) > 1 else "") if parts else ("", "")
        value = choose(choices, word)
        if value is not None:
            return value, rest
        if optional:
            raise Absent
        raise ParseError("error/bad_choice", choices=[c.shown() for c in choices])

    parse_choice.__casus_choices__ = choices  # type: ignore[attr-defined]
    return parse_choice


@dataclass(frozen=True)
class ArgSpec:
    name: str
    parser: Parser
    required: bool
    metavar: str  # a key the help templates translate, e.g. "date"

    @property
    def choices(self) -> tuple[Choice, ...]:
        return getattr(self.parser, "__casus_choices__", ())


@dataclass(frozen=True)
class CommandSpec:
    key: str  # canonical words, e.g. "meeting plan"
    aliases: tuple[str, ...]
    args: tuple[ArgSpec, ...]
    func: Handler
    names: Mapping[str, str] = field(default_factory=dict)  # locale -> its words, shown

    @property
    def noun(self) -> str:
        return self.key.split()[0]

    def name(self, locale: str) -> str:
        """The command's words in ``locale`` (what help and usage lines show there)."""
        return self.names.get(locale, self.key)

    def usage(self, verb: str | None = None) -> dict[str, Any]:
        """Plain values for the usage macro in the templates: the command's words per locale
        (``names``), and per argument its metavar, whether it is required and its choices.
        ``verb`` is what the sender typed (kept for logs; usage lines show ``names``)."""
        return {"verb": verb or self.key, "key": self.key,
                "names": {loc: self.name(loc) for loc in LOCALES},
                "args": [{"metavar": a.metavar, "required": a.required,
                          "choices": [c.shown() for c in a.choices]} for a in self.args]}


def command(key: str, *, nl: str, en: str | None = None,
            aliases: Iterable[str] = ()) -> Callable[[H], H]:
    """Declare ``func`` as the command ``key`` (words after the prefix).

    ``nl`` and ``en`` (default ``key``) are the words shown in a Dutch and an English
    overleg; both are accepted everywhere, as are ``aliases`` (never shown). Who may run it
    is not declared here but in the one policy table, ``commands.policy``.
    """

    def attach(func: H) -> H:
        names = {"nl": nl, "en": en or key}
        func.__casus_command__ = (key, tuple(aliases), names)  # type: ignore[attr-defined]
        return func

    return attach


def arg(name: str, parser: Parser, *, required: bool = True,
        metavar: str | None = None) -> Callable[[H], H]:
    """Declare the next argument of a command; decorators apply bottom-up, so we prepend."""

    def attach(func: H) -> H:
        spec = ArgSpec(name, parser, required, metavar or name)
        existing: tuple[ArgSpec, ...] = getattr(func, "__casus_args__", ())
        func.__casus_args__ = (spec, *existing)  # type: ignore[attr-defined]
        return func

    return attach


@dataclass(frozen=True)
class Registry:
    commands: tuple[CommandSpec, ...]
    verbs: Mapping[tuple[str, ...], CommandSpec]  # every key and alias, split into words
    nouns: Mapping[str, tuple[CommandSpec, ...]]  # first word (key or alias) -> its commands
    refuse: Callable[[str, Ctx], str | None]  # the policy: None, or the refusal's template
    timers: Mapping[str, TimerRule] = field(default_factory=dict)  # timer kind -> its rule
    upkeep: tuple[Upkeep, ...] = ()

    def get(self, key: str) -> CommandSpec | None:
        return self.verbs.get(tuple(key.split()))

    def resolve(self, text: str, prefix: str) -> str | None:
        """The canonical key of the command ``text`` invokes, if any (safe to log)."""
        spec, _ = self._command(text, prefix)
        return spec.key if spec else None

    def typed_verb(self, text: str, prefix: str) -> str | None:
        """The command's words as the sender typed them (``actie add``), if ``text`` is a
        command: words of the registry's own vocabulary, never what was typed after them."""
        spec, used = self._command(text, prefix)
        return " ".join(used) if spec else None

    def arguments(self, text: str, prefix: str) -> str | None:
        """What was typed after the command's words (``""``: nothing, so the line is only
        the prefix and words of the registry's own vocabulary); None if no command."""
        spec, used = self._command(text, prefix)
        if spec is None:
            return None
        body = text.strip()[len(prefix):]
        return _split_words(body, len(used))[1]

    def _command(self, text: str, prefix: str) -> tuple[CommandSpec | None, list[str]]:
        """The command ``text`` invokes and the words that named it."""
        body = text.strip()[len(prefix):] if text.strip().startswith(prefix) else ""
        words = body.split()
        spec, n = _find(self, words)
        return spec, words[:n]


def build(modules: Iterable[ModuleType],
          refuse: Callable[[str, Ctx], str | None]) -> Registry:
    """Collect the commands of ``modules``; fail on a duplicate verb or alias.

    ``refuse`` is the access policy; a command it does not know is refused.
    """
    specs: list[CommandSpec] = []
    timers: dict[str, TimerRule] = {}
    upkeeps: list[Upkeep] = []
    for module in modules:
        for value in vars(module).values():
            if getattr(value, "__module__", None) != module.__name__:
                continue
            for kind in getattr(value, "__casus_timer__", ()):
                if kind in timers:
                    raise ValueError(f"two rules for timer {kind!r}")
                timers[kind] = value
            if getattr(value, "__casus_upkeep__", False):
                upkeeps.append(value)
            decl = getattr(value, "__casus_command__", None)
            if decl is None:
                continue
            key, aliases, names = decl
            specs.append(CommandSpec(key, aliases, getattr(value, "__casus_args__", ()), value,
                                     names))
    verbs: dict[tuple[str, ...], CommandSpec] = {}
    nouns: dict[str, list[CommandSpec]] = {}
    for spec in specs:
        shown = (spec.key, *spec.names.values())
        for verb in dict.fromkeys((*shown, *spec.aliases)):
            words = tuple(verb.casefold().split())
            if words in verbs:
                raise ValueError(f"duplicate command verb {verb!r}")
            verbs[words] = spec
            # A noun's group (help, "!overleg ?") holds the commands named with it; an alias
            # ("overleg instellingen" for "instellingen") is accepted, not listed there.
            if len(words) > 1 and verb in shown and spec not in nouns.setdefault(words[0], []):
                nouns[words[0]].append(spec)
    return Registry(tuple(specs), verbs, {k: tuple(v) for k, v in nouns.items()}, refuse,
                    timers, tuple(upkeeps))


def _find(registry: Registry, words: list[str]) -> tuple[CommandSpec | None, int]:
    """The command ``words`` start with, and how many words named it: the longest match of
    three words (``meeting series stop``), two, then one."""
    folded = [w.casefold() for w in words[:3]]
    for n in (3, 2, 1):
        spec = registry.verbs.get(tuple(folded[:n])) if len(folded) >= n else None
        if spec is not None:
            return spec, n
    return None, 0


def _split_words(text: str, n: int) -> tuple[list[str], str]:
    parts = text.split(maxsplit=n)
    return parts[:n], (parts[n] if len(parts) > n else "")


def run(registry: Registry, ctx: Ctx, text: str) -> list[Outgoing]:
    """Parse one line and apply it. Sends nothing; user input never makes it raise."""
    ctx = replace(ctx, registry=registry)
    prefix = ctx.settings.prefix
    stripped = text.strip()
    if not stripped.startswith(prefix):
        return []
    body = stripped[len(prefix):]
    words = body.split()
    if not words:
        return []
    spec, n = _find(registry, words)
    if spec is None:
        noun = words[0].casefold()
        if noun in registry.nouns:
            return [ctx.refuse("error/unknown_subcommand", noun=words[0],
                              given=words[1] if len(words) > 1 else "",
                              usages=[s.usage() for s in registry.nouns[noun]])]
        return [ctx.refuse("error/unknown_command", given=words[0][:40])]
    used, rest = _split_words(body, n)
    verb = " ".join(w.casefold() for w in used)
    refusal = registry.refuse(spec.key, ctx)
    if refusal is not None:
        # The sender's own ID, so a new administrator can find what to configure.
        return [ctx.refuse(refusal, usage=spec.usage(verb), sender=ctx.sender)]
    values: dict[str, Any] = {}
    for a in spec.args:
        rest = rest.strip()
        try:
            if not rest:
                if a.required:
                    raise ParseError("error/missing_arg", metavar=a.metavar)
                values[a.name] = None
                continue
            values[a.name], rest = a.parser(rest, ctx)
        except PersonalData as e:
            return ctx.refuse_personal_data(e)
        except Absent:
            if a.required:
                return [ctx.refuse("error/missing_arg", metavar=a.metavar,
                                   usage=spec.usage(verb))]
            values[a.name] = None
        except ParseError as e:  # names the argument being read, unless it named another
            return [ctx.refuse(e.template, **({"metavar": a.metavar} | e.values),
                               usage=spec.usage(verb))]
    if rest.strip():
        return [ctx.refuse("error/unexpected", given=rest.strip()[:60], usage=spec.usage(verb))]
    try:
        return spec.func(ctx, **values)
    except PersonalData as e:
        return ctx.refuse_personal_data(e)
    except ParseError as e:  # a value the command itself found wrong, before changing anything
        return [ctx.refuse(e.template, **e.values, usage=spec.usage(verb))]
