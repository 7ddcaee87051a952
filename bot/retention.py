"""Deleting what the privacy notice says is kept no longer than `service.retention_months`.

A stakeholder is removed, with every ticket, message, event, file, survey answer and job of
theirs, when nothing of theirs has happened since the cut-off and none of their tickets is open
(an open consultation is never cut short). Processed-update keys older than the cut-off go too.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import (
    Attachment,
    Conversation,
    Message,
    OutboxItem,
    ProcessedUpdate,
    ScheduledJob,
    StaffSession,
    Stakeholder,
    SurveyResponse,
    Ticket,
    TicketEvent,
    TicketStatus,
)


@dataclass
class Purge:
    stakeholders: int = 0
    tickets: int = 0
    messages: int = 0
    files: int = 0
    update_keys: int = 0


def months_before(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + year, month + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


async def expired_stakeholders(session: AsyncSession, cutoff: datetime) -> list[int]:
    last_message = select(Message.stakeholder_id, func.max(Message.created_at).label("at")).group_by(Message.stakeholder_id).subquery()
    last_ticket = select(Ticket.stakeholder_id, func.max(Ticket.updated_at).label("at")).group_by(Ticket.stakeholder_id).subquery()
    open_owner = select(Ticket.stakeholder_id).where(Ticket.status != TicketStatus.RESOLVED)
    query = (
        select(Stakeholder.id)
        .outerjoin(last_message, last_message.c.stakeholder_id == Stakeholder.id)
        .outerjoin(last_ticket, last_ticket.c.stakeholder_id == Stakeholder.id)
        .where(Stakeholder.updated_at < cutoff)
        .where((last_message.c.at.is_(None)) | (last_message.c.at < cutoff))
        .where((last_ticket.c.at.is_(None)) | (last_ticket.c.at < cutoff))
        .where(col(Stakeholder.id).not_in(open_owner))
    )
    return [int(row) for row in (await session.exec(query)).all()]


async def purge(session: AsyncSession, data_dir: Path, cutoff: datetime, *, dry_run: bool = False) -> Purge:
    """Delete (or with dry_run only count) everything past the cut-off, in one transaction."""
    result = Purge()
    owners = await expired_stakeholders(session, cutoff)
    tickets = [int(t) for t in (await session.exec(select(Ticket.id).where(col(Ticket.stakeholder_id).in_(owners)))).all()] if owners else []
    messages = [int(m) for m in (await session.exec(select(Message.id).where(col(Message.stakeholder_id).in_(owners)))).all()] if owners else []
    files = list((await session.exec(select(Attachment).where(col(Attachment.ticket_id).in_(tickets)))).all()) if tickets else []
    keys = (await session.exec(select(func.count()).select_from(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff))).one()
    result.stakeholders, result.tickets, result.messages, result.files, result.update_keys = len(owners), len(tickets), len(messages), len(files), int(keys)
    if dry_run:
        return result
    if tickets:
        await session.exec(update(StaffSession).where(col(StaffSession.ticket_id).in_(tickets)).values(ticket_id=None))  # type: ignore[call-overload]
        for model in (SurveyResponse, ScheduledJob, TicketEvent, Attachment):
            await session.exec(delete(model).where(col(model.ticket_id).in_(tickets)))  # type: ignore[attr-defined, call-overload]
    if messages:
        await session.exec(delete(OutboxItem).where(col(OutboxItem.message_id).in_(messages)))  # type: ignore[call-overload]
        await session.exec(delete(Message).where(col(Message.id).in_(messages)))  # type: ignore[call-overload]
    if tickets:
        await session.exec(delete(Message).where(col(Message.ticket_id).in_(tickets)))  # type: ignore[call-overload]
        await session.exec(delete(Ticket).where(col(Ticket.id).in_(tickets)))  # type: ignore[call-overload]
    if owners:
        await session.exec(delete(Conversation).where(col(Conversation.stakeholder_id).in_(owners)))  # type: ignore[call-overload]
        await session.exec(delete(Stakeholder).where(col(Stakeholder.id).in_(owners)))  # type: ignore[call-overload]
    await session.exec(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff))  # type: ignore[call-overload]
    await session.commit()
    for item in files:  # after the commit: a failed transaction must not have lost the files
        (data_dir / item.path).unlink(missing_ok=True)
    return result
