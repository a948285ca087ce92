"""``storage.inbound.room_at`` (one SELECT) decides as an independent formulation does: the
two plain queries it replaced (commit a30a392: the upgrade's row; the latest absence whose
leave is not after the moment and whose return is after it), over a grid of absences,
upgrades and moments, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from storage import inbound
from storage.db import create_schema, make_engine, session_scope
from storage.models import RoomAbsence, RoomUpgrade, table_of

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)

_UPGRADE = table_of(RoomUpgrade)
_OLD_REPLACED = select(_UPGRADE.c.new_room_id).where(_UPGRADE.c.old_room_id == bindparam("room"))
_OLD_ABSENCE_AT = select(RoomAbsence).where(
    RoomAbsence.room_id == bindparam("room"),
    or_(col(RoomAbsence.left_at).is_(None), col(RoomAbsence.left_at) <= bindparam("at")),
    or_(col(RoomAbsence.back_at).is_(None), col(RoomAbsence.back_at) > bindparam("at"))
).order_by(col(RoomAbsence.id).desc())


def _old(s: Session, room: str, at: datetime) -> tuple[bool, int | None]:
    replaced = s.execute(_OLD_REPLACED, {"room": room}).first() is not None
    absence = s.exec(_OLD_ABSENCE_AT, params={"room": room, "at": at}).first()
    return replaced, absence.id if absence else None


# per room: (absences as (left, back) offsets in hours or None), replaced?
ROOMS = {
    "!none": ([], False),
    "!open": ([(0, None)], False),
    "!closed": ([(0, 2)], False),
    "!unseen": ([(None, 2)], False),
    "!two": ([(0, 1), (3, None)], False),
    "!overlap": ([(None, 4), (1, 2)], True),
    "!replaced": ([], True),
    "!replaced_away": ([(0, None)], True),
}
OFFSETS = [-1, 0, 0.5, 1, 2, 2.5, 3, 4, 10]
ZONES = [UTC, timezone(timedelta(hours=2))]


def _fill(engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        for room, (absences, replaced) in ROOMS.items():
            for left, back in absences:
                s.add(RoomAbsence(room_id=room,
                                  left_at=None if left is None else T0 + left * H,
                                  back_at=None if back is None else T0 + back * H, told=""))
            if replaced:
                s.add(RoomUpgrade(old_room_id=room, new_room_id=room + "2", sender="@c:x",
                                  tombstoned_at=T0))


def _compare(engine) -> list[str]:  # type: ignore[no-untyped-def]
    wrong = []
    with session_scope(engine) as s:
        for room, off, zone in itertools.product([*ROOMS, "!unknown"], OFFSETS, ZONES):
            at = (T0 + off * H).astimezone(zone)
            new = inbound.room_at(s, room, at)
            got = (new.replaced, new.absence.id if new.absence else None)
            want = _old(s, room, at)
            if got != want:
                wrong.append(f"{room} at {at}: {got} != {want}")
    return wrong


def test_room_at_decides_as_before_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(engine)
    _fill(engine)
    assert _compare(engine) == []
    engine.dispose()


def test_room_at_decides_as_before_on_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url)
    create_schema(engine)
    _fill(engine)
    assert _compare(engine) == []
    engine.dispose()
