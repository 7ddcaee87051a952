"""Finding tickets for supervisors: by satker, stakeholder name, topic, status, date range, text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import Stakeholder, Ticket


@dataclass(frozen=True)
class TicketQuery:
    text: str | None = None  # ticket number, stakeholder name, satker code or name, question words
    topic: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    office: str | None = None


async def search_tickets(
    session: AsyncSession, query: TicketQuery, timezone: str, limit: int = 50, offset: int = 0
) -> tuple[list[tuple[Ticket, Stakeholder]], int]:
    """(page of tickets newest first with their stakeholder, total matching)."""
    zone = ZoneInfo(timezone)
    statement = select(Ticket, Stakeholder).join(
        Stakeholder, col(Stakeholder.id) == col(Ticket.stakeholder_id)
    )
    if query.office:
        statement = statement.where(Ticket.office == query.office)
    if query.status:
        statement = statement.where(Ticket.status == query.status)
    if query.topic:
        statement = statement.where(Ticket.topic_id == query.topic)
    if query.date_from:
        statement = statement.where(
            Ticket.opened_at >= datetime.combine(query.date_from, time(), tzinfo=zone)
        )
    if query.date_to:
        statement = statement.where(
            Ticket.opened_at
            < datetime.combine(query.date_to + timedelta(days=1), time(), tzinfo=zone)
        )
    if query.text:
        pattern = f"%{query.text.strip().lower()}%"
        statement = statement.where(
            or_(
                func.lower(Ticket.number).like(pattern),
                func.lower(Ticket.question).like(pattern),
                func.lower(func.coalesce(Stakeholder.full_name, "")).like(pattern),
                func.lower(func.coalesce(Stakeholder.organisation, "")).like(pattern),
                func.coalesce(Stakeholder.satker_code, "").like(pattern),
            )
        )
    total = (await session.exec(select(func.count()).select_from(statement.subquery()))).one()
    page = (
        statement.order_by(col(Ticket.opened_at).desc(), col(Ticket.id).desc())
        .limit(limit)
        .offset(offset)
    )
    rows = [(ticket, stakeholder) for ticket, stakeholder in (await session.exec(page)).all()]
    return rows, int(total)
