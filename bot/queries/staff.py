"""What the desk remembers per staff account: the ticket a CSO answers in a private chat."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import StaffSession


async def session_of(
    session: AsyncSession, channel: str, user_id: str, now: datetime
) -> StaffSession:
    """The staff member's desk state, created on first use (added to the transaction)."""
    found = await session.get(StaffSession, (channel, user_id))
    if found is None:
        found = StaffSession(channel=channel, user_id=user_id, updated_at=now)
    found.updated_at = now
    session.add(found)
    return found


async def current(session: AsyncSession, channel: str, user_id: str) -> StaffSession | None:
    return await session.get(StaffSession, (channel, user_id))
