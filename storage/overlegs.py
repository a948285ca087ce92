"""Overlegs, partners and members."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.db import Prepared, read
from storage.models import Member, MemberRow, Overleg, OverlegRow, Partner

_BY_ROOM = select(Overleg).where(Overleg.room_id == bindparam("room"))
_BY_ROOM_LOCKED = _BY_ROOM.with_for_update()
_MEMBER = select(Member).where(Member.overleg_id == bindparam("overleg"),
                               Member.user_id == bindparam("user"))


_O, _M = Overleg.__table__, Member.__table__  # type: ignore[attr-defined]
_O_FIELDS, _M_FIELDS = len(fields(OverlegRow)), len(fields(MemberRow))
_WITH_MEMBER_Q = sa_select(*(_O.c[f.name] for f in fields(OverlegRow)),
                         *(_M.c[f.name] for f in fields(MemberRow))).select_from(
    _O.outerjoin(_M, (_M.c.overleg_id == _O.c.id) & (_M.c.user_id == bindparam("user")))
).where(_O.c.room_id == bindparam("room"))
_WITH_MEMBER = Prepared(_WITH_MEMBER_Q)
_WITH_MEMBER_LOCKED = Prepared(_WITH_MEMBER_Q.with_for_update(of=_O))  # (not the outer join's)


def by_room(session: Session, room_id: str, *, lock: bool = False) -> Overleg | None:
    return session.exec(_BY_ROOM_LOCKED if lock else _BY_ROOM, params={"room": room_id}).first()


def by_room_with_member(session: Session, room_id: str, user_id: str, *, lock: bool = False
                        ) -> tuple[OverlegRow | None, MemberRow | None]:
    """The room's overleg and ``user_id``'s membership of it, as plain values, with one
    query (every command needs both; ``lock``: the overleg's row, FOR UPDATE)."""
    row = read(session, _WITH_MEMBER_LOCKED if lock else _WITH_MEMBER,
               {"room": room_id, "user": user_id}).first()
    if row is None:
        return None, None
    member = MemberRow(*row[_O_FIELDS:]) if row[_O_FIELDS] is not None else None
    return OverlegRow(*row[:_O_FIELDS]), member


def create(session: Session, *, room_id: str, name: str, timezone: str, locale: str,
           now: datetime) -> Overleg:
    overleg = Overleg(room_id=room_id, name=name, timezone=timezone, locale=locale,
                      created_at=now)
    session.add(overleg)
    session.flush()
    return overleg


def partner_key(name: str) -> str:
    return " ".join(name.split()).casefold()


_PARTNER_BY_KEY = select(Partner).where(Partner.overleg_id == bindparam("overleg"),
                                        Partner.name_key == bindparam("key"))


def partner_by_name(session: Session, overleg_id: int, name: str) -> Partner | None:
    return session.exec(_PARTNER_BY_KEY, params={"overleg": overleg_id,
                                                 "key": partner_key(name)}).first()


_PARTNERS = select(Partner).where(Partner.overleg_id == bindparam("overleg")).order_by(
    col(Partner.kind), col(Partner.name_key))
_MEMBERS = select(Member).where(Member.overleg_id == bindparam("overleg")).order_by(
    col(Member.role), col(Member.user_id))
_MEMBERS_OF_PARTNER = select(Member).where(Member.partner_id == bindparam("partner"))


def partners(session: Session, overleg_id: int) -> list[Partner]:
    return list(session.exec(_PARTNERS, params={"overleg": overleg_id}))


_PARTNER_NAMES = Prepared(select(Partner.id, Partner.name).where(
    Partner.overleg_id == bindparam("overleg")))


def partner_names(session: Session, overleg_id: int) -> dict[int, str]:
    """The overleg's partners' names by ID, as plain values."""
    return {pid: name for pid, name in read(session, _PARTNER_NAMES, {"overleg": overleg_id})}


def add_partner(session: Session, *, overleg_id: int, name: str, kind: str,
                now: datetime) -> Partner:
    partner = Partner(overleg_id=overleg_id, name=" ".join(name.split()),
                      name_key=partner_key(name), kind=kind, created_at=now)
    session.add(partner)
    session.flush()
    return partner


def remove_partner(session: Session, partner: Partner) -> None:
    session.delete(partner)
    session.flush()


def member(session: Session, overleg_id: int, user_id: str) -> Member | None:
    return session.exec(_MEMBER, params={"overleg": overleg_id, "user": user_id}).first()


_MEMO = "overlegs.members_memo"


@contextmanager
def members_memo(session: Session) -> Iterator[None]:
    """Within the block, members are read once per overleg (for a batch of timers, while
    nobody changes them); outside it every call reads the database."""
    session.info[_MEMO] = {}
    try:
        yield
    finally:
        session.info.pop(_MEMO, None)


def members(session: Session, overleg_id: int) -> list[Member]:
    memo = session.info.get(_MEMO)
    if memo is not None and overleg_id in memo:
        return list(memo[overleg_id])
    rows = list(session.exec(_MEMBERS, params={"overleg": overleg_id}))
    if memo is not None:
        memo[overleg_id] = rows
    return rows


def members_of_partner(session: Session, partner_id: int) -> list[Member]:
    memo = session.info.get(_MEMO)
    if memo is not None:
        partner = partner_by_id(session, partner_id)
        if partner is not None:
            return [m for m in members(session, partner.overleg_id)
                    if m.partner_id == partner_id]
    return list(session.exec(_MEMBERS_OF_PARTNER, params={"partner": partner_id}))


def by_ids(session: Session, overleg_ids: set[int]) -> list[Overleg]:
    if not overleg_ids:
        return []
    return list(session.exec(select(Overleg).where(col(Overleg.id).in_(overleg_ids))))


def put_member(session: Session, *, overleg_id: int, user_id: str, partner_id: int | None,
               role: str, now: datetime) -> Member:
    """Add a member, or change the partner and role of an existing one."""
    existing = member(session, overleg_id, user_id)
    if existing is None:
        existing = Member(overleg_id=overleg_id, user_id=user_id, partner_id=partner_id,
                          role=role, created_at=now)
    else:
        existing.partner_id = partner_id
        existing.role = role
    session.add(existing)
    session.flush()
    return existing


def remove_member(session: Session, m: Member) -> None:
    session.delete(m)
    session.flush()


def count_role(session: Session, overleg_id: int, role: str) -> int:
    return len(list(session.exec(select(Member.id).where(
        Member.overleg_id == overleg_id, Member.role == role))))


def by_id(session: Session, overleg_id: int) -> Overleg | None:
    return session.get(Overleg, overleg_id)


def all_overlegs(session: Session) -> list[Overleg]:
    return list(session.exec(select(Overleg).order_by(col(Overleg.id))))


def partner_by_id(session: Session, partner_id: int | None) -> Partner | None:
    return session.get(Partner, partner_id) if partner_id is not None else None


def save(session: Session, overleg: Overleg) -> None:
    session.add(overleg)
    session.flush()
