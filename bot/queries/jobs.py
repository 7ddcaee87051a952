"""Reads and writes of the service clock's planned jobs that handlers need."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.queries.tickets import keep
from bot.store.models import JobKind, ScheduledJob, Stakeholder, Ticket


async def get(session: AsyncSession, job_id: int) -> ScheduledJob | None:
    return await session.get(ScheduledJob, job_id)


def plan(
    session: AsyncSession, ticket_id: int, kind: JobKind, due_at: datetime, now: datetime
) -> None:
    session.add(ScheduledJob(ticket_id=ticket_id, kind=kind, due_at=due_at, created_at=now))


async def load_with_tickets(session: AsyncSession, job_ids: list[int]) -> list[object]:
    """The jobs, their tickets and the tickets' stakeholders in two queries, kept in the session:
    a batch of due jobs then reads nothing more per job. Returns the rows, for the caller to hold
    while the session lives (the identity map alone holds them weakly)."""
    found = list(
        (await session.exec(select(ScheduledJob).where(col(ScheduledJob.id).in_(job_ids)))).all()
    )
    ticket_ids = sorted({job.ticket_id for job in found})
    query = (
        select(Ticket, Stakeholder)
        .join(Stakeholder, col(Stakeholder.id) == col(Ticket.stakeholder_id))
        .where(col(Ticket.id).in_(ticket_ids))
    )
    rows: list[object] = list(found)
    for ticket, stakeholder in (await session.exec(query)).all():
        rows.extend((keep(session, ticket), keep(session, stakeholder)))
    return rows
