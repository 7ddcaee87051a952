"""Reads of stakeholders and their conversation state."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import Conversation, Stakeholder


async def find(session: AsyncSession, channel: str, user_id: str) -> Stakeholder | None:
    """The stakeholder behind a channel account (None before consent)."""
    query = select(Stakeholder).where(
        Stakeholder.channel == channel, Stakeholder.channel_user_id == user_id
    )
    return (await session.exec(query)).one_or_none()


async def get(session: AsyncSession, stakeholder_id: int) -> Stakeholder | None:
    return await session.get(Stakeholder, stakeholder_id)


async def conversation(session: AsyncSession, stakeholder_id: int) -> Conversation | None:
    return await session.get(Conversation, stakeholder_id)
