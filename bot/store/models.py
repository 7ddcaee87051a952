"""The tables. One ticket is one question (one "jenis layanan" in the service standard)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


class TicketStatus(StrEnum):
    ASKED = "asked"
    ANSWERED = "answered"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    AWAITING_DOCUMENTS = "awaiting_documents"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


# Statuses in which a human CSO owns the ticket: stakeholder messages attach to it.
HANDED_OFF = frozenset(
    {
        TicketStatus.QUEUED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.AWAITING_DOCUMENTS,
        TicketStatus.ESCALATED,
    }
)
OPEN_STATUSES = frozenset(TicketStatus) - {TicketStatus.RESOLVED}


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Waiting for the stakeholder to write again: a channel with a customer-service window
    # (WhatsApp) allows free-form messages only within it; released when they write.
    HELD = "held"


# Platform ids: WhatsApp's business-scoped user ids run to about 140 characters, its message ids
# to about 100; Telegram's are far shorter.
PLATFORM_ID_LENGTH = 200


def _utc_column(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Stakeholder(SQLModel, table=True):
    """A person talking to the bot on one channel; created only once they consent."""

    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    channel_user_id: str = Field(max_length=PLATFORM_ID_LENGTH)
    chat_id: str = Field(max_length=PLATFORM_ID_LENGTH)
    full_name: str | None = Field(default=None, max_length=100)
    role: str | None = Field(default=None, max_length=40)
    satker_code: str | None = Field(default=None, max_length=6)
    organisation: str | None = Field(default=None, max_length=150)
    phone: str | None = Field(default=None, max_length=20)
    # Their last message, kept on channels with a customer-service window (WhatsApp: 24 hours).
    last_inbound_at: datetime | None = _utc_column(nullable=True)
    # Asked on channels where messages outside that window need the person's opt-in.
    notifications_opt_in: bool | None = None
    consent_at: datetime = _utc_column()
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


class Conversation(SQLModel, table=True):
    """Where a stakeholder is in the SOP, kept in the database so a restart resumes it."""

    stakeholder_id: int = Field(primary_key=True, foreign_key="stakeholder.id")
    step: str = Field(default="idle", max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _utc_column()


class Ticket(SQLModel, table=True):
    """One consultation question and its way to Resolved."""

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    office: str = Field(max_length=40, index=True)
    stakeholder_id: int = Field(foreign_key="stakeholder.id", index=True)
    channel: str = Field(max_length=20)
    status: str = Field(max_length=24, index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    topic_id: str | None = Field(default=None, max_length=80)
    match_score: float | None = None
    match_candidates: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    section: str | None = Field(default=None, max_length=40)
    assignee: str | None = Field(default=None, max_length=100)
    escalated_to: str | None = Field(default=None, max_length=100)
    desk_chat_id: str | None = Field(default=None, max_length=64)
    desk_thread_id: str | None = Field(default=None, max_length=64)
    desk_thread_link: str | None = Field(default=None, max_length=300)  # made by the channel
    requested_documents: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    opened_at: datetime = _utc_column(index=True)
    service_due_at: datetime | None = _utc_column(
        nullable=True
    )  # 20 working minutes after the question
    deadline_at: datetime | None = _utc_column(nullable=True)  # 3 working days, office calendar
    status_since: datetime | None = _utc_column(nullable=True)
    first_answer_at: datetime | None = _utc_column(nullable=True)
    resolved_at: datetime | None = _utc_column(nullable=True)
    updated_at: datetime = _utc_column()


class TicketEvent(SQLModel, table=True):
    """One status change: the audit trail and the source of service-level figures."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = _utc_column()
    actor: str = Field(max_length=64)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str = Field(max_length=24)
    reason: str = Field(max_length=200)


