"""Deleting what the privacy notice says is kept no longer than `service.retention_months`.

A stakeholder is removed, with every ticket, message, event, file, survey answer and job of
theirs, when nothing of theirs has happened since the cut-off and none of their tickets is open
(an open consultation is never cut short). Processed-update keys older than the cut-off go too,
and so do the transcripts supervisors exported for the removed tickets (they name the person).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.files import purge_incoming
from bot.store.models import (
    Attachment,
    Conversation,
    InboxStatus,
    InboxUpdate,
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

# Where /transkrip writes its exports (handlers/supervision.py EXPORTS), under the data directory.
EXPORTS = Path("files") / "exports"


@dataclass
class Purge:
    stakeholders: int = 0
    tickets: int = 0
    messages: int = 0
    files: int = 0  # stored attachments and exported transcripts
    update_keys: int = 0
    raw_updates: int = 0  # processed platform updates (they hold what people wrote)
    downloads: int = 0  # files left in the incoming folder


def exported_transcripts(data_dir: Path, numbers: Iterable[str]) -> list[Path]:
    """The exported transcripts (transkrip-<number>.html) of these tickets that exist on disk."""
    found = (data_dir / EXPORTS / f"transkrip-{number}.html" for number in numbers)
    return [path for path in found if path.is_file()]


def months_before(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + year, month + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _ids(rows: Iterable[int | None]) -> list[int]:
    # Primary keys of stored rows: never NULL, though the models type them optional.
    return [int(row) for row in rows if row is not None]


async def expired_stakeholders(session: AsyncSession, cutoff: datetime) -> list[int]:
    last_message = (
        select(Message.stakeholder_id, func.max(Message.created_at).label("at"))
        .group_by(col(Message.stakeholder_id))
        .subquery()
    )
    last_ticket = (
        select(Ticket.stakeholder_id, func.max(Ticket.updated_at).label("at"))
        .group_by(col(Ticket.stakeholder_id))
        .subquery()
    )
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
    return _ids((await session.exec(query)).all())


RAW_UPDATES_KEPT = timedelta(days=7)  # long past any platform's redelivery


async def purge(
    session: AsyncSession,
    data_dir: Path,
    cutoff: datetime,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> Purge:
    """Delete (or with dry_run only count) everything past the cut-off, in one transaction.

    With `now`, processed raw updates and leftover downloads older than RAW_UPDATES_KEPT go too:
    they are copies of what is kept elsewhere (the transcript, the ticket's files), and they
    hold what people wrote. Updates set aside as failed stay for an operator.
    """
    result = Purge()
    raw_cutoff = now - RAW_UPDATES_KEPT if now is not None else None
    owners = await expired_stakeholders(session, cutoff)
    owned = (
        list(
            (
                await session.exec(
                    select(Ticket.id, Ticket.number).where(col(Ticket.stakeholder_id).in_(owners))
                )
            ).all()
        )
        if owners
        else []
    )
    tickets = _ids(ticket_id for ticket_id, _ in owned)
    exports = exported_transcripts(data_dir, (number for _, number in owned))
    messages = (
        _ids(
            (
                await session.exec(
                    select(Message.id).where(col(Message.stakeholder_id).in_(owners))
                )
            ).all()
        )
        if owners
        else []
    )
    files = (
        list(
            (
                await session.exec(
                    select(Attachment).where(col(Attachment.ticket_id).in_(tickets))
                )
            ).all()
        )
        if tickets
        else []
    )
    keys = (
        await session.exec(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.processed_at < cutoff)
        )
    ).one()
    result.stakeholders, result.tickets, result.messages, result.files, result.update_keys = (
        len(owners),
        len(tickets),
        len(messages),
        len(files) + len(exports),
        int(keys),
    )
    if raw_cutoff is not None:
        result.raw_updates = int(
            (
                await session.exec(
                    select(func.count())
                    .select_from(InboxUpdate)
                    .where(InboxUpdate.status == InboxStatus.DONE)
                    .where(col(InboxUpdate.processed_at) < raw_cutoff)
                )
            ).one()
        )
    if dry_run:
        return result
    if tickets:
        await session.exec(
            update(StaffSession)
            .where(col(StaffSession.ticket_id).in_(tickets))
            .values(ticket_id=None)
        )
        for model in (SurveyResponse, ScheduledJob, TicketEvent, Attachment):
            await session.exec(delete(model).where(col(model.ticket_id).in_(tickets)))
    if messages:
        await session.exec(delete(OutboxItem).where(col(OutboxItem.message_id).in_(messages)))
        await session.exec(delete(Message).where(col(Message.id).in_(messages)))
    if tickets:
        await session.exec(delete(Message).where(col(Message.ticket_id).in_(tickets)))
        await session.exec(delete(Ticket).where(col(Ticket.id).in_(tickets)))
    if owners:
        await session.exec(
            delete(Conversation).where(col(Conversation.stakeholder_id).in_(owners))
        )
        await session.exec(delete(Stakeholder).where(col(Stakeholder.id).in_(owners)))
    await session.exec(delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < cutoff))
    if raw_cutoff is not None:
        await session.exec(
            delete(InboxUpdate)
            .where(col(InboxUpdate.status) == InboxStatus.DONE)
            .where(col(InboxUpdate.processed_at) < raw_cutoff)
        )
    await session.commit()
    if raw_cutoff is not None:
        result.downloads = purge_incoming(data_dir, raw_cutoff)
    for item in files:  # after the commit: a failed transaction must not have lost the files
        (data_dir / item.path).unlink(missing_ok=True)
    for path in exports:
        path.unlink(missing_ok=True)
    return result
