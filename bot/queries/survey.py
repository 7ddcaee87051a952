"""Survey answers: the first answer to an element stands."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import SurveyResponse


async def record_answer(session: AsyncSession, response: SurveyResponse) -> bool:
    """False when this element was answered already (a button pressed twice)."""
    try:
        async with session.begin_nested():
            session.add(response)
    except IntegrityError:
        return False
    return True
