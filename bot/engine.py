"""Runs one inbound event through the SOP in one database transaction.

The transaction covers the idempotency key, the transcript rows, every state change and the
outbox rows, so an inbound event is either fully handled once or not at all: a redelivered
update is a no-op, and a crash before commit leaves the platform to redeliver it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import Config
from bot.knowledge import KnowledgeError, Matcher
from bot.messages import Inbound, Outbound
from bot.store.db import SessionFactory
from bot.store.models import (
    HANDED_OFF,
    Conversation,
    Direction,
    Message,
    OutboxItem,
    OutboxStatus,
    ProcessedUpdate,
    Stakeholder,
    Ticket,
    TicketStatus,
)
from bot.turn import Turn

log = logging.getLogger(__name__)

Router = Callable[[Turn], Awaitable[None]]


@dataclass(frozen=True)
class Handled:
    """What the adapter must deliver after a turn.

    `unstored` are replies to someone who has not consented: sent once, best effort, and kept
    nowhere, because before consent nothing about the person may be stored (UU 27/2022 PDP).
    """

    chat_id: str
    unstored: tuple[Outbound, ...] = ()
    other_chats: tuple[str, ...] = ()  # further chats of this channel with new outbox rows

    @property
    def empty(self) -> bool:
        return not self.unstored


@dataclass
class KnowledgeHolder:
    """The current matcher; a reload replaces it whole, so a turn never sees half a reload.

    A reload that finds problems keeps the last good knowledge base: an office editing the
    files must never take the bot down with a typo.
    """

    matcher: Matcher
    load: Callable[[], Matcher] | None = None

    async def reload(self) -> list[str]:
        """Load the files again; returns the problems (empty when the new version is in use)."""
        if self.load is None:
            return ["reload is not available here"]
        try:
            matcher = await asyncio.to_thread(self.load)
        except KnowledgeError as exc:
            log.error("knowledge base not reloaded, keeping the previous one:\n%s", exc)
            return exc.problems
        self.matcher = matcher
        log.info("knowledge base reloaded: %d entries", len(matcher.knowledge.entries))
        return []


class Engine:
    def __init__(
        self,
        config: Config,
        knowledge: KnowledgeHolder,
        sessions: SessionFactory,
        clock: Clock,
        router: Router,
        data_dir: Path = Path("data"),
        web_base_url: str = "",
    ) -> None:
        self.config = config
        self.knowledge = knowledge
        self.sessions = sessions
        self.clock = clock
        self.router = router
        self.data_dir = data_dir
        self.web_base_url = web_base_url

    async def handle(self, inbound: Inbound, typing: Callable[[], None] = lambda: None) -> Handled:
        """Handle one event; stored replies wait in the outbox, unstored ones are returned.

        A bug in a handler must not cost the stakeholder their message or leave them without a
        reply: the failed transaction is rolled back and the message is stored with an apology.
        """
        try:
            return await self._handle(inbound, typing)
        except Exception:
            log.exception("handling %s failed", inbound.update_key)
            return await self._record_failure(inbound)

    async def accepts_files(self, inbound: Inbound) -> bool:
        """Whether a file from this sender should be downloaded: only for a consented stakeholder
        whose latest ticket is with a CSO (nothing is fetched for anyone else)."""
        if self.config.staff_member(inbound.channel, inbound.user_id) is not None or not inbound.is_private:
            return False
        async with self.sessions() as session:
            stakeholder = await find_stakeholder(session, inbound.channel, inbound.user_id)
            if stakeholder is None:
                return False
            query = (
                select(Ticket)
                .where(Ticket.stakeholder_id == stakeholder.id, Ticket.status != TicketStatus.RESOLVED)
                .order_by(Ticket.id.desc())  # type: ignore[union-attr]
                .limit(1)
            )
            latest = (await session.exec(query)).first()
        return latest is not None and latest.status in HANDED_OFF

    async def _record_failure(self, inbound: Inbound) -> Handled:
        async with self.sessions() as session:
            if not await self._claim(session, inbound):
                return Handled(inbound.chat_id)
            turn = await self._turn(session, inbound, with_conversation=False)
            if inbound.is_private:
                turn.say("internal_error")
            else:
                turn.record_inbound = False
            handled = await self._persist(session, turn)
            await session.commit()
            return handled

    async def _handle(self, inbound: Inbound, typing: Callable[[], None]) -> Handled:
        async with self.sessions() as session:
            if not await self._claim(session, inbound):
                log.info("duplicate update %s ignored", inbound.update_key)
                return Handled(inbound.chat_id)
            turn = await self._turn(session, inbound, typing=typing)
            await self.router(turn)
            handled = await self._persist(session, turn)
            await session.commit()
            return handled

    async def _turn(
        self,
        session: AsyncSession,
        inbound: Inbound,
        *,
        typing: Callable[[], None] = lambda: None,
        with_conversation: bool = True,
    ) -> Turn:
        stakeholder = await find_stakeholder(session, inbound.channel, inbound.user_id)
        conversation = (
            await session.get(Conversation, stakeholder.id)
            if stakeholder is not None and with_conversation
            else None
        )
        return Turn(
            inbound=inbound,
            session=session,
            config=self.config,
            matcher=self.knowledge.matcher,
            knowledge=self.knowledge,
            now=self.clock.now(),
            stakeholder=stakeholder,
            conversation=conversation,
            typing=typing,
            staff=self.config.staff_member(inbound.channel, inbound.user_id),
            data_dir=self.data_dir,
            web_base_url=self.web_base_url,
        )

    async def _claim(self, session: AsyncSession, inbound: Inbound) -> bool:
        session.add(ProcessedUpdate(key=inbound.update_key, processed_at=self.clock.now()))
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            return False
        return True

    async def _persist(self, session: AsyncSession, turn: Turn) -> Handled:
        """Write the transcript (inbound first, then replies) and queue the replies.

        A reply is stored when it belongs to someone who consented: the stakeholder of this turn,
        or the stakeholder of the ticket it concerns (staff actions). Anything else (the notice
        before consent, answers to staff commands) is sent once and stored nowhere.
        """
        stakeholder = turn.stakeholder
        inbound = turn.inbound
        if stakeholder is not None and turn.record_inbound:
            session.add(
                Message(
                    stakeholder_id=stakeholder.id,
                    ticket_id=turn.inbound_ticket_id,
                    channel=inbound.channel,
                    chat_id=inbound.chat_id,
                    direction=Direction.IN,
                    actor="stakeholder",
                    kind=inbound.kind.value,
                    text=turn.inbound_label or inbound.text,
                    payload=inbound.payload(),
                    created_at=turn.now,
                )
            )
        for note in turn.notes:
            session.add(note)
        unstored = []
        others: dict[str, None] = {}
        for reply in turn.replies:
            owner = reply.stakeholder_id or (stakeholder.id if stakeholder is not None else None)
            if owner is None and reply.ticket_id is None:
                unstored.append(reply)
                continue
            channel = reply.channel or inbound.channel
            chat_id = reply.chat_id or inbound.chat_id
            await queue_outbound(session, reply, channel=channel, chat_id=chat_id, stakeholder_id=owner, now=turn.now)
            if channel == inbound.channel and chat_id != inbound.chat_id:
                others[chat_id] = None
        return Handled(inbound.chat_id, tuple(unstored), tuple(others))


async def queue_outbound(
    session: AsyncSession,
    outbound: Outbound,
    *,
    channel: str,
    chat_id: str,
    stakeholder_id: int | None,
    now: datetime,
) -> int:
    """Record an outgoing message in the transcript and the outbox, in the caller's transaction."""
    message = Message(
        stakeholder_id=stakeholder_id,
        ticket_id=outbound.ticket_id,
        channel=channel,
        chat_id=chat_id,
        direction=Direction.OUT,
        actor=outbound.actor,
        kind="desk" if outbound.internal else "text",
        text=outbound.text,
        payload=outbound.payload(),
        internal=outbound.internal,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    item = OutboxItem(
        message_id=message.id,  # type: ignore[arg-type]
        channel=channel,
        chat_id=chat_id,
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
    )
    session.add(item)
    await session.flush()
    return item.id  # type: ignore[return-value]


async def find_stakeholder(session: AsyncSession, channel: str, user_id: str) -> Stakeholder | None:
    query = select(Stakeholder).where(
        Stakeholder.channel == channel, Stakeholder.channel_user_id == user_id
    )
    return (await session.exec(query)).one_or_none()
