"""Ticket numbers and status changes; every change leaves an event row (the audit trail)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.inserts import insert_construct
from bot.store.models import Ticket, TicketCounter, TicketEvent, TicketStatus

# Allowed moves of the consultation SOP; anything else is a bug or a stale button.
TRANSITIONS: dict[TicketStatus | None, frozenset[TicketStatus]] = {
    None: frozenset({TicketStatus.ASKED}),
    TicketStatus.ASKED: frozenset({TicketStatus.ANSWERED, TicketStatus.QUEUED}),
    TicketStatus.ANSWERED: frozenset({TicketStatus.RESOLVED, TicketStatus.QUEUED}),
    # A CSO may also hand a ticket back to the bot with a knowledge-base answer (→ answered).
    TicketStatus.QUEUED: frozenset(
        {
            TicketStatus.IN_PROGRESS,
            TicketStatus.AWAITING_DOCUMENTS,
            TicketStatus.ESCALATED,
            TicketStatus.ANSWERED,
            TicketStatus.RESOLVED,
        }
    ),
    TicketStatus.IN_PROGRESS: frozenset(
        {
            TicketStatus.AWAITING_DOCUMENTS,
            TicketStatus.ESCALATED,
            TicketStatus.ANSWERED,
            TicketStatus.RESOLVED,
            TicketStatus.QUEUED,
        }
    ),
    TicketStatus.AWAITING_DOCUMENTS: frozenset(
        {
            TicketStatus.IN_PROGRESS,
            TicketStatus.ESCALATED,
            TicketStatus.ANSWERED,
            TicketStatus.RESOLVED,
        }
    ),
    TicketStatus.ESCALATED: frozenset(
        {
            TicketStatus.IN_PROGRESS,
            TicketStatus.AWAITING_DOCUMENTS,
            TicketStatus.ANSWERED,
            TicketStatus.RESOLVED,
        }
    ),
    TicketStatus.RESOLVED: frozenset({TicketStatus.QUEUED}),
}


class InvalidTransition(Exception):
    pass


async def next_ticket_number(
    session: AsyncSession, prefix: str, now: datetime, timezone: str
) -> str:
    """`KNS-20261123-0007`: the office's local date and a per-day sequence.

    The counter is bumped with one atomic upsert, so two processes opening tickets in the same
    instant still get different numbers (the unique index on ticket.number backs this up).
    """
    day = now.astimezone(ZoneInfo(timezone)).strftime("%Y%m%d")
    scope = f"{prefix}-{day}"
    statement = (
        insert_construct(session)(TicketCounter)
        .values(scope=scope, last=1)
        .on_conflict_do_update(
            index_elements=["scope"],
            set_={"last": col(TicketCounter.last) + 1},
        )
        .returning(col(TicketCounter.last))
    )
    sequence = (await session.exec(statement)).scalar_one()
    return f"{scope}-{sequence:04d}"


def change_status(
    session: AsyncSession,
    ticket: Ticket,
    to_status: TicketStatus,
    *,
    actor: str,
    reason: str,
    at: datetime,
) -> TicketEvent:
    """Move a ticket and record who, when, from, to and why."""
    from_status = TicketStatus(ticket.status) if ticket.status else None
    if to_status not in TRANSITIONS[from_status]:
        raise InvalidTransition(f"{ticket.number}: {from_status} → {to_status}")
    ticket.status = to_status
    ticket.updated_at = at
    if to_status is TicketStatus.RESOLVED:
        ticket.resolved_at = at
    event = TicketEvent(
        ticket_id=ticket.id,  # type: ignore[arg-type]
        at=at,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
    )
    session.add(ticket)
    session.add(event)
    return event
