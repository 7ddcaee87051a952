"""Reads of tickets and what belongs to them (attachments)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.labels import (
    CSO_KB_ANSWER,
    CSO_ONLY_ENTRY,
    GUIDANCE_ANSWER,
    PROVISIONAL_ANSWER,
    RESOLVED_BY_CSO,
    reason_pattern,
)
from bot.store.models import (
    Attachment,
    Direction,
    Message,
    Stakeholder,
    Ticket,
    TicketEvent,
    TicketStatus,
)

Row = TypeVar("Row", Ticket, Stakeholder)


def keep(session: AsyncSession, row: Row | None) -> Row | None:
    """Held for the session's life: SQLAlchemy's identity map holds objects only weakly, so a
    row a handler read but did not change would be dropped and read again by the next `get`
    of the same turn (one more query for most replies and every progress message)."""
    if row is not None:
        session.info.setdefault("kept", {})[(type(row), row.id)] = row
    return row


async def get(session: AsyncSession, ticket_id: int | None) -> Ticket | None:
    return keep(session, await session.get(Ticket, ticket_id)) if ticket_id is not None else None


async def get_with_stakeholder(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket with its stakeholder read in the same query and kept in the session, so a
    message to them (a progress report) needs no second read: one query per job fewer. Both
    already kept in the session (a batch of jobs read them together): no query at all."""
    kept = session.info.get("kept", {})
    ticket = kept.get((Ticket, ticket_id))
    if ticket is not None and (Stakeholder, ticket.stakeholder_id) in kept:
        return ticket  # type: ignore[no-any-return]
    query = (
        select(Ticket, Stakeholder)
        .join(Stakeholder, col(Stakeholder.id) == col(Ticket.stakeholder_id))
        .where(Ticket.id == ticket_id)
    )
    row = (await session.exec(query)).first()
    if row is None:
        return await get(session, ticket_id)
    ticket, stakeholder = row
    keep(session, stakeholder)
    return keep(session, ticket)


async def by_number(session: AsyncSession, number: str) -> Ticket | None:
    query = select(Ticket).where(Ticket.number == number.strip().upper())
    return keep(session, (await session.exec(query)).first())


async def latest_open(session: AsyncSession, stakeholder_id: int) -> Ticket | None:
    """The stakeholder's newest ticket that is not resolved: what a new message is about."""
    query = (
        select(Ticket)
        .where(Ticket.stakeholder_id == stakeholder_id, Ticket.status != TicketStatus.RESOLVED)
        .order_by(col(Ticket.id).desc())
        .limit(1)
    )
    return keep(session, (await session.exec(query)).first())


async def open_of(session: AsyncSession, stakeholder_id: int) -> list[Ticket]:
    query = (
        select(Ticket)
        .where(Ticket.stakeholder_id == stakeholder_id, Ticket.status != TicketStatus.RESOLVED)
        .order_by(col(Ticket.id))
    )
    return list((await session.exec(query)).all())


async def with_status(
    session: AsyncSession, statuses: set[str] | None = None, office: str | None = None
) -> list[Ticket]:
    """Oldest first; every ticket when `statuses` is empty."""
    query = select(Ticket).order_by(col(Ticket.opened_at), col(Ticket.id))
    if statuses:
        query = query.where(col(Ticket.status).in_(statuses))
    if office:
        query = query.where(Ticket.office == office)
    return list((await session.exec(query)).all())


async def in_desk_thread(session: AsyncSession, chat_id: str, thread_id: str) -> Ticket | None:
    query = select(Ticket).where(
        Ticket.desk_chat_id == chat_id, Ticket.desk_thread_id == thread_id
    )
    return keep(session, (await session.exec(query)).first())


async def received_attachments(session: AsyncSession, ticket_id: int) -> int:
    """How many files the stakeholder has sent for this ticket."""
    query = select(func.count()).where(
        Attachment.ticket_id == ticket_id, Attachment.direction == Direction.IN
    )
    return int((await session.exec(query)).one())


# How a ticket's knowledge-base suggestion stands, from its status changes' reasons: the bot
# handed it to a CSO with an entry it could not present as settled (sent as provisional or
# guidance, or kept for CSOs), or a CSO settled it since.
_SUGGESTED = tuple(map(reason_pattern, (PROVISIONAL_ANSWER, GUIDANCE_ANSWER, CSO_ONLY_ENTRY)))
_SETTLED = tuple(map(reason_pattern, (CSO_KB_ANSWER, RESOLVED_BY_CSO)))


async def suggestion_pending(session: AsyncSession, ticket_id: int) -> bool:
    """Whether the entry the bot handed over with still waits for a CSO to confirm or correct
    it (a reopened ticket a CSO already answered does not)."""
    query = (
        select(TicketEvent.reason)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(col(TicketEvent.id).desc())
    )
    for reason in (await session.exec(query)).all():  # a ticket has a handful of events
        if any(pattern.fullmatch(reason) for pattern in _SUGGESTED):
            return True
        if any(pattern.fullmatch(reason) for pattern in _SETTLED):
            return False
    return False


async def file_earlier_message(
    session: AsyncSession, stakeholder_id: int, text: str, ticket_id: int
) -> bool:
    """Put the stakeholder's latest message with this text that belongs to no ticket into the
    ticket's transcript (a question kept waiting for a choice, settled later)."""
    latest = (
        select(func.max(col(Message.id)))
        .where(
            col(Message.stakeholder_id) == stakeholder_id,
            col(Message.direction) == Direction.IN,
            col(Message.ticket_id).is_(None),
            col(Message.text) == text,
        )
        .scalar_subquery()
    )
    result = await session.exec(
        update(Message).where(col(Message.id) == latest).values(ticket_id=ticket_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
