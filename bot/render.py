"""Rendering: Jinja2 templates per locale (HTML, autoescaped) and a plain-text body from them.

A template name ``meeting/planned`` is the block ``planned`` of ``<locale>/meeting.html``: the
words of one noun live together in one file per language. Dates go through Babel in the
overleg's time zone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from commands.fitting import MATRIX_MAX_BYTES
from commands.registry import Outgoing
from storage.outbox import Rendered

TEMPLATES = Path(__file__).parent / "templates"
LOCALES = ("nl", "en")


BREAK_BEFORE = frozenset({"p", "div", "ul", "ol", "table", "h1", "h2", "h3", "h4",
                          "blockquote", "pre"})
BREAK_AFTER = frozenset({"p", "div", "tr", "ul", "ol", "table", "h1", "h2", "h3", "h4",
                         "blockquote", "pre"})
_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>")


# Each tag becomes a marker (private-use characters); the text between them is unescaped and
# its whitespace collapsed in one pass each over the whole message, then the markers become
# line breaks, bullets, cell gaps or nothing. A marker also keeps the whitespace on its two
# sides apart, as a tag did. The plain tags of our templates are replaced as strings first
# (text in a message is escaped: "<" is only ever a tag), the rest through the tokenizer.
_NL, _BULLET, _CELL, _TAG = "\ue000", "\ue001", "\ue002", "\ue003"
_OPEN, _CLOSE, _INDENT = "\ue004", "\ue005", "\ue006"  # a list's start and end; a nesting step
_LISTS = re.compile(f"[{_OPEN}{_CLOSE}{_BULLET}]")
_RUNS = re.compile(r"\s{2,}|[^\S ]")  # what \s+ -> " " changes (single spaces stay)


def _marker(tag: str, end: bool) -> str:
    tag = tag.lower()
    if tag in ("ul", "ol"):
        return _CLOSE if end else _OPEN
    if end:
        return _NL if tag in BREAK_AFTER else _TAG
    if tag == "br":
        return _NL
    if tag == "li":
        return _BULLET
    if tag in BREAK_BEFORE:
        return _NL
    return _CELL if tag in ("td", "th") else _TAG


_PLAIN_TAGS = tuple((f"<{slash}{tag}>", _marker(tag, bool(slash)))
                    for tag in ("b", "i", "li", "ul", "ol", "p", "code", "br", "em", "strong")
                    for slash in ("", "/"))


def html_to_text(html: str) -> str:
    """The plain body of a rendered message: text kept, line breaks at block ends, list items
    bulleted (an item of a list inside a list indented by two spaces per level, with "◦").
    Not ``HTMLParser``: a fraction of the time (a list of 100 actions: 0.1 ms), and a sweep
    renders hundreds at once (a test checks both give the same text)."""
    for tag, marker in _PLAIN_TAGS:
        html = html.replace(tag, marker)
    if "<" in html:
        html = _TOKEN.sub(lambda m: _marker(m.group(2), bool(m.group(1))), html)
    text = _RUNS.sub(" ", unescape(html))
    if text.count(_OPEN) > 1:  # perhaps a list in a list: its items indented, with "◦"
        text = _nest(text)
    text = text.replace(_TAG, "").replace(_NL, "\n").replace(_BULLET, "\n• ").replace(
        _CELL, "  ").replace(_OPEN, "\n").replace(_CLOSE, "\n")
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line).replace(_INDENT, "  ")


def _nest(text: str) -> str:
    """The bullets of items in a nested list (depth 2 and more) as indented "◦"."""
    depth = 0

    def step(m: re.Match[str]) -> str:
        nonlocal depth
        mark = m.group()
        if mark == _OPEN:
            depth += 1
        elif mark == _CLOSE:
            depth = max(0, depth - 1)
        elif depth > 1:
            return "\n" + _INDENT * (depth - 1) + "◦ "
        return mark

    return _LISTS.sub(step, text)


@lru_cache(maxsize=4096)
def _date(day: date, form: str, locale: str) -> str:
    """Babel is exact but slow; a sweep shows the same few days hundreds of times."""
    return str(format_date(day, format=form, locale=locale))


@lru_cache(maxsize=4096)
def _moment(local: datetime, form: str, locale: str) -> str:
    if form == "HH:mm":
        return str(format_time(local, format=form, locale=locale))
    return str(format_datetime(local, format=form, locale=locale))


def from_iso(value: str | None) -> date | datetime | None:
    """An ISO 8601 moment or day as written in an export (``commands/casefile.py``), for the
    date filters; None stays None."""
    if value is None:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def pills(users: Iterable[str]) -> Markup:
    """The ``pills`` filter: each Matrix user ID as a pill (a link to it on matrix.to, the
    spec's form of a mention in ``formatted_body``, Client-Server API "User and room
    mentions"), comma-separated; the IDs escaped. A filter, not a template macro: a sweep
    renders it in most reminders, and a macro's call cost ~30 us of each."""
    return Markup(", ".join(pill(user) for user in users))


def pill(user: str) -> Markup:
    """The ``pill`` filter: one user ID as ``pills`` writes it."""
    shown = escape(user)
    return Markup(f'<a href="https://matrix.to/#/{shown}">{shown}</a>')


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja2's environment, with ``value.name`` on a plain dict (every template value is
    one) read as the item at once: Jinja tries the attribute first and falls back to the
    item after the miss (measured: a list of 60 actions rendered in 0.82 ms, 0.60 this
    way). Names of dict's own attributes (``d.items``) still go the usual way, so what a
    template means is the same."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")
