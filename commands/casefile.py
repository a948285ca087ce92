"""The data subject's rights per case (AVG art. 15 inzage, art. 17 verwijdering; issue 24).

A person asks the municipality what is held about them; the municipality maps the person to
a case ID in its own registration and asks the bot's administrator. ``collect`` gathers
everything the bot holds on that case into one plain, JSON-ready value (the administrator's
``casusbot case export``); ``erase`` removes the case before its retention term with the
retention purge's own removal (``retention.remove_case``), leaves a tombstone (the ID is
never given out again) and an audit entry, and returns the notice for the overleg's chairs.
Correction (art. 16) is a chat command: ``!action edit`` in commands/action.py.

Sans-I/O like every rule here: the caller passes the session and ``now`` and renders,
writes and enqueues what comes back.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from commands import caseid, parse, retention
from commands.registry import Outgoing
from storage import actions, agendas, audit, cases, overlegs
from storage.models import AuditEntry, Case, InfoAnswer, Meeting, OutboxMessage, Overleg

FORMAT = "casusbot-case-export/1"
"""The export's ``format``: a reader checks it before it reads the rest."""

ERASE_REASONS = ("request", "objection", "unlawful", "legal-obligation", "mistake")
"""The grounds an erasure is recorded with (AVG art. 17(1): b consent withdrawn or a) no
longer needed are the data subject's ``request``; c ``objection`` (art. 21); d ``unlawful``
processing; e a ``legal-obligation`` to erase; and a case opened by ``mistake``). A fixed
list, so the audit chain and the tombstone never hold free text."""

def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def find(session: Session, shown: str) -> tuple[Overleg, Case] | None:
    """The case a typed ID (``C-7K2FQ``, also without ``C-`` or the hyphen, any case, I/L/O
    read as 1/0; ``commands.parse.typed_case_code``) names, with its
    overleg; None when no case has that ID (see ``cases.tombstone`` for an erased one)."""
    code = parse.typed_case_code(shown.strip())
    case = cases.by_code_anywhere(session, code) if code else None
    if case is None:
        return None
    overleg = overlegs.by_id(session, case.overleg_id)
    return (overleg, case) if overleg is not None else None


