"""Reads of stakeholders and their conversation state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import (
    Conversation,
    Direction,
    Message,
    OutboxItem,
    OutboxStatus,
    Stakeholder,
)

# Built once (every update runs them); who and where come as parameters.
_FIND = select(Stakeholder).where(
    col(Stakeholder.channel) == bindparam("channel"),
    col(Stakeholder.channel_user_id) == bindparam("user_id"),
)
# A turn needs both: one query instead of two (every update runs it).
_FIND_WITH_CONVERSATION = (
    select(Stakeholder, Conversation)
    .outerjoin(Conversation, col(Conversation.stakeholder_id) == col(Stakeholder.id))
    .where(
        col(Stakeholder.channel) == bindparam("channel"),
        col(Stakeholder.channel_user_id) == bindparam("user_id"),
    )
)
_LAST_CHOICES = (
    select(Message.payload)
    .where(
        col(Message.stakeholder_id) == bindparam("stakeholder_id"),
        col(Message.channel) == bindparam("channel"),
        Message.direction == Direction.OUT,
        col(Message.internal).is_(False),
    )
    .order_by(col(Message.id).desc())
    .limit(1)
)


async def find(session: AsyncSession, channel: str, user_id: str) -> Stakeholder | None:
    """The stakeholder behind a channel account (None before consent)."""
    params = {"channel": channel, "user_id": user_id}
    return (await session.exec(_FIND, params=params)).one_or_none()


async def find_with_conversation(
    session: AsyncSession, channel: str, user_id: str
) -> tuple[Stakeholder | None, Conversation | None]:
    """The stakeholder behind a channel account and their conversation (either may be None)."""
    params = {"channel": channel, "user_id": user_id}
    row = (await session.exec(_FIND_WITH_CONVERSATION, params=params)).one_or_none()
    return (None, None) if row is None else (row[0], row[1])


async def get(session: AsyncSession, stakeholder_id: int) -> Stakeholder | None:
    return await session.get(Stakeholder, stakeholder_id)


async def conversation(session: AsyncSession, stakeholder_id: int) -> Conversation | None:
    return await session.get(Conversation, stakeholder_id)


async def last_choices(
    session: AsyncSession, stakeholder_id: int, channel: str
) -> list[dict[str, Any]]:
    """The buttons of the newest message the stakeholder got on this channel (none if it had
    none): a typed number or label means pressing one of them."""
    params = {"stakeholder_id": stakeholder_id, "channel": channel}
    payload = (await session.exec(_LAST_CHOICES, params=params)).first()
    buttons = payload.get("buttons") if isinstance(payload, dict) else None
    return [b for b in buttons if isinstance(b, dict)] if isinstance(buttons, list) else []


async def release_held(session: AsyncSession, channel: str, chat_id: str, now: datetime) -> int:
    """The stakeholder wrote: messages held while their window was closed go out now, in order."""
    result = await session.exec(
        update(OutboxItem)
        .where(
            col(OutboxItem.channel) == channel,
            col(OutboxItem.chat_id) == chat_id,
            col(OutboxItem.status) == OutboxStatus.HELD,
        )
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, claimed_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def change_identity(
    session: AsyncSession,
    channel: str,
    old_user_id: str,
    new_user_id: str,
    new_chat_id: str,
    phones: tuple[str, str] | None,
    now: datetime,
) -> Stakeholder | None:
    """The same person under a new platform id (a new WhatsApp number): their row follows, and
    so do messages still waiting for them. `phones` (old, new): a phone on file that was the old
    number becomes the new one."""
    stakeholder = await find(session, channel, old_user_id)
    if stakeholder is None or await find(session, channel, new_user_id) is not None:
        return None
    old_chat = stakeholder.chat_id
    stakeholder.channel_user_id = new_user_id
    stakeholder.chat_id = new_chat_id
    if phones is not None and stakeholder.phone == phones[0]:
        stakeholder.phone = phones[1]
    stakeholder.updated_at = now
    session.add(stakeholder)
    await session.exec(
        update(OutboxItem)
        .where(
            col(OutboxItem.channel) == channel,
            col(OutboxItem.chat_id) == old_chat,
            col(OutboxItem.status).in_(
                [OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.HELD]
            ),
        )
        .values(chat_id=new_chat_id)
    )
    return stakeholder
