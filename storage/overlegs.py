"""Overlegs, partners and members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from storage.models import Member, Overleg, Partner, RoomUpgrade, table_of

_BY_ROOM = select(Overleg).where(Overleg.room_id == bindparam("room"))
_BY_ROOM_LOCKED = _BY_ROOM.with_for_update()
_MEMBER = select(Member).where(Member.overleg_id == bindparam("overleg"),
                               Member.user_id == bindparam("user"))
_WITH_MEMBER = select(Overleg, Member).outerjoin(
    Member, (col(Member.overleg_id) == Overleg.id) & (col(Member.user_id) == bindparam("user"))
).where(Overleg.room_id == bindparam("room"))
_WITH_MEMBER_LOCKED = _WITH_MEMBER.with_for_update(of=Overleg)  # (not the outer join's rows)


def by_room(session: Session, room_id: str, *, lock: bool = False) -> Overleg | None:
    return session.exec(_BY_ROOM_LOCKED if lock else _BY_ROOM, params={"room": room_id}).first()


def by_room_with_member(session: Session, room_id: str, user_id: str, *, lock: bool = False
                        ) -> tuple[Overleg | None, Member | None]:
    """The room's overleg and ``user_id``'s membership of it, with one query (every command
    needs both; ``lock``: the overleg's row, FOR UPDATE)."""
    row = session.exec(_WITH_MEMBER_LOCKED if lock else _WITH_MEMBER,
                       params={"room": room_id, "user": user_id}).first()
    return (row[0], row[1]) if row is not None else (None, None)


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
_ALL_MEMBERS = select(Member).where(Member.overleg_id == bindparam("overleg")).order_by(
    col(Member.role), col(Member.user_id))
_MEMBERS = _ALL_MEMBERS.where(col(Member.left_room_at).is_(None))
_ALL_MEMBERS_OF_PARTNER = select(Member).where(Member.partner_id == bindparam("partner"))
_MEMBERS_OF_PARTNER = _ALL_MEMBERS_OF_PARTNER.where(col(Member.left_room_at).is_(None))


def partners(session: Session, overleg_id: int) -> list[Partner]:
    return list(session.exec(_PARTNERS, params={"overleg": overleg_id}))


def partner_names(session: Session, overleg_id: int) -> dict[int, str]:
    """The overleg's partners' names by ID."""
    return {pid: name for pid, name in session.execute(_PARTNER_NAMES,
                                                       {"overleg": overleg_id})}


_PARTNER_TABLE = table_of(Partner)
_PARTNER_NAMES = select(_PARTNER_TABLE.c.id, _PARTNER_TABLE.c.name).where(
    _PARTNER_TABLE.c.overleg_id == bindparam("overleg"))


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


def members(session: Session, overleg_id: int, *, with_left: bool = False) -> list[Member]:
    """The overleg's members in its room (``with_left``: also those who left the room; they
    are not addressed until they are back)."""
    return list(session.exec(_ALL_MEMBERS if with_left else _MEMBERS,
                             params={"overleg": overleg_id}))


def left_room(session: Session, overleg_id: int, user_id: str, at: datetime | None
              ) -> Member | None:
    """Record that ``user_id`` left the room (``at``) or is back in it (None); the member
    if that changed anything."""
    found = member(session, overleg_id, user_id)
    if found is None or (found.left_room_at is None) == (at is None):
        return None
    found.left_room_at = at
    session.add(found)
    session.flush()
    return found


def members_of_partner(session: Session, partner_id: int, *, with_left: bool = False
                       ) -> list[Member]:
    """A partner's members in the room (``with_left``: also those who left it)."""
    return list(session.exec(_ALL_MEMBERS_OF_PARTNER if with_left else _MEMBERS_OF_PARTNER,
                             params={"partner": partner_id}))


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


def record_upgrade(session: Session, old_room: str, new_room: str, sender: str,
                   at: datetime) -> RoomUpgrade:
    """Remember that ``old_room`` was replaced by ``new_room`` (a tombstone); the first
    tombstone of a room counts (a room is replaced once)."""
    existing = session.get(RoomUpgrade, old_room)
    if existing is not None:
        return existing
    upgrade = RoomUpgrade(old_room_id=old_room, new_room_id=new_room, sender=sender,
                          tombstoned_at=at)
    session.add(upgrade)
    session.flush()
    return upgrade


def upgrade_of(session: Session, old_room: str) -> RoomUpgrade | None:
    """How ``old_room`` was replaced (None: it was not)."""
    return session.get(RoomUpgrade, old_room)




def upgrade_into(session: Session, new_room: str) -> RoomUpgrade | None:
    """The upgrade whose overleg waits to move into ``new_room`` (None: none waits)."""
    return session.exec(select(RoomUpgrade).where(
        RoomUpgrade.new_room_id == new_room, col(RoomUpgrade.moved_at).is_(None))).first()


def move_room(session: Session, overleg: Overleg, new_room: str) -> None:
    """The overleg now lives in ``new_room``: its row points there; its data and timers
    hang off its ID and move with it."""
    overleg.room_id = new_room
    session.add(overleg)
    session.flush()
