"""All tables. A case is only a random ID: no column here can hold a name or other identifier."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Table, UniqueConstraint, false, text, true
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _utc(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable)


class Overleg(SQLModel, table=True):
    """One standing case-meeting body, bound to one chat room (the tenant)."""

    id: int | None = Field(default=None, primary_key=True)
    room_id: str = Field(unique=True, index=True)
    name: str
    timezone: str = "Europe/Amsterdam"
    locale: str = "nl"
    meeting_minutes: int = 90
    # Timed work (issue: action plan and reminders).
    working_days: str = "12345"  # ISO weekdays that are working days
    holiday_calendar: str = "NL"  # "NL" (Dutch public holidays) or "" for none
    due_soon_days: int = 2  # working days before a due date
    escalate_after_days: int = 5  # working days overdue before the chair is told too
    remind_by_dm: bool = False
    retention_years: int = 5  # closed cases are purged this long after closure
    monitor_weeks: int = 12  # cases in monitoren come back on an agenda this often
    agenda_days_before: int = 5  # the agenda goes out N days before, at 09:00
    nudge_days_before: int = 2  # partners without an answer are nudged M days before
    # At a meeting's start each member confirms presence; with this also confidentiality
    # (geheimhouding). Off: attendance only (issue 24).
    ask_confidentiality: bool = Field(default=True,
                                      sa_column_kwargs={"server_default": true()})
    # The highest action number (A1, A2…) ever issued here: numbers of erased or purged
    # actions are never given out again (their audit entries name only the number; issue 24).
    last_action_number: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(sa_column=_utc())


class Partner(SQLModel, table=True):
    """A partner organisation in an overleg: core (gemeente, politie, OM) or external."""

    __table_args__ = (UniqueConstraint("overleg_id", "name_key"),)
    id: int | None = Field(default=None, primary_key=True)
    overleg_id: int = Field(foreign_key="overleg.id", index=True)
    name: str
    name_key: str  # casefolded name, for case-insensitive lookups and uniqueness
    kind: str = "external"  # core | case (RvdK, Reclassering: per case) | external (annex 1)
    created_at: datetime = Field(sa_column=_utc())


class Member(SQLModel, table=True):
    """A person (opaque platform user ID) in an overleg, with a role and maybe a partner."""

    __table_args__ = (UniqueConstraint("overleg_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    overleg_id: int = Field(foreign_key="overleg.id", index=True)
    user_id: str
    partner_id: int | None = Field(default=None, foreign_key="partner.id")
    role: str = "partner"  # chair | coordinator | partner
    created_at: datetime = Field(sa_column=_utc())
    # Left the overleg's room: no agendas, reminders or DMs until they join again.
    left_room_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Teams: the name Teams shows for them (mention, own messages); goes with the row.
    # Only the Teams transport reads it (names in sent messages); the core never does.
    display_name: str | None = None


class MeetingSeries(SQLModel, table=True):
    """A series of meetings on a fixed cadence, numbered S1, S2… per overleg (issue 24).

    ``rule`` is an RFC 5545 recurrence rule without DTSTART and UNTIL (``FREQ=MONTHLY;
    BYDAY=+2TU``); the occurrences are the rule's days from ``first_day`` through
    ``last_day`` at ``hour``:``minute`` on the wall clock of ``timezone``. Each occurrence
    is a ``Meeting`` row (``series_id``, ``series_start``); an occurrence of the rule with
    no planned row is an exception of the series (skipped or cancelled).
    """

    __table_args__ = (UniqueConstraint("overleg_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    overleg_id: int = Field(foreign_key="overleg.id", index=True)
    number: int
    rule: str
    first_day: date
    last_day: date
    hour: int
    minute: int
    timezone: str
    minutes: int
    place: str | None = None
    kind: str = "casusoverleg"
    holidays: str = ""  # shift | skip | "" (none fell on a day off when planned)
    created_at: datetime = Field(sa_column=_utc())


class Meeting(SQLModel, table=True):
    """A planned case meeting, numbered M1, M2… per overleg; maybe an occurrence of a
    series (``series_start``: the moment the series' rule gives it, its RECURRENCE-ID)."""

    __table_args__ = (UniqueConstraint("overleg_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    overleg_id: int = Field(foreign_key="overleg.id", index=True)
    number: int
    starts_at: datetime = Field(sa_column=_utc())
    minutes: int
    place: str | None = None
    kind: str = "casusoverleg"  # casusoverleg | weging (core partners only)
    status: str = "planned"  # planned | cancelled
    created_at: datetime = Field(sa_column=_utc())
    agenda_sent_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    agenda_version: int = 0  # how many times the agenda was sent
    series_id: int | None = Field(default=None, foreign_key="meetingseries.id", index=True)
    series_start: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # When the members were asked to confirm presence (at the start, or the chair's
    # ``!overleg starten``); once per meeting. Whether the question was of confidentiality too.
    presence_asked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    presence_confidential: bool = Field(default=False,
                                        sa_column_kwargs={"server_default": false()})


class AgendaItem(SQLModel, table=True):
    """A case on a meeting's agenda: its ID and the kind of discussion, nothing else."""

    __table_args__ = (UniqueConstraint("meeting_id", "case_id"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    kind: str = "new"  # new | review | close
    added_at: datetime = Field(sa_column=_utc())


class Attendance(SQLModel, table=True):
    """One answer of a partner to "will you come to M1?"; the latest one not withdrawn counts.

    Every answer is kept (history); a removed reaction only marks its own row withdrawn.
    """

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    user_id: str
    attends: bool
    delegate: str | None = None
    source: str = "command"  # command | reaction | poll | poll_spoiled (MSC3381) | card
    source_event_id: str | None = Field(default=None, index=True)
    withdrawn: bool = False
    at: datetime = Field(sa_column=_utc())


class Presence(SQLModel, table=True):
    """One person's confirmation that they are present at a meeting (and, when the question
    asked it, that they keep what is discussed confidential: geheimhouding). The first
    confirmation not withdrawn counts; a removed reaction withdraws only its own row.
    Who did not confirm gets no direct messages about the meeting's cases (issue 24)."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    user_id: str
    partner_id: int | None = Field(default=None, foreign_key="partner.id")  # at that time
    confidential: bool = False  # confidentiality confirmed too (the question asked it)
    source: str = "command"  # command | reaction | card
    source_event_id: str | None = Field(default=None, index=True)
    withdrawn: bool = False
    at: datetime = Field(sa_column=_utc())


class PollEnd(SQLModel, table=True):
    """An agenda's poll closed by an ``m.poll.end`` (MSC3381, Chat Polls): responses sent
    after ``ended_at`` (their own timestamp) are not counted. The first end counts."""

    poll_event_id: str = Field(primary_key=True)
    ended_at: datetime = Field(sa_column=_utc())
    sender: str


class InfoAnswer(SQLModel, table=True):
    """A partner's answer to "do you hold relevant information on this case?" for a meeting."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    case_id: int = Field(foreign_key="case.id")
    partner_id: int = Field(foreign_key="partner.id")
    user_id: str
    holds: bool
    at: datetime = Field(sa_column=_utc())


class Case(SQLModel, table=True):
    """A case: a random pseudonymous ID, optionally with a keyed hash of an external reference."""

    id: int | None = Field(default=None, primary_key=True)
    overleg_id: int = Field(foreign_key="overleg.id", index=True)
    code: str = Field(unique=True, index=True)  # canonical, e.g. "7K2FQ" (shown as C-7K2FQ)
    ref_hash: str | None = Field(default=None, index=True)
    status: str = "open"  # open | closed
    phase: str = "melding"  # melding | weging | casusoverleg | monitoren | afgesloten
    phase_since: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    close_reason: str | None = None  # a weging outcome or "closed"
    opened_at: datetime = Field(sa_column=_utc())
    closed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class CaseTombstone(SQLModel, table=True):
    """A case erased before its retention term (``casusbot case erase``, AVG art. 17): the
    ID is never given out again, and what is left says when and on which ground it went.
    Only the random ID, the overleg and a reason from a fixed list: nothing about the case."""

    code: str = Field(primary_key=True)  # canonical, e.g. "7K2FQ" (was shown as C-7K2FQ)
    overleg_id: int = Field(index=True)
    reason: str  # one of commands.casefile.ERASE_REASONS
    erased_at: datetime = Field(sa_column=_utc())


class AnnexOrganisation(SQLModel, table=True):
    """An organisation on annex 1 of the covenant: the only external partners allowed.

    Deployment-wide. The mayor is mandated to amend the annex, so every entry records who
    approved it and when; a removed entry is kept (with ``removed_at``) for the record.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str
    name_key: str = Field(index=True)
    approved_by: str
    approved_at: datetime = Field(sa_column=_utc())
    added_by: str
    removed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    removed_by: str | None = None
    removal_approved_by: str | None = None


class CasePartner(SQLModel, table=True):
    """An external partner linked to one case (need-to-know)."""

    case_id: int = Field(foreign_key="case.id", primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", primary_key=True)
    linked_at: datetime = Field(sa_column=_utc())


class Action(SQLModel, table=True):
    """An action of a case's plan (integraal plan van aanpak), numbered A1, A2… per overleg."""

    __table_args__ = (UniqueConstraint("overleg_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    overleg_id: int = Field(foreign_key="overleg.id", index=True)
    number: int
    case_id: int = Field(foreign_key="case.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    due: date  # a calendar day in the overleg's zone
    description: str
    status: str = "open"  # open | done
    created_at: datetime = Field(sa_column=_utc())
    done_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    done_by: str | None = None


class ActionChange(SQLModel, table=True):
    """History of an action: every created/moved/assigned/done, with old and new value."""

    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(foreign_key="action.id", index=True)
    at: datetime = Field(sa_column=_utc())
    actor: str
    kind: str
    old: str | None = None
    new: str | None = None


class Timer(SQLModel, table=True):
    """Timed work: a row that becomes due; the sweep claims it and renders its messages.

    ``kind`` says which rule handles it; ``subject_id`` is the action, meeting or overleg.
    A handled row is kept (handled_at set) so nothing is ever sent twice.
    """

    # The partial indexes name SQLite's predicate only: PostgreSQL's (the same WHERE) is
    # in the migrations that make them (0005, 0006, 0008), which build both databases. Named
    # here, ``postgresql_where`` made SQLAlchemy load its PostgreSQL dialect with every
    # driver's module (2.2 MB) into a bot on SQLite; tests/unit/test_startup.py checks it
    # is not. (Alembic's comparison of models and migrations does not read the predicate.)
    __table_args__ = (Index("ix_timer_pending", "handled_at", "due_at"),
                      # "which overleggen have a digest planned?" on every sweep
                      Index("ix_timer_pending_kind", "kind", "overleg_id",
                            sqlite_where=text("handled_at IS NULL")),
                      # a changed action (meeting, case) cancels its pending timers
                      Index("ix_timer_pending_subject", "subject_id", "kind",
                            sqlite_where=text("handled_at IS NULL")))
    id: int | None = Field(default=None, primary_key=True)
    overleg_id: int = Field(foreign_key="overleg.id", index=True)
    kind: str
    subject_id: int
    due_at: datetime = Field(sa_column=_utc())
    handled_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    cancelled: bool = False


class DirectRoom(SQLModel, table=True):
    """The encrypted direct-message room the bot opened with one user."""

    user_id: str = Field(primary_key=True)
    room_id: str = Field(unique=True)
    created_at: datetime = Field(sa_column=_utc())


class ForbiddenWord(SQLModel, table=True):
    """A person reference the chair forbade, kept only as a keyed hash (never the word)."""

    overleg_id: int = Field(foreign_key="overleg.id", primary_key=True)
    word_hash: str = Field(primary_key=True)
    added_at: datetime = Field(sa_column=_utc())


class InboundEvent(SQLModel, table=True):
    """An inbound event handled once; inserted in the same transaction as its effects."""

    event_id: str = Field(primary_key=True)
    room_id: str
    handled_at: datetime = Field(sa_column=_utc())
    # The command changed nothing (refused, or only read): an edit of it is carried out.
    refused: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    sender: str | None = None  # who sent it (an edit counts only from the same sender)
    thread_root: str | None = None  # the thread it was sent in (an edit is answered there)


class OutboxMessage(SQLModel, table=True):
    """A message to send, written in the same transaction as the change that caused it."""

    # Sent rows stay (for answers by reaction); the deliverer looks only at unsent ones.
    # (PostgreSQL's predicate is in migration 0005: see Timer.)
    __table_args__ = (Index("ix_outbox_unsent", "room_id", "id",
                            sqlite_where=text("sent_at IS NULL")),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: str = Field(index=True)
    txn_id: str = Field(unique=True)
    msgtype: str = "m.notice"
    body: str
    formatted_body: str | None = None
    created_at: datetime = Field(sa_column=_utc())
    sent_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    last_error: str | None = None
    mentions: str = ""  # space-separated user IDs to mention (m.mentions)
    event_type: str = "m.room.message"
    content_json: str | None = None  # full content for other event types (polls)
    attachment: str | None = None  # a small text file to upload and send as m.file
    attachment_name: str | None = None
    ref: str | None = Field(default=None, index=True)  # e.g. "agenda:12": what answers map to
    remote_id: str | None = Field(default=None, index=True)  # the sent event's ID
    # The template the message was rendered from, e.g. "action/overdue" (logs and tests).
    template: str = Field(default="", sa_column_kwargs={"server_default": ""})
    in_reply_to: str | None = None  # the command's event this answers (m.in_reply_to)
    thread_root: str | None = None  # the thread it was asked in (rel_type m.thread)


class OutboxLease(SQLModel, table=True):
    """Which instance sends a room's messages for now, so two instances never both send.

    A homeserver drops a repeated transaction ID only from the same device; two instances
    are two devices, so they must not send the same row. The lease runs out if its holder
    dies, and another instance takes the room over.
    """

    room_id: str = Field(primary_key=True)
    holder: str
    until: datetime = Field(sa_column=_utc())


class JoinedRoom(SQLModel, table=True):
    """When the bot joined a room: events from before it are never handled."""

    room_id: str = Field(primary_key=True)
    joined_at: datetime = Field(sa_column=_utc())


class RoomAbsence(SQLModel, table=True):
    """A time the bot was out of a room (left, kicked, banned) until it joined again.

    What was said in the room meanwhile is not carried out late (the chairs are told once,
    ``told_at``; who else sent what could not be decrypted once each; ``told``); timed
    work and messages for the room wait until ``back_at``. ``left_at`` is None when the
    bot's leave was not seen (it was down): then the absence runs from its previous join.
    """

    __table_args__ = (UniqueConstraint("room_id", "left_at"),)
    id: int | None = Field(default=None, primary_key=True)
    room_id: str = Field(index=True)
    left_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    back_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    told_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    told: str = ""  # space-separated user IDs told that what they sent then was not read


class RoomUpgrade(SQLModel, table=True):
    """An overleg's room replaced by a new one (``m.room.tombstone``, sent by someone with
    the power to). The overleg, its data and its timers move to ``new_room_id`` when the
    bot has joined it (``moved_at``); from the tombstone on the old room gets no messages."""

    old_room_id: str = Field(primary_key=True)
    new_room_id: str = Field(index=True)
    sender: str
    tombstoned_at: datetime = Field(sa_column=_utc())
    moved_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # The bot could not join the new room: the chairs were asked (by DM) to invite it.
    invite_asked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class SyncState(SQLModel, table=True):
    """The sync token per device, saved only after the batch's events were handled."""

    device_key: str = Field(primary_key=True)
    token: str


class AuditEntry(SQLModel, table=True):
    """Append-only audit log; each row carries the hash of the previous one (a chain)."""

    id: int | None = Field(default=None, primary_key=True)
    overleg_id: int | None = Field(default=None, index=True)
    at: datetime = Field(sa_column=_utc())
    actor: str
    role: str = ""
    action: str
    subject: str  # IDs only; blanked by the retention purge
    subject_digest: str  # SHA-256 of the subject as recorded; part of the chain
    prev_hash: str
    hash: str


class TeamsConversation(SQLModel, table=True):
    """Where the Teams bot may send: the conversation reference of a channel, group or
    personal chat, kept from the last activity seen there, with people's names removed.

    ``personal_user`` is set for a one-to-one chat: direct messages to that user go here.
    """

    conversation_id: str = Field(primary_key=True)
    reference_json: str
    personal_user: str | None = Field(default=None, index=True)
    updated_at: datetime = Field(sa_column=_utc())


class TeamsUnreachable(SQLModel, table=True):
    """A Teams user we could not message personally yet; the chair was told once."""

    user_id: str = Field(primary_key=True)
    noted_at: datetime = Field(sa_column=_utc())


class CrossSigningIdentity(SQLModel, table=True):
    """The bot account's one cross-signing identity (Matrix spec, "Cross-signing"), shared by
    every instance on this database: the master key's public part, and the three private
    keys sealed (AES-256-GCM, ``bot.crosssign``) under a key derived from the configuration,
    which the database never holds. The first instance writes the row; the others sign
    their devices with the keys it holds."""

    user_id: str = Field(primary_key=True)
    master_public: str
    sealed: str  # base64: nonce (12 bytes) + ciphertext of the three keys' seeds (JSON)
    created_at: datetime = Field(sa_column=_utc())


class KeyVerification(SQLModel, table=True):
    """An interactive verification of the bot by an administrator (Matrix spec, "Key
    verification framework" and "SAS"), from the request to its end. ``flow_id`` is the
    request's ``transaction_id``; ``device_id`` the bot's device that answered (only that
    device holds the flow's ephemeral keys, in memory). ``state``: ``ready`` (request
    answered), ``compare`` (emoji shown to the administrator), ``confirmed`` or ``rejected``
    (the administrator's answer, ``!verifieer ja|nee``, which any instance may record),
    ``done`` or ``cancelled`` (ended; ``reason`` says why, a cancel code)."""

    flow_id: str = Field(primary_key=True)
    device_id: str = Field(index=True)
    user_id: str
    other_device: str
    room_id: str | None = None  # the direct room of an in-room flow (None: to-device)
    state: str
    reason: str | None = None
    started_at: datetime = Field(sa_column=_utc())
    ended_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of ``model``, for statements built once at import (a plain-row
    select, insert or update through the session, docs/ARCHITECTURE.md "One way per job")."""
    return model.__table__  # type: ignore[attr-defined,no-any-return]
