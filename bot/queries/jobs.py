"""Reads and writes of the service clock's planned jobs that handlers need."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import JobKind, ScheduledJob


async def get(session: AsyncSession, job_id: int) -> ScheduledJob | None:
    return await session.get(ScheduledJob, job_id)


def plan(
    session: AsyncSession, ticket_id: int, kind: JobKind, due_at: datetime, now: datetime
) -> None:
    session.add(ScheduledJob(ticket_id=ticket_id, kind=kind, due_at=due_at, created_at=now))
