"""Templates exist in both languages, HTML is escaped, datetimes stay aware on SQLite."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlmodel import Session, SQLModel, select

from bot.render import LOCALES, Renderer, html_to_text
from commands.registry import Outgoing
from storage import meetings, overlegs
from storage.models import Meeting
from storage.types import UTCDateTime

ROOT = Path(__file__).parents[2]


def _used_templates() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "commands").glob("*.py"):
        nouns = ("error|setup|partner|member|meeting|case|help|action|agenda|privacy|settings"
                 "|covenant")
        names |= set(re.findall(rf'"((?:{nouns})/[a-z_]+)"', path.read_text()))
    return names


def test_every_template_used_in_code_exists_in_every_locale() -> None:
    r = Renderer()
    used = _used_templates()
    assert len(used) > 30
    for locale in LOCALES:
        missing = sorted(t for t in used if not r.has(t, locale))
        assert not missing, (locale, missing)


def test_both_locales_have_the_same_blocks() -> None:
    r = Renderer()
    for path in (ROOT / "bot/templates/nl").glob("[!_]*.html"):
        nl = set(r.envs["nl"].get_template(path.name).blocks)
        en = set(r.envs["en"].get_template(path.name).blocks)
        assert nl == en, path.name


def test_html_is_escaped_and_plain_text_is_unescaped() -> None:
    out = Renderer()(Outgoing("partner/added", {"partner": "<script>x</script> & co",
                                                "kind": "core"}), "!r:x")
    assert "<script>" not in (out.html or "")
    assert "&lt;script&gt;" in (out.html or "")
    assert out.template == "partner/added"
    assert "<script>x</script> & co" in out.body


def test_html_to_text_lists() -> None:
    assert html_to_text("Kop:<ul><li>een</li><li>twee</li></ul>Eind") == "Kop:\n• een\n• twee\nEind"


def test_no_bare_datetime_columns() -> None:
    for table in SQLModel.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, DateTime):
                pytest.fail(f"{table.name}.{column.name} is a bare DateTime; use UTCDateTime")
            assert not isinstance(column.type, DateTime) or isinstance(column.type, UTCDateTime)


def test_aware_datetimes_round_trip_as_utc(session: Session) -> None:
    cet = timezone(timedelta(hours=1))
    o = overlegs.create(session, room_id="!r:x", name="x", timezone="Europe/Amsterdam",
                        locale="nl", now=datetime(2026, 12, 1, tzinfo=UTC))
    meetings.add(session, overleg_id=o.id or 0, starts_at=datetime(2026, 12, 8, 14, tzinfo=cet),
                 minutes=60, place=None, now=datetime(2026, 12, 1, tzinfo=UTC))
    session.expire_all()
    [m] = session.exec(select(Meeting)).all()
    assert m.starts_at == datetime(2026, 12, 8, 13, tzinfo=UTC)
    assert m.starts_at.tzinfo is not None


def test_naive_datetimes_are_refused(session: Session) -> None:
    with pytest.raises(Exception, match="naive"):
        overlegs.create(session, room_id="!r:x", name="x", timezone="Europe/Amsterdam",
                        locale="nl", now=datetime(2026, 12, 1))


@given(st.datetimes(timezones=st.timezones()))
def test_the_fast_sqlite_binding_stores_what_sqlalchemy_would(value: datetime) -> None:
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    reference = DateTime().dialect_impl(dialect).bind_processor(dialect)
    fast = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert reference is not None and fast is not None
    try:
        expected = reference(value.astimezone(UTC).replace(tzinfo=None))
    except OverflowError:  # outside what a UTC datetime can hold: refused alike
        with pytest.raises(OverflowError):
            fast(value)
        return
    assert fast(value) == expected
    assert fast(None) is None


_PIECES = st.sampled_from(["<b>", "</b>", "<p>", "</p>", "<br>", "<li>", "</li>", "<ul>",
                           "</ul>", "<ol>", "</ol>", "<td>", "<tr>", "</tr>", "<code>",
                           "</code>", '<a href="x">', "</a>", "<h2>", "</h2>", "&amp;",
                           "&lt;", "&nbsp;", "\n", "  ", "tekst", "C-7K2FJ", " ", "a < b",
                           "•", "é", "<div>", "</div>", "<pre>", "</pre>"])


class _Reference(HTMLParser):
    """The plain-body conversion as it was first written, on HTMLParser: the oracle."""

    BREAK_BEFORE = frozenset({"p", "div", "ul", "ol", "table", "h1", "h2", "h3", "h4",
                              "blockquote", "pre"})
    BREAK_AFTER = frozenset({"p", "div", "tr", "ul", "ol", "table", "h1", "h2", "h3", "h4",
                             "blockquote", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.depth = 0  # lists open around here

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("ul", "ol"):
            self.depth += 1
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n" + "\0" * (self.depth - 1) + "◦ " if self.depth > 1
                              else "\n• ")
        elif tag in self.BREAK_BEFORE:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("  ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol"):
            self.depth = max(0, self.depth - 1)
        if tag in self.BREAK_AFTER:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = [line.strip() for line in "".join(self.parts).split("\n")]
        return "\n".join(line for line in lines if line).replace("\0", "  ")



@given(st.lists(_PIECES, max_size=40))
def test_the_fast_plain_text_equals_the_reference_parser(pieces: list[str]) -> None:
    from bot.render import html_to_text

    html = "".join(pieces)
    reference = _Reference()
    reference.feed(html)
    reference.close()
    assert html_to_text(html) == reference.text()


def test_a_refused_removal_stops_counting_once_one_in_that_room_worked() -> None:
    """`casusbot doctor`'s refused sends: a removal refused for want of power (403) is
    gone from the count once a later removal in that room was taken; another room's, and
    other kinds of refusals, still count."""
    from storage import outbox
    from storage.db import create_schema, make_engine, session_scope
    from storage.models import OutboxMessage
    from storage.outbox import Rendered

    engine = make_engine("sqlite://")
    create_schema(engine)
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    removal = "privacy/redaction_reason"
    with session_scope(engine) as session:
        outbox.enqueue(session, [Rendered("!a:x", "", None, template=removal),
                                 Rendered("!b:x", "", None, template=removal),
                                 Rendered("!a:x", "big", None, template="case/list"),
                                 Rendered("!a:x", "", None, template=removal)], now)
        ids = [r.id for r in session.exec(select(OutboxMessage).order_by(OutboxMessage.id))]
        for row_id in ids[:3]:
            outbox.mark_sent(session, row_id or 0, None, now, error="gave up: 403")
        before = outbox.given_up(session, now - timedelta(days=7),
                                 resolved_by_later=(removal,))
        assert len(before) == 3
        outbox.mark_sent(session, ids[3] or 0, "$removed", now)  # power given back in !a
        after = outbox.given_up(session, now - timedelta(days=7),
                                resolved_by_later=(removal,))
        assert sorted(t for t, _, _ in after) == ["case/list", removal]  # !b's still counts
    engine.dispose()


def test_tables_written_sees_writes_with_returning_and_not_reads(session: Session) -> None:
    """Whether a command changed anything (and whether the next timer must be read again)
    comes from ``tables_written``; SQLite's cursor reports rowcount 0 for a write with
    RETURNING until its rows are fetched, after the listener ran."""
    from storage import actions
    from storage.db import tables_written

    overleg = overlegs.create(session, room_id="!r:localhost", name="Noord",
                              timezone="Europe/Amsterdam", locale="nl",
                              now=datetime(2026, 12, 1, tzinfo=UTC))
    assert overleg.id is not None
    with tables_written(session) as written:
        overlegs.by_room(session, "!r:localhost")
        assert written == []
        assert actions._next_number(session, overleg.id) == 1  # UPDATE … RETURNING
        assert actions._next_number(session, overleg.id) == 2
    assert written == ["overleg", "overleg"]
