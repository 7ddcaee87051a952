"""Delivers outbox rows: in order per chat, each claimed atomically, retried with backoff.

The row is claimed with a compare-and-set UPDATE, so two processes never send the same
message; a network failure leaves it pending for a later attempt; a permanent refusal
(bot blocked, chat gone) marks it failed with the reason, never raising into the caller.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.addresses import ToStakeholder
from bot.channels.base import PermanentDeliveryError, Sender, TemporaryDeliveryError
from bot.clock import Clock
from bot.messages import Outbound, ThreadAction
from bot.store.db import SessionFactory
from bot.store.models import Message, OutboxItem, OutboxStatus, Stakeholder, Ticket
from bot.sweeps import sweep_until

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 30
UNSTORED_ATTEMPTS = 3
UNSTORED_MAX_WAIT = 5.0  # seconds
MAX_BACKOFF_SECONDS = 300
# A process that died mid-send releases its claim after this. A send (timeouts, pacing) ends
# well within it; a claim older than that belongs to a dead process. The message may then go
# out twice: at most the one message per chat that was in flight when the process died.
STALE_CLAIM = timedelta(seconds=60)


def _is_due(now: datetime) -> ColumnElement[bool]:
    """Pending and past its backoff, or claimed by a process that has not finished for too long."""
    return or_(
        and_(
            col(OutboxItem.status) == OutboxStatus.PENDING,
            col(OutboxItem.next_attempt_at) <= now,
        ),
        and_(
            col(OutboxItem.status) == OutboxStatus.SENDING,
            col(OutboxItem.claimed_at) < now - STALE_CLAIM,
        ),
    )


class DeliveryObserver(Protocol):
    """Told of every delivery attempt's outcome (the host's metrics)."""

    def message_sent(self, channel: str) -> None: ...

    def delivery_failed(self, channel: str, permanent: bool) -> None: ...


class _Unobserved:
    def message_sent(self, channel: str) -> None:
        pass

    def delivery_failed(self, channel: str, permanent: bool) -> None:
        pass


class OutboxDispatcher:
    """Delivers one channel's outbox rows through that channel's sender."""

    def __init__(
        self,
        sessions: SessionFactory,
        sender: Sender,
        clock: Clock,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.clock = clock
        self.observer = observer or _Unobserved()

    async def release_claims(self) -> int:
        """At start of the only process (SQLite): claims left by a crash are taken back now
        instead of after STALE_CLAIM, so the chat does not wait."""
        async with self.sessions() as session:
            result = await session.exec(
                update(OutboxItem)
                .where(
                    col(OutboxItem.channel) == self.sender.channel,
                    col(OutboxItem.status) == OutboxStatus.SENDING,
                )
                .values(status=OutboxStatus.PENDING, claimed_at=None)
            )
            await session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def send_unstored(self, chat_id: str, outbounds: tuple[Outbound, ...]) -> None:
        """Replies kept nowhere (before consent): there is no row to retry from, so a short
        rate limit or network hiccup is waited out here, a few times, then given up."""
        for outbound in outbounds:
            for attempt in range(UNSTORED_ATTEMPTS):
                try:
                    await self.sender.send(chat_id, outbound)
                    self.observer.message_sent(self.sender.channel)
                    break
                except TemporaryDeliveryError as exc:
                    self.observer.delivery_failed(self.sender.channel, False)
                    if attempt + 1 == UNSTORED_ATTEMPTS:
                        log.warning("unstored reply not delivered: %s", exc)
                        break
                    await asyncio.sleep(min(exc.retry_after or 2**attempt, UNSTORED_MAX_WAIT))
                except PermanentDeliveryError as exc:
                    self.observer.delivery_failed(self.sender.channel, True)
                    log.warning("unstored reply not delivered: %s", exc)
                    break

    async def deliver_chat(self, chat_id: str) -> int:
        """Send everything due for one chat, oldest first; stop at the first temporary failure
        so the stakeholder never reads messages out of order. Returns how many were sent."""
        now = self.clock.now()
        async with self.sessions() as session:
            query = (
                select(OutboxItem.id)
                .where(
                    OutboxItem.channel == self.sender.channel,
                    OutboxItem.chat_id == chat_id,
                    col(OutboxItem.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                )
                .order_by(col(OutboxItem.id))
            )
            ids = [item_id for item_id in (await session.exec(query)).all() if item_id is not None]
        sent = 0
        for item_id in ids:
            outcome = await self._deliver_one(item_id, now)
            if outcome is None:
                break
            sent += outcome
        return sent

    async def deliver_due(self) -> int:
        """One sweep over every chat with something due (the retry loop)."""
        now = self.clock.now()
        async with self.sessions() as session:
            query = (
                select(OutboxItem.chat_id)
                .where(
                    OutboxItem.channel == self.sender.channel,
                    _is_due(now),
                )
                .distinct()
            )
            chats = list((await session.exec(query)).all())
        total = 0
        for chat_id in chats:
            total += await self.deliver_chat(chat_id)
        return total

    async def run(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        """Retry loop for whatever could not be delivered at once."""
        await sweep_until(stop, self.deliver_due, interval, f"outbox {self.sender.channel}")

    async def _current_chat(
        self, session: AsyncSession, item: OutboxItem, outbound: Outbound
    ) -> str:
        """Where a stakeholder is now: an address is resolved again at delivery, so a message
        queued before their chat changed (a new number on WhatsApp) still reaches them."""
        if isinstance(outbound.to, ToStakeholder):
            stakeholder = await session.get(Stakeholder, outbound.to.stakeholder_id)
            if stakeholder is not None and stakeholder.channel == item.channel:
                return stakeholder.chat_id
        return item.chat_id

    async def _deliver_one(self, item_id: int, now: datetime) -> int | None:
        """1 sent, 0 skipped (someone else has it or it failed for good), None stop this chat."""
        async with self.sessions() as session:
            claimed = await session.exec(
                update(OutboxItem)
                .where(col(OutboxItem.id) == item_id, _is_due(now))
                .values(status=OutboxStatus.SENDING, claimed_at=now)
            )
            await session.commit()
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                item = await session.get(OutboxItem, item_id)
                # Not yet due (backing off) or in someone else's hands: keep the order.
                return (
                    0
                    if item is not None and item.status in (OutboxStatus.SENT, OutboxStatus.FAILED)
                    else None
                )
            item = await session.get(OutboxItem, item_id)
            message = await session.get(Message, item.message_id) if item is not None else None
            if item is None or message is None:
                return 0
            outbound = Outbound.from_payload(message.payload)
            desk_ticket = (
                await session.get(Ticket, outbound.desk_ticket_id)
                if outbound.desk_ticket_id
                else None
            )
            thread_id = desk_ticket.desk_thread_id if desk_ticket is not None else None
            if desk_ticket is not None and thread_id is None and outbound.thread_action is None:
                # The thread could not be created: post in the group's main thread, labelled.
                outbound = replace(outbound, text=f"[{desk_ticket.number}] {outbound.text}")
            try:
                chat_id = await self._current_chat(session, item, outbound)
                platform_id = await self.sender.send(chat_id, outbound, thread_id)
            except TemporaryDeliveryError as exc:
                self.observer.delivery_failed(self.sender.channel, False)
                item.attempts += 1
                if item.attempts >= MAX_ATTEMPTS:
                    item.status = OutboxStatus.FAILED
                else:
                    delay = exc.retry_after or min(2**item.attempts, MAX_BACKOFF_SECONDS)
                    item.status = OutboxStatus.PENDING
                    item.next_attempt_at = self.clock.now() + timedelta(seconds=delay)
                item.last_error = str(exc)[:500]
                session.add(item)
                await session.commit()
                log.warning("delivery of outbox %s postponed: %s", item_id, exc)
                return None
            except PermanentDeliveryError as exc:
                self.observer.delivery_failed(self.sender.channel, True)
                item.status = OutboxStatus.FAILED
                item.attempts += 1
                item.last_error = str(exc)[:500]
                session.add(item)
                await session.commit()
                log.error("delivery of outbox %s failed for good: %s", item_id, exc)
                return 0
            if outbound.thread_action is ThreadAction.OPEN and desk_ticket is not None:
                desk_ticket.desk_chat_id = item.chat_id
                desk_ticket.desk_thread_id = platform_id
                desk_ticket.desk_thread_link = self.sender.thread_link(item.chat_id, platform_id)
                session.add(desk_ticket)
            self.observer.message_sent(self.sender.channel)
            item.status = OutboxStatus.SENT
            item.attempts += 1
            item.sent_at = self.clock.now()
            item.platform_message_id = platform_id
            message.payload = {**message.payload, "platform_message_id": platform_id}
            session.add(item)
            session.add(message)
            await session.commit()
            return 1
