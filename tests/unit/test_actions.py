"""The action plan and its reminders, over weeks of fake time (the clock is ``now``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from bot.render import Renderer, html_to_text
from commands import action
from storage import actions, overlegs, timers
from storage.db import create_schema, make_engine, session_scope
from storage.models import Action, Case, CasePartner, OutboxMessage, Partner, Timer
from tests.unit.conftest import CHAIR, NOW, ROOM, Say, sweep

AMS = ZoneInfo("Europe/Amsterdam")
POLITIE = "@politie1:localhost"
COORD = "@coord:localhost"
JEUGD = "@jeugd:localhost"


@pytest.fixture
def plan(overleg: Say) -> Say:
    """The overleg of conftest, with members and one case; returns ``say`` with ``.case``."""
    overleg.one(f"!lid add {POLITIE} Politie")
    overleg.one(f"!lid add {COORD} Gemeente coordinator")
    overleg.one(f"!lid add {JEUGD} Jeugdzorg")
    overleg.case = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[attr-defined,index]
    return overleg


def case(say: Say) -> str:
    return str(say.case)  # type: ignore[attr-defined]


def has(text: str, action_id: str) -> bool:
    """Whether ``action_id`` (A1…) is in ``text`` as an ID, not inside a random case code."""
    return re.search(rf"(?<![\w-]){action_id}(?!\w)", text) is not None


def pos(text: str, action_id: str) -> int:
    found = re.search(rf"(?<![\w-]){action_id}(?!\w)", text)
    assert found, (action_id, text)
    return found.start()


def local(dt: datetime) -> datetime:
    return dt.astimezone(AMS)


def run_until(session: Session, renderer: Renderer, start: datetime,
              end: datetime) -> list[tuple[datetime, OutboxMessage]]:
    """Drive the sweep like the real waker: jump to each next due time until ``end``."""
    last = max((r.id or 0 for r in session.exec(select(OutboxMessage))), default=0)
    out: list[tuple[datetime, OutboxMessage]] = []
    now = start
    while now <= end:
        nxt = sweep(session, renderer, now)
        for row in session.exec(select(OutboxMessage).where(col(OutboxMessage.id) > last)
                                .order_by(col(OutboxMessage.id))):
            last = row.id or last
            out.append((now, row))
        if nxt is None:
            break
        now = max(nxt, now + timedelta(seconds=1))
    return out


def reminders(sent: list[tuple[datetime, OutboxMessage]], kind: str,
              to: str = ROOM) -> list[tuple[datetime, OutboxMessage]]:
    """The rows of ``sent`` from template ``action/<kind>`` (due_soon, overdue, digest)."""
    assert kind in ("due_soon", "overdue", "digest"), kind
    return [(t, r) for t, r in sent if r.room_id == to and r.template == f"action/{kind}"]


def late_note(renderer: Renderer, since: datetime) -> str:
    """The note a reminder sent later than planned (at ``since``) carries, as the template
    words it: rule tests look for it without spelling it out."""
    return html_to_text(str(renderer.envs["nl"].globals["m"].late_note(True, since)))


def action_ids(text: str) -> list[str]:
    """The action IDs (A1…) in ``text``, in order (not inside a random case code)."""
    return re.findall(r"(?<![\w-])A\d+(?!\w)", text)


def ids_of(actions_: list[dict[str, object]]) -> list[object]:
    return [a["id"] for a in actions_]


# ---- commands ------------------------------------------------------------------------------
def test_action_add_answers_with_id_and_due_date_in_words(plan: Say, session: Session) -> None:
    reply = plan.reply(f"!actie add {case(plan)} Politie 15-12-2026 Huisbezoek afstemmen")
    assert reply.template == "action/added"
    assert has(reply.body, "A1") and case(plan) in reply.body
    [a] = session.exec(select(Action)).all()
    assert (a.due, a.description, a.status) == (date(2026, 12, 15), "Huisbezoek afstemmen", "open")
    assert a.number == 1 and session.get(Partner, a.partner_id).name == "Politie"  # type: ignore[union-attr]


def test_partner_names_with_spaces(plan: Say, session: Session) -> None:
    plan.one("!partner add Veilig Thuis core")
    out = plan.out(f"!actie add {case(plan)} Veilig Thuis 8 dec Contact opnemen met school")
    assert out.template == "action/added"
    assert (out.values["action"]["partner"], out.values["action"]["due"]) == (
        "Veilig Thuis", date(2026, 12, 8))
    [a] = session.exec(select(Action)).all()
    assert session.get(Partner, a.partner_id).name == "Veilig Thuis"  # type: ignore[union-attr]
    assert a.description == "Contact opnemen met school"


def test_action_add_errors_store_nothing(plan: Say, session: Session) -> None:
    c = case(plan)
    wrong = {
        f"!actie add {c} Politie 1-1-2026 Iets": "action/due_in_past",
        f"!actie add {c} Brandweer 15-12-2026 Iets": "partner/unknown",
        f"!actie add {c} Jeugdzorg 15-12-2026 Iets": "action/partner_not_linked",
        f"!actie add {c} Politie 15-12-2026": "error/missing_arg",
        f"!actie add {c} Politie Iets": "error/missing_arg",
        "!actie add C-AAAAA Politie 15-12-2026 Iets": "error/bad_case_id",
        f"!actie add {c} Politie 15-12-2026 " + "x" * 301: "error/too_long",
    }
    for line, expected in wrong.items():
        assert plan.key(line) == expected, line
    assert session.exec(select(Action)).all() == []
    plan.one(f"!casus close {c}")
    assert plan.key(f"!actie add {c} Politie 15-12-2026 Iets") == "action/case_closed"
    assert session.exec(select(Action)).all() == []


def test_external_partner_after_linking(plan: Say, session: Session) -> None:
    c = case(plan)
    assert plan.key(f"!casus partner {c} add Jeugdzorg") == "case/linked"
    assert len(session.exec(select(CasePartner)).all()) == 1
    added = plan.reply(f"!actie add {c} Jeugdzorg 15-12-2026 Gesprek plannen")
    assert added.template == "action/added" and has(added.body, "A1")
    assert plan.key(f"!casus partner {c} remove Jeugdzorg") == "case/partner_has_actions"
    assert len(session.exec(select(CasePartner)).all()) == 1
    plan.one("!actie done A1")
    assert plan.key(f"!casus partner {c} remove Jeugdzorg") == "case/unlinked"
    assert session.exec(select(CasePartner)).all() == []


def test_done_move_assign_and_history(plan: Say, session: Session) -> None:
    c = case(plan)
    plan.one(f"!actie add {c} Politie 15-12-2026 Huisbezoek")
    moved = plan.out("!actie move A1 22-12-2026")
    assert moved.template == "action/moved"
    assert (moved.values["action"]["due"], moved.values["old"]) == (
        date(2026, 12, 22), date(2026, 12, 15))
    assigned = plan.out("!actie assign A1 Gemeente")
    assert assigned.template == "action/assigned"
    assert assigned.values["action"]["partner"] == "Gemeente"
    refused = plan.out("!actie done A1", sender=POLITIE)
    assert refused.template == "action/not_owner"
    assert session.exec(select(Action)).one().status == "open"
    assert plan.key("!actie done A1", sender=COORD) == "action/done"
    assert plan.key("!actie done A1") == "action/already_done"
    history = [(h.kind, h.old, h.new) for h in actions.history(session, 1)]
    assert history == [("created", None, "2026-12-15"), ("moved", "2026-12-15", "2026-12-22"),
                       ("assigned", "Politie", "Gemeente"), ("done", "open", "done")]


def test_only_the_chair_moves_and_assigns(plan: Say, session: Session) -> None:
    plan.one(f"!actie add {case(plan)} Politie 15-12-2026 Huisbezoek")
    assert plan.key("!actie move A1 22-12-2026", sender=POLITIE) == "error/chair_only"
    assert plan.key("!actie assign A1 Gemeente", sender=POLITIE) == "error/chair_only"
    [a] = session.exec(select(Action)).all()
    assert a.due == date(2026, 12, 15)
    assert session.get(Partner, a.partner_id).name == "Politie"  # type: ignore[union-attr]
    assert plan.key("!actie done A1", sender=POLITIE) == "action/done"  # the owner may
    assert (a.status, a.done_by) == ("done", POLITIE)


def test_action_list_filters_and_order(plan: Say, session: Session) -> None:
    c = case(plan)
    plan.one(f"!actie add {c} Politie 15-12-2026 Later")
    plan.one(f"!actie add {c} Gemeente 2-12-2026 Eerder")
    plan.one(f"!actie add {c} Politie 3-12-2026 Tussen")
    later = NOW + timedelta(days=3)  # Friday 4 December: A2 and A3 are overdue
    listed = plan.out("!actie list", now=later)
    assert listed.template == "action/list"
    assert {a["id"]: a["overdue_days"] for a in listed.values["actions"]} == {
        "A2": 2, "A3": 1, "A1": 0}
    body = plan.one("!actie list", now=later)
    assert action_ids(body) == ["A2", "A3", "A1"]
    overdue = plan.one("!actie list overdue", now=later)
    assert not has(overdue, "A1") and has(overdue, "A2")
    mine = plan.one("!actie list mine", sender=POLITIE, now=later)
    assert not has(mine, "A2") and has(mine, "A1") and has(mine, "A3")
    assert has(plan.one("!actie list partner Gemeente", now=later), "A2")
    assert has(plan.one(f"!actie list {c}", now=later), "A1")
    plan.one("!actie done A1")
    assert has(plan.one("!actie list done"), "A1") and not has(plan.one("!actie list"), "A1")


def test_external_members_see_only_linked_cases(plan: Say, session: Session) -> None:
    c = case(plan)
    other = re.search(r"C-\w+", plan.one("!casus open"))[0]  # type: ignore[index]
    plan.one(f"!casus partner {other} add Jeugdzorg")
    plan.one(f"!actie add {c} Politie 15-12-2026 Geheim voor Jeugdzorg")
    plan.one(f"!actie add {other} Jeugdzorg 15-12-2026 Wel zichtbaar")
    listed = plan.out("!actie list", sender=JEUGD)
    assert listed.template == "action/list" and ids_of(listed.values["actions"]) == ["A2"]
    listing = plan.one("!actie list", sender=JEUGD)
    assert "Wel zichtbaar" in listing and "Geheim" not in listing and c not in listing
    refused = plan.one(f"!casus show {c}", sender=JEUGD)
    from commands import caseid

    absent = caseid.display(caseid.new_code())
    assert refused == plan.one(f"!casus show {absent}", sender=JEUGD).replace(absent, c)
    assert plan.key(f"!casus show {c}", sender=JEUGD) == "case/unknown"
    assert "Wel zichtbaar" in plan.one(f"!casus show {other}", sender=JEUGD)
    assert plan.key("!actie done A1", sender=JEUGD) == "action/unknown"
    assert session.exec(select(Action).where(Action.number == 1)).one().status == "open"
    shown = plan.out(f"!casus show {c}", sender=POLITIE)  # a core partner
    assert shown.template == "case/show" and ids_of(shown.values["open_actions"]) == ["A1"]
    assert "Geheim" in plan.one(f"!casus show {c}", sender=POLITIE)


def test_case_show(plan: Say) -> None:
    c = case(plan)
    plan.one(f"!casus partner {c} add Jeugdzorg")
    plan.one(f"!actie add {c} Politie 15-12-2026 Huisbezoek")
    plan.one(f"!actie add {c} Jeugdzorg 16-12-2026 Gesprek")
    plan.one("!actie done A2")
    shown = plan.out(f"!casus show {c}")
    assert shown.template == "case/show"
    assert list(shown.values["partners"]) == ["Jeugdzorg"]
    assert ids_of(shown.values["open_actions"]) == ["A1"]
    assert ids_of(shown.values["done_actions"]) == ["A2"]
    body = plan.one(f"!casus show {c}")
    assert "Jeugdzorg" in body and action_ids(body) == ["A1", "A2"]  # open ones first


def test_case_show_names_who_owns_actions_besides_who_is_linked(plan: Say) -> None:
    """A core partner owns actions without being linked (it sees every case): the plan says
    so rather than "linked partners: none" (issue 23)."""
    c = case(plan)
    plan.one(f"!actie toevoegen {c} Politie 15-12-2026 Huisbezoek")
    plan.one(f"!actie toevoegen {c} Gemeente 16-12-2026 Gesprek")
    plan.one("!actie klaar A2")
    shown = plan.out(f"!casus toon {c}")
    assert (shown.values["partners"], shown.values["owners"]) == ([], ["Politie"])


# ---- reminders -----------------------------------------------------------------------------
def test_due_soon_overdue_repetition_escalation_and_christmas(
        plan: Say, session: Session, renderer: Renderer) -> None:
    plan.one(f"!actie add {case(plan)} Politie 15-12-2026 Huisbezoek")
    sent = run_until(session, renderer, NOW, datetime(2027, 1, 1, tzinfo=UTC))
    [(t, soon)] = reminders(sent, "due_soon")
    assert local(t) == datetime(2026, 12, 11, 9, 0, tzinfo=AMS)  # 2 working days before Tue
    assert POLITIE in soon.mentions.split() and COORD not in soon.mentions
    assert f'href="https://matrix.to/#/{POLITIE}"' in (soon.formatted_body or "")
    overdue = reminders(sent, "overdue")
    days = [local(t).date() for t, _ in overdue]
    assert days == [date(2026, 12, d) for d in (16, 17, 18, 21, 22, 23, 24, 28, 29, 30, 31)]
    assert all(local(t).time().hour == 9 for t, _ in overdue)
    first, escalated = overdue[0][1], overdue[4][1]
    assert COORD in first.mentions.split() and CHAIR not in first.mentions.split()
    assert CHAIR in escalated.mentions.split()  # after 5 working days: the chair too
    assert [r.mentions.count(CHAIR) > 0 for _, r in overdue] == [False] * 4 + [True] * 7
    assert late_note(renderer, overdue[0][0]) not in first.body  # sent on time


def test_koningsdag_is_not_a_working_day(plan: Say, session: Session,
                                         renderer: Renderer) -> None:
    plan.one(f"!actie add {case(plan)} Politie 28-4-2027 Terugkoppeling")
    plan.one(f"!actie add {case(plan)} Gemeente 26-4-2027 Verslag")
    sent = run_until(session, renderer, NOW, datetime(2027, 4, 30, tzinfo=UTC))
    soon = {action_ids(r.body)[0]: local(t).date() for t, r in reminders(sent, "due_soon")}
    # Tuesday 27 April 2027 is Koningsdag: two working days before Wed 28 is Fri 23.
    assert soon["A1"] == date(2027, 4, 23)
    first_overdue_a2 = next(local(t).date() for t, r in reminders(sent, "overdue")
                            if has(r.body, "A2"))
    assert first_overdue_a2 == date(2027, 4, 28)  # Mon 26 due, Tue 27 holiday


def test_reminders_stay_at_9_local_across_dst(plan: Say, session: Session,
                                              renderer: Renderer) -> None:
    plan.one(f"!actie add {case(plan)} Politie 30-3-2027 Rapportage")  # DST: 28 March 2027
    sent = run_until(session, renderer, NOW, datetime(2027, 4, 3, tzinfo=UTC))
    times = [t for t, _ in reminders(sent, "due_soon") + reminders(sent, "overdue")]
    assert [local(t).hour for t in times] == [9, 9, 9, 9]
    assert [t.hour for t in times] == [8, 7, 7, 7]  # 08:00 UTC in winter, 07:00 in summer


def test_done_stops_every_reminder_at_once(plan: Say, session: Session,
                                           renderer: Renderer) -> None:
    plan.one(f"!actie add {case(plan)} Politie 15-12-2026 Huisbezoek")
    sent = run_until(session, renderer, NOW, datetime(2026, 12, 17, 12, tzinfo=UTC))
    assert len(reminders(sent, "overdue")) == 2
    plan.one("!actie done A1", sender=POLITIE, now=datetime(2026, 12, 17, 12, tzinfo=UTC))
    assert timers.pending(session, kinds=action.ACTION_KINDS, subject_id=1) == []
    later = run_until(session, renderer, datetime(2026, 12, 17, 12, tzinfo=UTC),
                      datetime(2027, 2, 1, tzinfo=UTC))
    assert reminders(later, "overdue") == [] and reminders(later, "due_soon") == []


def test_move_replans_the_reminders(plan: Say, session: Session, renderer: Renderer) -> None:
    plan.one(f"!actie add {case(plan)} Politie 15-12-2026 Huisbezoek")
    run_until(session, renderer, NOW, datetime(2026, 12, 16, 12, tzinfo=UTC))
    plan.one("!actie move A1 22-12-2026", now=datetime(2026, 12, 16, 12, tzinfo=UTC))
    sent = run_until(session, renderer, datetime(2026, 12, 16, 12, tzinfo=UTC),
                     datetime(2026, 12, 24, tzinfo=UTC))
    assert [local(t).date() for t, _ in reminders(sent, "due_soon")] == [date(2026, 12, 18)]
    assert [local(t).date() for t, _ in reminders(sent, "overdue")] == [date(2026, 12, 23)]


def test_daily_digest_for_coordinators(plan: Say, session: Session, renderer: Renderer) -> None:
    # Nothing open: no digest at all.
    quiet = run_until(session, renderer, NOW, datetime(2026, 12, 4, tzinfo=UTC))
    assert reminders(quiet, "digest", to=COORD) == []
    c = case(plan)
    now = datetime(2026, 12, 4, tzinfo=UTC)
    plan.one(f"!actie add {c} Politie 7-12-2026 Eerste", now=now)
    plan.one(f"!actie add {c} Gemeente 15-12-2026 Tweede", now=now)
    sent = run_until(session, renderer, now, datetime(2026, 12, 12, tzinfo=UTC))
    digests = reminders(sent, "digest", to=COORD)
    # Working days only (not Saturday 5 or Sunday 6 December), at 08:30 local, by DM.
    assert [local(t).date() for t, _ in digests] == [date(2026, 12, d) for d in
                                                     (4, 7, 8, 9, 10, 11)]
    assert {(local(t).hour, local(t).minute) for t, _ in digests} == {(8, 30)}
    last = digests[-1][1].body
    assert pos(last, "A1") < pos(last, "A2")
    # The last digest shows the open actions as they stood on Friday 11 December.
    o = overlegs.by_room(session, ROOM)
    assert o is not None
    rows = action.digest_rows(session, o, date(2026, 12, 11))
    assert [[(a["id"], a["overdue_days"]) for a in c["actions"]] for c in rows] == [
        [("A1", 4), ("A2", 0)]]
    expected = renderer.html("action/digest", {
        "cases": rows, "overleg_name": o.name, "late": False, "late_since": None,
        "today": datetime(2026, 12, 11, 12, tzinfo=AMS)}, o.locale, o.timezone)
    assert digests[-1][1].formatted_body == expected
    assert reminders(sent, "digest", to=ROOM) == []  # never in the shared room
    plan.one("!actie done A1", now=datetime(2026, 12, 12, tzinfo=UTC))
    plan.one("!actie done A2", now=datetime(2026, 12, 12, tzinfo=UTC))
    after = run_until(session, renderer, datetime(2026, 12, 12, tzinfo=UTC),
                      datetime(2026, 12, 20, tzinfo=UTC))
    assert reminders(after, "digest", to=COORD) == []


def test_overdue_with_dm_setting_reaches_owner_and_coordinator_directly(
        plan: Say, session: Session, renderer: Renderer) -> None:
    from storage import overlegs

    o = overlegs.by_room(session, ROOM)
    assert o is not None
    o.remind_by_dm = True
    overlegs.save(session, o)
    plan.one(f"!actie add {case(plan)} Politie 3-12-2026 Huisbezoek")
    sent = run_until(session, renderer, NOW, datetime(2026, 12, 4, 12, tzinfo=UTC))
    assert len(reminders(sent, "overdue", to=POLITIE)) == 1
    assert len(reminders(sent, "overdue", to=COORD)) == 1
    assert len(reminders(sent, "overdue", to=JEUGD)) == 0


def test_restart_sends_what_was_missed_late_and_once(tmp_path: Path, registry: object,
                                                     renderer: Renderer) -> None:
    from commands.inbound import Inbound, handle
    from tests.unit.conftest import SETTINGS

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    with session_scope(engine) as s:
        for i, line in enumerate(["!setup X", "!partner add Politie core",
                                  f"!lid add {POLITIE} Politie", "!casus open"]):
            handle(s, registry, renderer, SETTINGS,  # type: ignore[arg-type]
                    Inbound(f"$r{i}", ROOM, CHAIR, line, NOW, encrypted=True), NOW)
        code = s.exec(select(Case)).one().code
        handle(s, registry, renderer, SETTINGS,  # type: ignore[arg-type]
                Inbound("$r9", ROOM, CHAIR, f"!actie add C-{code} Politie 3-12-2026 X", NOW,
                        encrypted=True), NOW)
    engine.dispose()  # the process dies; no sweep runs for days

    down_until = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Monday, after 3 missed days
    engine2 = make_engine(url)  # a new process, the same database
    with session_scope(engine2) as s:
        sweep(s, renderer, down_until)
    with session_scope(engine2) as s:
        sweep(s, renderer, down_until + timedelta(minutes=1))
    with session_scope(engine2) as s:
        rows = [r for r in s.exec(select(OutboxMessage)) if r.template == "action/overdue"]
        assert len(rows) == 1, [r.body for r in rows]  # once, not once per missed day
        # ... and says it is late, and since when (Friday 4 December, 09:00)
        assert late_note(renderer, datetime(2026, 12, 4, 9, tzinfo=AMS)) in rows[0].body
        pending = s.exec(select(Timer).where(Timer.kind == action.OVERDUE,
                                             Timer.handled_at == None)).all()  # noqa: E711
        assert [local(t.due_at) for t in pending] == [datetime(2026, 12, 8, 9, tzinfo=AMS)]
    engine2.dispose()


def test_a_due_soon_reminder_missed_past_the_due_date_is_not_sent(
        plan: Say, session: Session, renderer: Renderer) -> None:
    plan.one(f"!actie add {case(plan)} Politie 15-12-2026 Huisbezoek")
    # Down from before the due-soon reminder (11 Dec) until after the due date.
    back = datetime(2026, 12, 16, 10, 0, tzinfo=UTC)
    sent = run_until(session, renderer, back, back + timedelta(minutes=1))
    assert reminders(sent, "due_soon") == []
    assert len(reminders(sent, "overdue")) == 1


def test_listing_many_actions_costs_the_same_queries_as_a_few(plan: Say,
                                                               session: Session) -> None:
    # Two queries per action (its case, its owner) made a busy overleg's list slow.
    from sqlalchemy import event

    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    def queries(command: str) -> tuple[int, str]:
        statements.clear()
        event.listen(session.get_bind(), "before_cursor_execute", count)
        try:
            [out] = plan(command)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", count)
        return len(statements), out.body

    other = re.search(r"C-\w+", plan.one("!casus open"))[0]  # type: ignore[index]
    for i in range(3):
        plan.one(f"!actie add {case(plan)} Politie 10-12-2026 Huisbezoek {i}")
    few, listed = queries("!actie list")
    assert has(listed, "A3") and not has(listed, "A4")
    for i in range(30):
        plan.one(f"!actie add {other if i % 2 else case(plan)} Gemeente 11-12-2026 Overleg {i}")
    many, listed = queries("!actie list")
    assert has(listed, "A33") and "Gemeente" in listed
    assert many == few, (few, many)
    show_few, _ = queries(f"!casus show {other}")
    plan.one(f"!actie add {other} Politie 12-12-2026 Nog een")
    show_more, shown = queries(f"!casus show {other}")
    assert show_more == show_few and has(shown, "A34")