def collect(session: Session, overleg: Overleg, case: Case, now: datetime) -> dict[str, Any]:
    """Everything held on ``case``, as plain values (strings, numbers, booleans, lists,
    dicts; moments as ISO 8601 in UTC, due dates as ISO days in the overleg's zone).

    Keys: ``format`` (``FORMAT``), ``generated_at``, ``overleg`` (id, name, locale,
    timezone, retention_years), ``case`` (id ``C-…``, status, phase, phase_since,
    opened_at, closed_at, close_reason, reference_hash_held: whether a keyed hash of an
    external reference is stored, never the hash), ``phases`` and ``weging`` (from the
    audit chain: at, phase or outcome, audit action), ``meetings`` (each meeting it was on
    the agenda of: M-number, kind, status, starts_at, minutes, place, agenda_kind,
    added_at, agenda_sent_at, agenda_version), ``information_answers`` (meeting, partner,
    user, holds, at), ``partners`` (linked: name, kind, linked_at; ``core_partners``: the
    names of the partners who see every case), ``actions`` (id ``A…``, partner, due,
    description, status, created_at, done_at, done_by, ``history``: at, actor, kind, old,
    new), ``messages`` (every outbox row naming the case or one of its actions
    (``retention.case_message_ids``): id, template key, the meeting of
    an agenda, created_at, sent_at, delivered, recipient ``room`` or ``direct`` with the
    user and the partner(s) it reached, mentioned users and their partners; no bodies:
    an agenda's body lists other cases too) and ``audit`` (id, at, actor, role, action,
    subject of every entry naming the case or one of its actions).
    """
    assert case.id is not None and overleg.id is not None
    shown = caseid.display(case.code)
    named = audit.whole_ids([shown])  # (as an erasure finds it: not a longer ID)
    partner_names = overlegs.partner_names(session, overleg.id)
    members = {m.user_id: m for m in overlegs.members(session, overleg.id, with_left=True)}

    def partner_of(user: str) -> str | None:
        m = members.get(user)
        return partner_names.get(m.partner_id) if m and m.partner_id is not None else None

    rows = actions.of_case(session, case.id)
    action_views = [{
        "id": f"A{a.number}", "partner": partner_names.get(a.partner_id),
        "due": _iso(a.due), "description": a.description, "status": a.status,
        "created_at": _iso(a.created_at), "done_at": _iso(a.done_at), "done_by": a.done_by,
        "history": [{"at": _iso(h.at), "actor": h.actor, "kind": h.kind, "old": h.old,
                     "new": h.new} for h in actions.history(session, a.id or 0)]}
        for a in sorted(rows, key=lambda a: a.number)]
    action_ids = {f"A{a.number}" for a in rows}

    entries = [e for e in audit.entries(session, overleg.id)
               if named.search(e.subject) or (e.subject.split() or [""])[0] in action_ids]
    audit_views = [{"id": e.id, "at": _iso(e.at), "actor": e.actor, "role": e.role,
                    "action": e.action, "subject": e.subject} for e in entries]

    meeting_views = []
    for meeting in agendas.meetings_of_case(session, case.id):
        item = agendas.item(session, meeting.id or 0, case.id)
        meeting_views.append({
            "id": f"M{meeting.number}", "kind": meeting.kind, "status": meeting.status,
            "starts_at": _iso(meeting.starts_at), "minutes": meeting.minutes,
            "place": meeting.place, "agenda_kind": item.kind if item else None,
            "added_at": _iso(item.added_at) if item else None,
            "agenda_sent_at": _iso(meeting.agenda_sent_at),
            "agenda_version": meeting.agenda_version})
    numbers = {m.id: f"M{m.number}" for m in session.exec(
        select(Meeting).where(Meeting.overleg_id == overleg.id))}

    info = [{"meeting": numbers.get(r.meeting_id), "partner": partner_names.get(r.partner_id),
             "user": r.user_id, "holds": r.holds, "at": _iso(r.at)}
            for r in session.exec(select(InfoAnswer).where(InfoAnswer.case_id == case.id)
                                  .order_by(col(InfoAnswer.at), col(InfoAnswer.id)))]

    linked = actions.links_of_case(session, case.id)
    partner_rows = {p.id: p for p in overlegs.partners(session, overleg.id)}
    partners = [{"name": partner_rows[link.partner_id].name,
                 "kind": partner_rows[link.partner_id].kind, "linked_at": _iso(link.linked_at)}
                for link in linked if link.partner_id in partner_rows]

    messages = []
    own = audit.whole_ids(sorted(action_ids)) if action_ids else None
    about = retention.case_message_ids(session, case, sorted(action_ids))
    for row in session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(about))
                            .order_by(col(OutboxMessage.id))):
        texts = (row.body, row.formatted_body, row.content_json)
        if not any(named.search(t or "") or (own and own.search(t or "")) for t in texts):
            continue  # names neither the case nor an action (an agenda's poll or .ics)
        direct = row.room_id != overleg.room_id
        if direct and row.room_id not in members:
            continue  # another overleg's room (a case ID is unique, but be exact)
        mentioned = row.mentions.split()
        ref_meeting = None
        if row.ref and row.ref.startswith("agenda:") and row.ref[7:].isdigit():
            ref_meeting = numbers.get(int(row.ref[7:]))
        messages.append({
            "id": row.id, "template": row.template, "meeting": ref_meeting,
            "created_at": _iso(row.created_at), "sent_at": _iso(row.sent_at),
            "delivered": row.remote_id is not None,
            "recipient": "direct" if direct else "room",
            "user": row.room_id if direct else None,
            "partners": sorted({p for p in ([partner_of(row.room_id)] if direct else
                                            [partner_of(u) for u in mentioned]) if p}),
            "mentioned": mentioned})

    return {
        "format": FORMAT,
        "generated_at": _iso(now),
        "overleg": {"id": overleg.id, "name": overleg.name, "locale": overleg.locale,
                    "timezone": overleg.timezone, "retention_years": overleg.retention_years},
        "case": {"id": shown, "status": case.status, "phase": case.phase,
                 "phase_since": _iso(case.phase_since), "opened_at": _iso(case.opened_at),
                 "closed_at": _iso(case.closed_at), "close_reason": case.close_reason,
                 "reference_hash_held": case.ref_hash is not None},
        "phases": _phases(case, entries),
        "weging": [{"at": _iso(e.at), "outcome": e.action.partition(".")[2],
                    "action": e.action} for e in entries if e.action.startswith("weging.")],
        "meetings": meeting_views,
        "information_answers": info,
        "partners": partners,
        "core_partners": sorted(p.name for p in partner_rows.values() if p.kind == "core"),
        "actions": action_views,
        "messages": messages,
        "audit": audit_views,
    }


