"""The database side of /hapus_data: a stakeholder's personal data erased, the office's records
kept (UU 27/2022 PDP). handlers/erasure.py decides when; this module knows what is personal.

Erased: the profile fields, the channel account (replaced by an anonymous marker, so the person
is no longer recognised), the conversation state, the text and payload of every message of
theirs or about their tickets, the question of each ticket, attached files' names, checksums
and paths (the files themselves are deleted by the caller), their chat id wherever a message or
outbox row kept it, and the raw platform updates the inbox kept for them.

Kept, without identity: the stakeholder row (so tickets keep their owner key), tickets with
number, office, topic, section, status and clocks, status events, message rows (direction, time,
actor, ticket link), attachment rows (type, size, time), survey answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import (
    Attachment,
    Conversation,
    InboxStatus,
    InboxUpdate,
    Message,
    OutboxItem,
    OutboxStatus,
    Stakeholder,
    Ticket,
    TicketEvent,
    TicketStatus,
)

ERASED = "[dihapus]"
CANCELLED_DELIVERY = "not delivered: the stakeholder's data was erased"


ANONYMOUS_PREFIX = "dihapus:"


def anonymous_id(stakeholder_id: int) -> str:
    """What replaces the channel account and chat id: unique, and no platform id looks like it."""
    return f"{ANONYMOUS_PREFIX}{stakeholder_id}"


def is_erased(chat_id: str) -> bool:
    """Whether a stakeholder's chat is the marker left by /hapus_data: nobody to write to."""
    return chat_id.startswith(ANONYMOUS_PREFIX)


@dataclass
class Erased:
    tickets: list[str] = field(default_factory=list)  # numbers of the stakeholder's tickets
    files: list[str] = field(default_factory=list)  # attachment paths (data dir) to delete
    messages: int = 0


def close_unanswered(
    session: AsyncSession, ticket: Ticket, *, actor: str, reason: str, at: datetime
) -> None:
    """Asked → Resolved, with its event: a ticket whose owner left while choosing among offered
    topics. The one move outside bot.tickets.TRANSITIONS (nobody is left to answer it); without
    it the ticket would stay open for ever and retention could never remove the record."""
    event = TicketEvent(
        ticket_id=ticket.id,  # type: ignore[arg-type]
        at=at,
        actor=actor,
        from_status=ticket.status,
        to_status=TicketStatus.RESOLVED,
        reason=reason,
    )
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = ticket.updated_at = ticket.status_since = at
    session.add(ticket)
    session.add(event)


async def erase(session: AsyncSession, stakeholder: Stakeholder, now: datetime) -> Erased:
    """Erase everything personal of this stakeholder in the caller's transaction (see above)."""
    assert stakeholder.id is not None
    result = Erased()
    channel, user_id, chat_id = (
        stakeholder.channel,
        stakeholder.channel_user_id,
        stakeholder.chat_id,
    )
    marker = anonymous_id(stakeholder.id)

    owned = list(
        (await session.exec(select(Ticket).where(Ticket.stakeholder_id == stakeholder.id))).all()
    )
    ticket_ids = [ticket.id for ticket in owned if ticket.id is not None]
    for ticket in owned:
        result.tickets.append(ticket.number)
        ticket.question = ERASED
        session.add(ticket)

    about = col(Message.stakeholder_id) == stakeholder.id
    if ticket_ids:
        about = or_(about, col(Message.ticket_id).in_(ticket_ids))
    messages = list((await session.exec(select(Message).where(about))).all())
    message_ids = [message.id for message in messages if message.id is not None]
    for message in messages:
        message.text = ERASED
        message.payload = {"text": ERASED}
        if message.channel == channel and message.chat_id == chat_id:
            message.chat_id = marker
        session.add(message)
    result.messages = len(messages)

    if message_ids:
        items = (
            await session.exec(
                select(OutboxItem).where(col(OutboxItem.message_id).in_(message_ids))
            )
        ).all()
        for item in items:
            if item.status in (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.HELD):
                item.status, item.last_error = OutboxStatus.FAILED, CANCELLED_DELIVERY
            if item.channel == channel and item.chat_id == chat_id:
                item.chat_id = marker
            session.add(item)

    filed = [col(Attachment.ticket_id).in_(ticket_ids)] if ticket_ids else []
    if message_ids:
        filed.append(col(Attachment.message_id).in_(message_ids))
    if filed:
        for attachment in (await session.exec(select(Attachment).where(or_(*filed)))).all():
            if attachment.path:
                result.files.append(attachment.path)
            attachment.path, attachment.file_name, attachment.sha256 = "", ERASED, ""
            session.add(attachment)

    conversation = await session.get(Conversation, stakeholder.id)
    if conversation is not None:
        await session.delete(conversation)

    # Raw updates kept by the inbox name the person (and hold what they wrote). The sender keys
    # are those channels give the inbox (bot/channels/telegram/ sender_of). Pending rows are
    # kept, except the one being handled now (claimed): later ones are not processed yet.
    await session.exec(
        delete(InboxUpdate)
        .where(col(InboxUpdate.channel) == channel)
        .where(col(InboxUpdate.sender).in_([f"user:{user_id}", f"chat:{chat_id}"]))
        .where(
            or_(
                col(InboxUpdate.status) != InboxStatus.PENDING,
                col(InboxUpdate.claimed_until).is_not(None),
            )
        )
    )

    stakeholder.full_name = stakeholder.role = stakeholder.satker_code = None
    stakeholder.organisation = stakeholder.phone = None
    stakeholder.channel_user_id = stakeholder.chat_id = marker
    stakeholder.updated_at = now
    session.add(stakeholder)
    await session.flush()
    return result
