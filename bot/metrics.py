"""Prometheus metrics of one csobot process, for operators who scrape /metrics.

What goes wrong in production shows up here before a stakeholder complains: the outbox backing
up (a channel down, a bot blocked, a rate limit), tickets piling up in a status nobody works,
consultations past their 3-working-day deadline (SLA breaches), and slow turns.

Counters and the turn histogram are counted by this process as things happen. The gauges are
read from the database by `refresh` (call it just before rendering a scrape), so every process
behind a load balancer reports the same shared state for them.

Every `Metrics` has its own `CollectorRegistry`, never the global default one, so several
instances (tests, several runtimes in one process) do not clash or share counts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func
from sqlmodel import col, select

from bot.store.db import SessionFactory
from bot.store.models import (
    InboxStatus,
    InboxUpdate,
    Message,
    OutboxItem,
    OutboxStatus,
    Ticket,
    TicketStatus,
)

# A turn is a database transaction plus matching: about a millisecond on a quiet SQLite file,
# seconds when the database is contended or remote.
TURN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Outbox rows still to deliver: waiting for an attempt, or claimed by a sender right now.
UNDELIVERED = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)

# Every status a ticket can be open in, reported even when 0 so dashboards keep the series.
OPEN_TICKET_STATUSES = tuple(s.value for s in TicketStatus if s is not TicketStatus.RESOLVED)


def _aware(value: datetime | str) -> datetime:
    """An aggregate over a UTC column, as an aware datetime.

    SQLite has no datetime type: MIN() may come back as the stored text, or as a naive
    datetime; both are UTC (see bot.store.types.UTCDateTime).
    """
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Metrics:
    """The counters, histogram and database gauges of one process, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._updates = Counter(
            "csobot_updates",
            "Inbound updates (messages, button presses) received, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self._sent = Counter(
            "csobot_messages_sent",
            "Outbound messages delivered to the platform, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self._failures = Counter(
            "csobot_delivery_failures",
            "Outbound delivery attempts that failed, by channel and kind "
            "(temporary: retried later; permanent: the message is marked failed).",
            ["channel", "kind"],
            registry=self.registry,
        )
        self._turn = Histogram(
            "csobot_turn_seconds",
            "Time to handle one inbound update, from receipt to the committed reply.",
            ["channel"],
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )
        self._outbox_pending = Gauge(
            "csobot_outbox_pending",
            "Outbox rows not yet delivered (pending or sending), by channel.",
            ["channel"],
            registry=self.registry,
        )
        self._outbox_oldest = Gauge(
            "csobot_outbox_oldest_seconds",
            "Age of the oldest undelivered outbox message, by channel (0 when none).",
            ["channel"],
            registry=self.registry,
        )
        self._outbox_held = Gauge(
            "csobot_outbox_held",
            "Messages held until the stakeholder writes (their WhatsApp window is closed), by "
            "channel.",
            ["channel"],
            registry=self.registry,
        )
        self._open_tickets = Gauge(
            "csobot_open_tickets",
            "Tickets not resolved, by status.",
            ["status"],
            registry=self.registry,
        )
        self._inbox = Gauge(
            "csobot_inbox_updates",
            "Received platform updates by state: pending (stored, not yet handled) and failed "
            "(set aside after every retry, waiting for an operator), by channel.",
            ["channel", "state"],
            registry=self.registry,
        )
        self._sla_breaches = Gauge(
            "csobot_sla_breaches",
            "Open tickets whose deadline has passed.",
            registry=self.registry,
        )
        # Channels whose outbox was seen non-empty: once emptied they report 0, not nothing,
        # so an alert on the series resolves instead of going stale.
        self._outbox_channels: set[str] = set()

    def update_received(self, channel: str) -> None:
        self._updates.labels(channel=channel).inc()

    def message_sent(self, channel: str) -> None:
        self._sent.labels(channel=channel).inc()

    def delivery_failed(self, channel: str, permanent: bool) -> None:
        kind = "permanent" if permanent else "temporary"
        self._failures.labels(channel=channel, kind=kind).inc()

    def observe_turn(self, channel: str, seconds: float) -> None:
        self._turn.labels(channel=channel).observe(seconds)

    async def refresh(self, sessions: SessionFactory, now: datetime) -> None:
        """Set the gauges from the database as of `now` (aware UTC).

        All queries run first, then each gauge family is cleared and set, so a series that no
        longer applies never keeps a stale value.
        """
        outbox_query = (
            select(
                OutboxItem.channel,
                func.count(col(OutboxItem.id)),
                func.min(Message.created_at),
            )
            .join(Message, col(Message.id) == col(OutboxItem.message_id))
            .where(col(OutboxItem.status).in_(UNDELIVERED))
            .group_by(col(OutboxItem.channel))
        )
        tickets_query = (
            select(Ticket.status, func.count(col(Ticket.id)))
            .where(Ticket.status != TicketStatus.RESOLVED.value)
            .group_by(col(Ticket.status))
        )
        breaches_query = (
            select(func.count(col(Ticket.id)))
            .select_from(Ticket)
            .where(
                Ticket.status != TicketStatus.RESOLVED.value,
                col(Ticket.deadline_at).is_not(None),
                col(Ticket.deadline_at) < now,
            )
        )
        inbox_query = (
            select(InboxUpdate.channel, InboxUpdate.status, func.count(col(InboxUpdate.id)))
            .where(col(InboxUpdate.status).in_([InboxStatus.PENDING, InboxStatus.FAILED]))
            .group_by(col(InboxUpdate.channel), col(InboxUpdate.status))
        )
        held_query = (
            select(OutboxItem.channel, func.count(col(OutboxItem.id)))
            .where(OutboxItem.status == OutboxStatus.HELD)
            .group_by(col(OutboxItem.channel))
        )
        async with sessions() as session:
            outbox = list((await session.exec(outbox_query)).all())
            held = list((await session.exec(held_query)).all())
            inbox = list((await session.exec(inbox_query)).all())
            tickets = list((await session.exec(tickets_query)).all())
            breaches = (await session.exec(breaches_query)).one()

        self._outbox_pending.clear()
        self._outbox_oldest.clear()
        for channel in self._outbox_channels:
            self._outbox_pending.labels(channel=channel).set(0)
            self._outbox_oldest.labels(channel=channel).set(0)
        for channel, count, oldest in outbox:
            self._outbox_channels.add(channel)
            self._outbox_pending.labels(channel=channel).set(count)
            age = (now - _aware(oldest)).total_seconds() if oldest is not None else 0.0
            self._outbox_oldest.labels(channel=channel).set(max(age, 0.0))

        self._outbox_held.clear()
        for channel, count in held:
            self._outbox_held.labels(channel=channel).set(count)

        self._open_tickets.clear()
        for status in OPEN_TICKET_STATUSES:
            self._open_tickets.labels(status=status).set(0)
        for status, count in tickets:
            self._open_tickets.labels(status=status).set(count)

        self._inbox.clear()
        for channel in self._outbox_channels | {row[0] for row in inbox}:
            for kept in (InboxStatus.PENDING, InboxStatus.FAILED):
                self._inbox.labels(channel=channel, state=kept.value).set(0)
        for channel, status, count in inbox:
            self._inbox.labels(channel=channel, state=status).set(count)

        self._sla_breaches.set(breaches)

    def render(self) -> tuple[bytes, str]:
        """The body and content type of a /metrics response."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
