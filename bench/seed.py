"""Seed a database for the benchmark: overleggen with partners, members, cases, actions and
their reminder timers, written with bulk inserts (the same tables the bot writes).

Every ID is generated: room IDs, user IDs and case codes are made up, descriptions are
fixed bench text. Nothing here resembles a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from commands import caseid
from commands.action import OVERDUE
from storage.db import session_scope
from storage.models import Action, Case, Member, Overleg, Partner, Timer

PARTNERS = (("Politie", "core"), ("Gemeente", "core"), ("OM", "core"),
            ("Jeugdzorg", "external"), ("Reclassering", "case"))


@dataclass(frozen=True)
class Seeded:
    overleggen: int
    cases: int
    actions: int
    due_timers: int
    busy_room: str  # the first overleg's room
    chair: str  # its chair


def room_of(i: int) -> str:
    return f"!bench-{i}:localhost"


def seed(engine: Engine, *, overleggen: int, cases: int, actions: int, due: int,
         now: datetime, chair: str = "@chair:localhost",
         rooms: dict[int, str] | None = None) -> Seeded:
    """``cases`` per overleg, ``actions`` per case; ``due`` of the actions, spread evenly over
    the overleggen, overdue with their reminder due at ``now``, the others due in the
    future (their timers not yet due).

    ``rooms`` maps overleg numbers to real room IDs (the busy overleg in a live test).
    """
    rows: dict[type, list[dict[str, Any]]] = {Overleg: [], Partner: [], Member: [], Case: [],
                                              Action: [], Timer: []}
    partner_id = case_id = action_id = 0
    made_due = 0
    today = now.date()
    total = overleggen * cases * actions
    step = max(1, total // due) if due else 0
    codes: set[str] = set()
    for o in range(1, overleggen + 1):
        rows[Overleg].append({"id": o, "room_id": (rooms or {}).get(o, room_of(o)),
                              "name": f"Bench {o}", "created_at": now})
        first_partner = partner_id + 1
        for name, kind in PARTNERS:
            partner_id += 1
            rows[Partner].append({"id": partner_id, "overleg_id": o, "name": name,
                                  "name_key": name.casefold(), "kind": kind,
                                  "created_at": now})
            rows[Member].append({"overleg_id": o, "user_id": f"@p{partner_id}:localhost",
                                 "partner_id": partner_id, "role": "partner",
                                 "created_at": now})
        rows[Member].append({"overleg_id": o, "user_id": chair if o == 1 else
                             f"@chair{o}:localhost", "partner_id": first_partner,
                             "role": "chair", "created_at": now})
        rows[Member].append({"overleg_id": o, "user_id": f"@coord{o}:localhost",
                             "partner_id": first_partner + 1, "role": "coordinator",
                             "created_at": now})
        number = 0
        for _ in range(cases):
            case_id += 1
            code = caseid.new_code()
            while code in codes:  # 32^5 codes: collisions are likely among many thousands
                code = caseid.new_code()
            codes.add(code)
            rows[Case].append({"id": case_id, "overleg_id": o, "status": "open",
                               "code": code, "phase": "casusoverleg",
                               "opened_at": now})
            for a in range(actions):
                action_id += 1
                number += 1
                overdue = bool(step) and action_id % step == 0 and made_due < due
                made_due += overdue
                day: date = today - timedelta(days=3) if overdue else \
                    today + timedelta(days=30 + a)
                rows[Action].append({"id": action_id, "overleg_id": o, "number": number,
                                     "case_id": case_id,
                                     "partner_id": first_partner + (a % len(PARTNERS)),
                                     "due": day, "description": f"Bench actie {number}",
                                     "status": "open", "created_at": now})
                rows[Timer].append({"overleg_id": o, "kind": OVERDUE, "subject_id": action_id,
                                    "due_at": now if overdue else now + timedelta(days=31 + a),
                                    "cancelled": False})
        rows[Overleg][-1]["last_action_number"] = number  # (as storage.actions keeps it)
    with session_scope(engine) as session:
        for model in (Overleg, Partner, Member, Case, Action, Timer):
            for start in range(0, len(rows[model]), 5000):
                session.execute(insert(model), rows[model][start:start + 5000])
    return Seeded(overleggen=overleggen, cases=overleggen * cases,
                  actions=overleggen * cases * actions, due_timers=made_due,
                  busy_room=(rooms or {}).get(1, room_of(1)), chair=chair)
