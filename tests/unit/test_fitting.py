"""Nothing is lost to the size limit (commands/fitting.py): long lists arrive split into
parts, in order, each within the platform's limit; what cannot be split is told."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from bot.render import Renderer
from bot.teams.cards import TeamsRenderer
from commands.fitting import MATRIX_MAX_BYTES, TEAMS_MAX_BYTES, fit, size
from commands.registry import Outgoing
from storage.models import OutboxMessage
from storage.outbox import Rendered
from tests.unit.conftest import ROOM, Say, sweep
from tests.unit.test_actions import COORD, case, plan  # noqa: F401  (fixture)

WORDS = ("terugkoppeling", "overleg", "stap", "afstemmen", "zorgaanbieder", "plan",
         "huisbezoek", "evaluatie", "contact", "opvolging", "signaal", "advies")


def _long_text(i: int) -> str:
    words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(60)]
    return " ".join(words)[:290]


def _ids(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"(?<![\w-])A(\d+)(?!\w)", text)]


def _add_actions(say: Say, n: int, cases: list[str]) -> None:
    for i in range(n):
        say.one(f"!actie add {cases[i % len(cases)]} Politie 15-1-2027 {_long_text(i)}")


def test_a_list_over_the_limit_arrives_split_complete_and_in_order(plan: Say) -> None:  # noqa: F811
    _add_actions(plan, 110, [case(plan)])
    parts = plan("!actie lijst")
    assert len(parts) >= 2
    assert {p.template for p in parts} == {"action/list"}
    assert all(size(p) <= MATRIX_MAX_BYTES for p in parts)
    seen = [n for p in parts for n in _ids(p.body)]
    assert sorted(seen) == list(range(1, 111))  # each action exactly once
    assert len(seen) == len(set(seen))
    firsts = [_ids(p.body)[0] for p in parts]
    assert firsts == sorted(firsts)  # the parts in order


def test_the_parts_are_in_the_outbox_in_order(plan: Say, session: Session) -> None:  # noqa: F811
    _add_actions(plan, 110, [case(plan)])
    mark = max(r.id or 0 for r in session.exec(select(OutboxMessage)))
    parts = plan("!actie lijst")
    rows = list(session.exec(select(OutboxMessage).where(col(OutboxMessage.id) > mark)
                             .order_by(col(OutboxMessage.id))))
    assert [r.body for r in rows] == [p.body for p in parts]


def test_a_coordinators_digest_over_the_limit_arrives_split(plan: Say,  # noqa: F811
                                                            session: Session,
                                                            renderer: Renderer) -> None:
    other = re.search(r"C-\w+", plan.one("!casus open"))[0]  # type: ignore[index]
    _add_actions(plan, 160, [case(plan), other])
    mark = max(r.id or 0 for r in session.exec(select(OutboxMessage)))
    sweep(session, renderer, datetime(2026, 12, 2, 8, 0, tzinfo=UTC))  # 09:00 Amsterdam
    digests = list(session.exec(select(OutboxMessage).where(
        col(OutboxMessage.id) > mark, OutboxMessage.template == "action/digest",
        OutboxMessage.room_id == COORD).order_by(col(OutboxMessage.id))))
    assert len(digests) >= 2
    assert all(size(Rendered(room_id=d.room_id, body=d.body, html=d.formatted_body))
               <= MATRIX_MAX_BYTES for d in digests)
    seen = [n for d in digests for n in _ids(d.body)]
    assert sorted(seen) == list(range(1, 161))
    # Both cases' headings come with their own actions in every part that has some.
    for d in digests:
        assert case(plan) in d.body or other in d.body


def test_teams_has_its_own_smaller_limit(plan: Say) -> None:  # noqa: F811
    _add_actions(plan, 30, [case(plan)])
    [listing] = plan("!actie lijst")  # 30 fit one Matrix message
    assert size(listing) <= MATRIX_MAX_BYTES
    # The same list for Teams, split to its own limit by the Teams renderer.
    values = plan.out("!actie lijst").values
    parts = fit(TeamsRenderer(Renderer()),
                Outgoing("action/list", values, room=ROOM, pages_over="actions"), ROOM)
    assert len(parts) >= 2 and all(size(p) <= TEAMS_MAX_BYTES for p in parts)
    assert sorted(n for p in parts for n in _ids(p.body)) == list(range(1, 31))


class _Small(Renderer):
    max_bytes = 600


def test_a_message_that_cannot_be_split_is_replaced_by_a_notice() -> None:
    render = _Small()
    too_big = Outgoing("error/pii", {"kind": "bsn", "masked": "x" * 2000}, room=ROOM)
    [notice] = fit(render, too_big, ROOM)
    assert notice.template == "error/too_large" and notice.room_id == ROOM
    assert "x" * 50 not in notice.body


@settings(max_examples=200, deadline=None)
@example(sizes=[1, 67, 500, 71, 500, 71, 500, 71, 500, 337, 233, 335], limit=600)  # "10/10"
@given(sizes=st.lists(st.integers(1, 500), min_size=0, max_size=60),
       limit=st.integers(600, 3000))
def test_packing_keeps_every_item_once_in_order_within_the_limit(sizes: list[int],
                                                                 limit: int) -> None:
    items = [f"{i}:" + "y" * n for i, n in enumerate(sizes)]

    class Plain:
        max_bytes = limit

        def __call__(self, out: Outgoing, room: str) -> Rendered:
            header = f"{out.values.get('part', 1)}/{out.values.get('parts', 1)}|"
            return Rendered(room_id=room, body=header + ",".join(out.values["items"]),
                            html=None, template=out.template)

    parts = fit(Plain(), Outgoing("t/x", {"items": items}, pages_over="items"), ROOM)
    if any(size(Plain()(Outgoing("t/x", {"items": [it], "part": 1, "parts": 99}), ROOM))
           > limit for it in items):
        assert [p.template for p in parts] == ["error/too_large"] or \
            size(Plain()(Outgoing("t/x", {"items": items}), ROOM)) <= limit
        return
    assert all(size(p) <= limit for p in parts)
    joined = [it for p in parts for it in p.body.split("|", 1)[1].split(",") if it]
    assert joined == items
    numbers = [p.body.split("|", 1)[0] for p in parts]
    assert numbers == ([f"{i}/{len(parts)}" for i in range(1, len(parts) + 1)]
                       if len(parts) > 1 else ["1/1"])


def test_case_list_status_and_agenda_of_600_cases_arrive_split_and_complete(
        plan: Say) -> None:  # noqa: F811
    plan.one("!overleg plan 15-12-2026 14:00")
    codes = [re.search(r"C-\w+", plan.one("!casus open"))[0]  # type: ignore[index]
             for _ in range(600)]
    codes.append(case(plan))
    for code in codes:
        plan.one(f"!agenda add M1 {code}")

    def found(parts: list[Rendered]) -> set[str]:
        return {c for p in parts for c in re.findall(r"C-\w+", p.body)}

    for command, key in (("!casus lijst", "case/list"), ("!status M1", "agenda/status"),
                         ("!agenda toon M1", "agenda/show")):
        parts = plan(command)  # (the status board of 601 cases still fits one message)
        assert len(parts) >= (1 if key == "agenda/status" else 2), command
        assert {p.template for p in parts} == {key}
        assert all(size(p) <= MATRIX_MAX_BYTES for p in parts)
        assert found(parts) >= set(codes), command
    status = plan.out("!status M1")  # the board's list split inside its record

    class Tighter(Renderer):
        max_bytes = 12_000

    boards = fit(Tighter(), status, ROOM)
    assert len(boards) >= 2 and all(size(p) <= 12_000 for p in boards)
    assert found(boards) >= set(codes)
    sent = plan("!agenda send M1")
    agenda = [p for p in sent if p.template == "agenda/agenda"]
    assert len(agenda) >= 2 and all(size(p) <= MATRIX_MAX_BYTES for p in agenda)
    assert found(agenda) >= set(codes)
    assert "error/too_large" not in {p.template for p in sent}


@settings(max_examples=300, deadline=None)
@given(body=st.text(max_size=3000), html=st.none() | st.text(max_size=3000),
       content=st.none() | st.text(max_size=500),
       mentions=st.lists(st.text(min_size=1, max_size=40), max_size=4),
       limit=st.sampled_from([64, 500, 4_000, TEAMS_MAX_BYTES, MATRIX_MAX_BYTES]))
@example(body="\U0001F9D1" * 100, html=None, content=None, mentions=[], limit=2_464)
def test_what_is_taken_to_fit_unmeasured_fits_when_measured(
        body: str, html: str | None, content: str | None, mentions: list[str],
        limit: int) -> None:
    """``fit`` skips measuring a message whose length alone shows it fits
    (``_surely_fits``): for any text (escapes, characters beyond the BMP, controls), that
    never lets through what the exact JSON size would refuse."""
    from commands.fitting import _surely_fits
    from storage.outbox import Rendered

    message = Rendered("!r", body, html, content_json=content, mentions=tuple(mentions))
    if _surely_fits(message, limit):
        assert size(message) <= limit