def _phases(case: Case, entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """The phases the case went through, with when: read from its audit entries (the case
    row holds only the current phase); a weging outcome moves a case too."""
    out: list[dict[str, Any]] = [{"at": _iso(case.opened_at), "phase": "melding",
                                  "action": "case.open"}]
    moves = {"weging.via_casusoverleg": "casusoverleg", "weging.meer_informatie": "weging"}
    for e in entries:
        words = e.subject.split()
        if e.action == "case.phase" and len(words) > 1 and "->" in words[1]:
            phase = words[1].partition("->")[2]
        elif e.action == "case.close":
            phase = "afgesloten"
        elif e.action in moves:
            phase = moves[e.action]
        else:
            continue
        out.append({"at": _iso(e.at), "phase": phase, "action": e.action})
    return out


def removal(session: Session, case: Case) -> dict[str, int]:
    """What an erasure of ``case`` would remove, per kind (the same kinds as
    ``retention.remove_case`` reports), counted without changing anything: the
    administrator confirms it first."""
    assert case.id is not None
    of_case = actions.of_case(session, case.id)
    view = {"agenda lines": len(agendas.meetings_of_case(session, case.id)),
            "information answers": len(list(session.exec(
                select(InfoAnswer.id).where(InfoAnswer.case_id == case.id)))),
            "actions": len(of_case),
            "partner links": len(actions.linked_partner_ids(session, case.id))}
    numbers = [f"A{a.number}" for a in of_case]
    view["messages"] = len(retention.case_message_ids(session, case, numbers))
    return view


def _unsent_agendas(session: Session, overleg: Overleg, shown: str) -> list[str]:
    """The meetings (``M…``) whose agenda naming ``shown`` waits unsent in the outbox."""
    named = audit.whole_ids([shown])
    refs = [row.ref for row in session.exec(select(OutboxMessage).where(
        OutboxMessage.template == "agenda/agenda", col(OutboxMessage.sent_at).is_(None),
        col(OutboxMessage.body).contains(shown))) if named.search(row.body)]
    ids = {int(r[7:]) for r in refs if r and r.startswith("agenda:") and r[7:].isdigit()}
    found = session.exec(select(Meeting).where(Meeting.overleg_id == overleg.id,
                                               col(Meeting.id).in_(ids))).all() if ids else []
    return [f"M{m.number}" for m in sorted(found, key=lambda m: m.number)]


def erase(session: Session, overleg: Overleg, case: Case, *, reason: str, actor: str,
          now: datetime) -> tuple[dict[str, int], list[Outgoing]]:
    """Erase ``case`` before its retention term: ``retention.remove_case`` (rows, outbox
    rows naming it, its timers; audit subjects naming it blanked), a tombstone
    (``storage.cases.bury``), the audit entry ``case.erased`` (subject: the ID and the
    ground) and the notice ``case/erased`` for the overleg's room, mentioning its chairs.

    ``reason`` is one of ``ERASE_REASONS`` (ValueError otherwise). Returns what was removed
    per kind and the notice to enqueue. An agenda not yet delivered that named the case goes
    with it (its other lines too: a rendered message is not edited); the notice names its
    meeting (``withdrawn``) so the chair can send it again.
    """
    if reason not in ERASE_REASONS:
        raise ValueError(f"reason must be one of {', '.join(ERASE_REASONS)}")
    assert overleg.id is not None
    shown = caseid.display(case.code)
    withdrawn = _unsent_agendas(session, overleg, shown)
    counts = retention.remove_case(session, case, reason=reason, now=now)
    audit.record(session, overleg_id=overleg.id, actor=actor, role="admin",
                 action="case.erased", subject=f"{shown} {reason}", now=now)
    chairs = tuple(m.user_id for m in overlegs.members(session, overleg.id)
                   if m.role == "chair")
    notice = Outgoing("case/erased", {"case": shown, "reason": reason, "erased_at": now,
                                      "chairs": list(chairs), "withdrawn": withdrawn},
                      room=overleg.room_id, locale=overleg.locale, timezone=overleg.timezone,
                      mentions=chairs)
    return counts, [notice]