class Message(SQLModel, table=True):
    """Every message in either direction: the transcript."""

    __table_args__ = (Index("ix_message_chat", "channel", "chat_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    stakeholder_id: int | None = Field(default=None, foreign_key="stakeholder.id", index=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    channel: str = Field(max_length=20)
    chat_id: str = Field(max_length=PLATFORM_ID_LENGTH)
    direction: str = Field(max_length=3)
    actor: str = Field(max_length=64)
    kind: str = Field(max_length=20)
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    internal: bool = False  # a CSO's note: in the transcript, never shown to the stakeholder
    created_at: datetime = _utc_column()


class Attachment(SQLModel, table=True):
    """A file received or sent in a consultation, stored under the data directory per ticket."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    direction: str = Field(max_length=3)
    file_name: str = Field(max_length=200)
    file_type: str = Field(max_length=20)
    size: int
    sha256: str = Field(max_length=64)
    path: str = Field(max_length=400)  # relative to the data directory
    created_at: datetime = _utc_column()


class StaffSession(SQLModel, table=True):
    """Which ticket a CSO working from a private chat is answering (no forum topics there)."""

    __tablename__ = "staff_session"

    channel: str = Field(primary_key=True, max_length=20)
    user_id: str = Field(primary_key=True, max_length=64)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    picking_ticket_id: int | None = None  # documents being picked with /dokumen buttons
    picked: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _utc_column()


class JobKind(StrEnum):
    PROGRESS = "progress"  # progress message to the stakeholder
    QUEUE_REMINDER = "queue_reminder"  # nobody has taken the ticket yet
    DEADLINE_REMINDER = "deadline_reminder"  # part of the time to the deadline has passed
    AUTO_ESCALATE = "auto_escalate"  # before a breach, to the Kepala Seksi
    BREACH = "breach"  # the deadline passed: supervisors are told
    AUTO_CLOSE = "auto_close"  # an answer never confirmed: closed after some working days


class ScheduledJob(SQLModel, table=True):
    """Work due at a time, kept in the database so restarts and extra processes lose nothing.

    At most one pending job of a kind per ticket (the unique index): missed progress messages
    after downtime collapse into one. A job runs through the engine under the key `job:<id>`, so
    it takes effect exactly once, in the same transaction as the messages it sends.
    """

    __tablename__ = "scheduled_job"
    __table_args__ = (
        Index("ix_job_due", "status", "due_at"),
        Index("ux_job_pending", "ticket_id", "kind", "pending", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=24)
    due_at: datetime = _utc_column()
    status: str = Field(default="pending", max_length=10)  # pending | done | cancelled
    pending: bool | None = (
        True  # True while pending, NULL afterwards (so the unique index allows history)
    )
    claimed_until: datetime | None = _utc_column(nullable=True)
    done_at: datetime | None = _utc_column(nullable=True)
    created_at: datetime = _utc_column()


class SurveyResponse(SQLModel, table=True):
    """One SKM answer: an element's score (1–4), or the closing comment (element "comment")."""

    __tablename__ = "survey_response"
    __table_args__ = (UniqueConstraint("ticket_id", "element"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    element: str = Field(max_length=10)
    score: int | None = None
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _utc_column()


class LoginToken(SQLModel, table=True):
    """A one-time link into the supervision dashboard, sent by the bot to a supervisor (/masuk).

    Only the sha256 of the token is kept; it expires quickly and works once, in any process.
    """

    __tablename__ = "login_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    staff_name: str = Field(max_length=100)
    expires_at: datetime = _utc_column()
    used_at: datetime | None = _utc_column(nullable=True)
    created_at: datetime = _utc_column()


class OutboxItem(SQLModel, table=True):
    """A message waiting to be delivered, written in the same transaction that decided to send it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_platform_message", "channel", "platform_message_id"),  # status callbacks
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    channel: str = Field(max_length=20)
    chat_id: str = Field(max_length=PLATFORM_ID_LENGTH)
    status: str = Field(default=OutboxStatus.PENDING, max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = _utc_column()
    claimed_at: datetime | None = _utc_column(nullable=True)
    sent_at: datetime | None = _utc_column(nullable=True)
    platform_message_id: str | None = Field(default=None, max_length=PLATFORM_ID_LENGTH)
    last_error: str | None = Field(default=None, max_length=500)
    # The pre-approved template it went out as, or that announced it while it was held.
    template: str | None = Field(default=None, max_length=100)


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # could not be processed after every retry; kept for an operator


class InboxUpdate(SQLModel, table=True):
    """A platform update as received, stored before the platform is told we have it.

    Processing reads from here, so a crash between receiving and handling loses nothing: the
    row is still pending after a restart. `sender` orders and serialises one person's updates.
    """

    __tablename__ = "inbox_update"
    __table_args__ = (
        Index("ix_inbox_pending", "status", "next_attempt_at"),
        Index("ix_inbox_sender", "channel", "sender", "status", "id"),  # one sender's order
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    channel: str = Field(max_length=20)
    sender: str = Field(max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=InboxStatus.PENDING, max_length=10)
    attempts: int = 0
    received_at: datetime = _utc_column()
    next_attempt_at: datetime = _utc_column()
    claimed_until: datetime | None = _utc_column(nullable=True)
    processed_at: datetime | None = _utc_column(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)


class ProcessedUpdate(SQLModel, table=True):
    """Keys of inbound updates already handled, so a redelivered update is a no-op."""

    __tablename__ = "processed_update"

    key: str = Field(primary_key=True, max_length=100)
    processed_at: datetime = _utc_column()


class TicketCounter(SQLModel, table=True):
    """Per-office, per-day sequence behind ticket numbers; incremented atomically."""

    __tablename__ = "ticket_counter"

    scope: str = Field(primary_key=True, max_length=60)
    last: int = 0


class LoginFailure(SQLModel, table=True):
    """A failed password login on the dashboard, by client address and by user name.

    In the database so that every process counts the same failures; rows older than the
    throttle window (bot/web/throttle.py) are deleted as new attempts come in.
    """

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_ip", "ip", "at"),
        Index("ix_login_failure_account", "account", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ip: str = Field(max_length=64)
    account: str = Field(max_length=100)
    at: datetime = _utc_column(index=True)


class RevokedSession(SQLModel, table=True):
    """A dashboard session ended with /keluar: its cookie's MAC, refused until the cookie expires
    (then the row is deleted; an expired cookie is refused anyway)."""

    __tablename__ = "revoked_session"

    mac: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = _utc_column(index=True)


class SendBudget(SQLModel, table=True):
    """A token bucket shared by every process (bot/send_budget.py): the platform's message rate
    (Telegram: 30/s for the bot, 20/min per group) holds for the deployment, not per process."""

    __tablename__ = "send_budget"

    bucket: str = Field(primary_key=True, max_length=100)
    tokens: float
    updated_at: datetime = _utc_column()