_NEWLINE = re.compile(r"\s*\n\s*")


def _squash(html: str) -> str:
    """Template source newlines are layout, not content (a newline is a space in HTML)."""
    html = html.strip()
    if "\n" not in html:  # most blocks are one line of source
        return html
    return _NEWLINE.sub(" ", _BETWEEN_TAGS.sub("><", html))


class Renderer:
    """Renders ``Outgoing`` values into messages; one Jinja2 environment per locale.
    ``max_bytes``: the size one message may have on Matrix (commands/fitting.py)."""

    max_bytes = MATRIX_MAX_BYTES

    def __init__(self, prefix: str = "!", default_locale: str = "nl",
                 default_timezone: str = "Europe/Amsterdam", guide_url: str = "",
                 platform: str = "matrix") -> None:
        self.prefix = prefix
        self.platform = platform
        self.guide_url = guide_url
        self.default_locale = default_locale
        self.default_timezone = default_timezone
        self.envs = {loc: self._env(loc) for loc in LOCALES}

    def _env(self, locale: str) -> Environment:
        env = _Environment(
            loader=FileSystemLoader([TEMPLATES / locale, TEMPLATES / "common"]),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates ship with the release: no stat() per message
        )
        env.globals["prefix"] = self.prefix
        env.globals["guide_url"] = self.guide_url
        env.globals["locale"] = locale
        env.globals["platform"] = self.platform
        # Where an overleg lives (its words are in _macros.html): a Matrix room, a Teams
        # channel; the Teams renderer says "chat" per message where it is one.
        env.globals["room_kind"] = "channel" if self.platform == "teams" else "room"

        def _local_day(ctx: Context, value: date) -> date:
            # A datetime is a moment (shown in the overleg's zone); a date is already local.
            return value.astimezone(_tz(ctx)).date() if isinstance(value, datetime) else value

        @pass_context
        def date_long(ctx: Context, value: date) -> str:
            return _date(_local_day(ctx, value), "full", locale)

        @pass_context
        def date_short(ctx: Context, value: date) -> str:
            return _date(_local_day(ctx, value), "medium", locale)

        @pass_context
        def time_hm(ctx: Context, value: datetime) -> str:
            return _moment(value.astimezone(_tz(ctx)), "HH:mm", locale)

        @pass_context
        def time_hms(ctx: Context, value: datetime) -> str:
            return _moment(value.astimezone(_tz(ctx)), "HH:mm:ss", locale)

        @pass_context
        def datetime_long(ctx: Context, value: datetime) -> str:
            return _moment(value.astimezone(_tz(ctx)), "EEEE d MMMM y HH:mm", locale)

        def _tz(ctx: Context) -> ZoneInfo:
            return ZoneInfo(str(ctx.get("timezone") or self.default_timezone))

        env.filters.update(date_long=date_long, date_short=date_short, time_hm=time_hm,
                           time_hms=time_hms, datetime_long=datetime_long, pills=pills,
                           pill=pill)
        env.globals["timedelta_minutes"] = lambda n: timedelta(minutes=int(n))
        env.globals["from_iso"] = from_iso
        env.globals["m"] = env.get_template("_macros.html").make_module({})
        return env

    def html(self, template: str, values: Mapping[str, Any], locale: str | None = None,
             timezone: str | None = None) -> str:
        """The HTML of block ``name`` of ``<noun>.html``, e.g. ``meeting/planned``."""
        env = self.envs.get(locale or self.default_locale, self.envs[self.default_locale])
        noun, _, block = template.partition("/")
        tmpl = env.get_template(f"{noun}.html")
        if block not in tmpl.blocks:
            raise KeyError(f"no template block {template!r}")
        context = tmpl.new_context({**values, "timezone": timezone or self.default_timezone})
        html = "".join(tmpl.blocks[block](context))
        if int(values.get("parts", 1)) > 1:  # one of several parts (commands/fitting.py)
            macros: Any = env.globals["m"]
            html = str(macros.part(values["part"], values["parts"])) + html
        return _squash(html)

    def __call__(self, out: Outgoing, room: str) -> Rendered:
        return replace(self._rendered(out, room), template=out.template)

    def _rendered(self, out: Outgoing, room: str) -> Rendered:
        html = self.html(out.template, out.values, out.locale, out.timezone)
        body = html_to_text(html)
        target = out.room or room
        kind = (out.extra or {}).get("kind")
        if kind == "poll":
            return Rendered(room_id=target, body=body, html=None, event_type="m.poll.start",
                            content_json=json.dumps(self._poll(out, body)), ref=out.ref)
        if kind == "redact":
            content = {"redacts": str((out.extra or {})["event_id"]), "reason": body}
            return Rendered(room_id=target, body=body, html=None,
                            event_type="m.room.redaction", content_json=json.dumps(content))
        if kind == "ics":
            return Rendered(room_id=target, body=body, html=None, msgtype="m.file",
                            attachment=self._ics(out), ref=out.ref,
                            attachment_name=str((out.extra or {})["filename"]))
        return Rendered(room_id=target, body=body, html=html, mentions=out.mentions,
                        ref=out.ref)

    def _text(self, out: Outgoing, template: str) -> str:
        return html_to_text(self.html(template, out.values, out.locale, out.timezone))

    def _poll(self, out: Outgoing, question: str) -> dict[str, Any]:
        """A single-choice poll in the stable (MSC3381) shape with the unstable fallback."""
        answers = [(aid, self._text(out, tmpl))
                   for aid, tmpl in dict((out.extra or {})["answers"]).items()]
        fallback = question + "".join(f"\n{i}. {label}"
                                      for i, (_, label) in enumerate(answers, 1))
        return {
            "m.poll.start": {
                "question": {"m.text": question}, "kind": "m.poll.disclosed",
                "max_selections": 1,
                "answers": [{"id": aid, "m.text": label} for aid, label in answers]},
            "m.text": fallback,
            "org.matrix.msc3381.poll.start": {
                "question": {"org.matrix.msc1767.text": question},
                "kind": "org.matrix.msc3381.poll.disclosed", "max_selections": 1,
                "answers": [{"id": aid, "org.matrix.msc1767.text": label}
                            for aid, label in answers]},
            "org.matrix.msc1767.text": fallback,
            "body": fallback,
        }

    def _ics(self, out: Outgoing) -> str:
        """An iCalendar invitation whose description holds only the meeting ID."""
        extra = dict(out.extra or {})
        import icalendar  # only agendas carry an .ics: not paid at start-up

        cal = icalendar.Calendar()
        cal.add("prodid", "-//casusbot//casusoverleg//NL")
        cal.add("version", "2.0")
        cal.add("method", "PUBLISH")
        if "series" in extra:
            return self._series_ics(out, cal, extra)
        cal.add_component(_vevent(
            str(extra["uid"]), extra.get("stamp") or extra["start"], extra["start"],
            extra["end"], self._text(out, str(extra["summary"])),
            self._text(out, str(extra["description"])), extra.get("place")))
        return bytes(cal.to_ical()).decode()

    def _series_ics(self, out: Outgoing, cal: Any, extra: dict[str, Any]) -> str:
        """A meeting series (``commands.series.calendar``): one VEVENT with RRULE and
        EXDATEs, a VEVENT with the same UID and a RECURRENCE-ID for each shifted or moved
        meeting (RFC 5545, 3.8.4.4), the time zone's VTIMEZONE, and a VEVENT of its own
        for a meeting whose moment is no longer the rule's."""
        import icalendar

        series = dict(extra["series"])
        summary = self._text(out, str(extra["summary"]))
        description = self._text(out, str(extra["description"]))
        stamp = extra.get("stamp") or series["start"]

        def event(uid: str, start: Any, end: Any, place: str | None) -> Any:
            return _vevent(uid, stamp, start, end, summary, description, place)

        main = event(str(series["uid"]), series["start"], series["end"], series["place"])
        main.add("rrule", icalendar.vRecur.from_ical(str(series["rrule"])))
        if series["exdates"]:
            main.add("exdate", list(series["exdates"]))
        cal.add_component(main)
        for o in series["overrides"]:
            ev = event(str(series["uid"]), o["start"], o["end"], o["place"])
            ev.add("recurrence-id", o["recurrence_id"])
            cal.add_component(ev)
        for o in series["singles"]:
            cal.add_component(event(str(o["uid"]), o["start"], o["end"], o["place"]))
        cal.add_missing_timezones()
        return bytes(cal.to_ical()).decode()

    def document(self, name: str, values: Mapping[str, Any], locale: str | None = None,
                 timezone: str | None = None) -> str:
        """A whole HTML document, ``<locale>/documents/<name>.html`` (not a message: no
        blocks, no squashing), e.g. ``casefile``: the export of ``casusbot case export``."""
        env = self.envs.get(locale or self.default_locale, self.envs[self.default_locale])
        return env.get_template(f"documents/{name}.html").render(
            {**values, "timezone": timezone or self.default_timezone})

    def has(self, template: str, locale: str) -> bool:
        noun, _, block = template.partition("/")
        try:
            return block in self.envs[locale].get_template(f"{noun}.html").blocks
        except Exception:
            return False


def _vevent(uid: str, stamp: Any, start: Any, end: Any, summary: str, description: str,
            place: str | None) -> Any:
    """One VEVENT of a meeting (RFC 5545): its UID, times, the summary and description
    (IDs only) and its place, if any."""
    import icalendar

    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("description", description)
    if place:
        event.add("location", str(place))
    return event
