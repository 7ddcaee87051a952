"""Survey answers: the first answer to an element stands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import SurveyResponse, Ticket


async def record_answer(session: AsyncSession, response: SurveyResponse) -> bool:
    """False when this element was answered already (a button pressed twice)."""
    try:
        async with session.begin_nested():
            session.add(response)
    except IntegrityError:
        return False
    return True


async def surveyed_since(session: AsyncSession, stakeholder_id: int, since: datetime) -> bool:
    """Whether this stakeholder answered a survey question since then."""
    query = (
        select(SurveyResponse.id)
        .join(Ticket, col(Ticket.id) == col(SurveyResponse.ticket_id))
        .where(Ticket.stakeholder_id == stakeholder_id, col(SurveyResponse.created_at) >= since)
        .limit(1)
    )
    return (await session.exec(query)).first() is not None
