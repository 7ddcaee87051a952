"""Delivers outbox rows: in order per chat, each claimed atomically, retried with backoff.

The row is claimed with a compare-and-set UPDATE, so two processes never send the same
message; a network failure leaves it pending for a later attempt; a permanent refusal
(bot blocked, chat gone) marks it failed with the reason, never raising into the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, bindparam, or_, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.addresses import ToStakeholder
from bot.channels.base import (
    DeliveryStatus,
    OutsideWindowError,
    PermanentDeliveryError,
    Sender,
    TemporaryDeliveryError,
)
from bot.clock import Clock
from bot.messages import Outbound, ThreadAction
from bot.store.db import SessionFactory, commit_alone
from bot.store.inserts import table_of
from bot.store.models import Message, OutboxItem, OutboxStatus, Stakeholder, Ticket
from bot.sweeps import sweep_until
from bot.window import ServiceWindow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 30
UNSTORED_ATTEMPTS = 3
UNSTORED_MAX_WAIT = 5.0  # seconds
MAX_BACKOFF_SECONDS = 300
# A process that died mid-send releases its claim after this. A send (timeouts, pacing) ends
# well within it; a claim older than that belongs to a dead process. The message may then go
# out twice: at most the one message per chat that was in flight when the process died.
STALE_CLAIM = timedelta(seconds=60)
MAX_STATUSES = 10  # status callbacks kept per message

FailureCallback = Callable[[Message, str], Awaitable[None]]


_OUTBOX = table_of(OutboxItem)


def _is_due(now: Any, stale_before: Any) -> ColumnElement[bool]:
    """Pending and past its backoff, or claimed by a process that has not finished since
    `stale_before` (times, or parameters of a statement built once)."""
    outbox = _OUTBOX.c
    return or_(
        and_(outbox.status == OutboxStatus.PENDING, outbox.next_attempt_at <= now),
        and_(outbox.status == OutboxStatus.SENDING, outbox.claimed_at < stale_before),
    )


# Built once (every message runs them); ids, chats and times come as parameters.
# A chat's rows not yet sent: pending, or in some process's hands.
_UNSENT_IN_CHAT = and_(
    col(OutboxItem.channel) == bindparam("channel"),
    col(OutboxItem.chat_id) == bindparam("chat_id"),
    col(OutboxItem.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
)
_CHAT_ROWS = (
    select(OutboxItem, Message)
    .join(Message, col(Message.id) == col(OutboxItem.message_id))
    .where(_UNSENT_IN_CHAT)
    .order_by(col(OutboxItem.id))
)
_ANY_UNSENT = select(col(OutboxItem.id)).where(_UNSENT_IN_CHAT).limit(1)
# The UPDATEs are on the table, not the model: the ORM's own path for an UPDATE (its compile
# state, its search for affected objects) cost as much as the statement; the one object each
# concerns is brought up to date by hand (_deliver_one, _sent).
_CLAIM_ROW = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("item_id"),
        _is_due(bindparam("now"), bindparam("stale_before")),
    )
    .values(status=OutboxStatus.SENDING, claimed_at=bindparam("now"))
)
# Every sent message runs it, instead of the ORM's flush of the changed object.
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("item_id"))
    .values(
        status=OutboxStatus.SENT,
        attempts=_OUTBOX.c.attempts + 1,
        sent_at=bindparam("sent_now"),
        platform_message_id=bindparam("platform_id"),
        template=bindparam("template_name"),
    )
)


# Claimed rows that will not be sent by this process after all (a temporary failure before
# them): back to pending, due at once, so they follow the postponed row in the chat's order.
_RELEASE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("item_ids", expanding=True)))
    .where(_OUTBOX.c.status == OutboxStatus.SENDING)
    .values(status=OutboxStatus.PENDING, claimed_at=None, next_attempt_at=bindparam("now"))
)


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbox row the turn that wrote it also claimed for its own process (the reply to
    whoever wrote, when nothing older was waiting for that chat), with its transcript row: the
    process delivers it without reading either back or claiming it in a transaction of its own.

    A crash before it is sent leaves a claim like any other: the row goes out when the claim is
    released (at start on SQLite, after STALE_CLAIM elsewhere)."""

    item: dict[str, Any]  # the outbox row's columns, as inserted
    message: dict[str, Any]  # the message row's columns, as inserted

    @property
    def chat(self) -> tuple[str, str]:
        return (self.item["channel"], self.item["chat_id"])

    def attach(self, session: AsyncSession) -> tuple[OutboxItem, Message]:
        """The rows as objects the session holds as loaded (no query): a change to them (a
        postponed send, a template noted) is written as an UPDATE, as for rows read back."""
        item = OutboxItem(
            **self.item, sent_at=None, platform_message_id=None, last_error=None, template=None
        )
        message = Message(**self.message)
        for row in (item, message):
            make_transient_to_detached(row)
            session.add(row)
        return item, message


async def chat_is_clear(session: AsyncSession, channel: str, chat_id: str) -> bool:
    """Nothing waits to be sent to this chat: a message queued now may be claimed at once
    without overtaking anything (see `ClaimedMessage`).

    Read in the caller's transaction: a row another transaction commits meanwhile was written
    at the same time as the caller's, and the two have no order to keep."""
    params = {"channel": channel, "chat_id": chat_id}
    return (await session.exec(_ANY_UNSENT, params=params)).first() is None


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
        *,
        window: ServiceWindow | None = None,
        on_failed: FailureCallback | None = None,
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.clock = clock
        self.observer = observer or _Unobserved()
        self.window = window
        self.on_failed = on_failed  # a stakeholder's message failed for good: tell the desk

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
        so the stakeholder never reads messages out of order. Returns how many were sent.

        One session serves the chat's whole run: its rows and their messages are read in one
        query, and what they refer to (the stakeholder, the ticket) is read once. Each row is
        still claimed and marked in transactions of its own, around its send."""
        now = self.clock.now()
        sent = 0
        async with self.sessions() as session:
            params = {"channel": self.sender.channel, "chat_id": chat_id}
            rows = list((await session.exec(_CHAT_ROWS, params=params)).all())
            for item, message in rows:
                outcome = await self._deliver_one(session, item, message, now)
                if outcome is None:
                    break
                sent += outcome
        return sent

    async def deliver_claimed(self, claimed: list[ClaimedMessage]) -> bool:
        """Send rows claimed by the turns that wrote them (one chat's, oldest first). False when
        a temporary failure stopped the chat: the row that failed waits with its backoff and
        the rest go back to pending behind it, so the chat's order holds."""
        now = self.clock.now()
        async with self.sessions() as session:
            for index, row in enumerate(claimed):
                item, message = row.attach(session)
                outcome = None
                try:
                    outcome = await self._deliver_claimed(session, item, message, now)
                finally:  # postponed, or an error (this row may have gone out: its claim runs out)
                    if outcome is None:
                        later = [waiting.item["id"] for waiting in claimed[index + 1 :]]
                        await self._release(session, later)
                if outcome is None:
                    return False
        return True

    async def release(self, claimed: list[ClaimedMessage]) -> None:
        """Give back claims this process will not act on (the chat stopped before them)."""
        async with self.sessions() as session:
            await self._release(session, [row.item["id"] for row in claimed])

    async def _release(self, session: AsyncSession, item_ids: list[int]) -> None:
        if not item_ids:
            return
        try:
            await session.rollback()  # whatever failed is not to be written
            await session.exec(_RELEASE, params={"item_ids": item_ids, "now": self.clock.now()})
            await session.commit()
        except Exception:  # the claims run out by themselves (STALE_CLAIM)
            log.warning("could not release outbox claims %s", item_ids, exc_info=True)

    async def deliver_due(self) -> int:
        """One sweep over every chat with something due (the retry loop)."""
        now = self.clock.now()
        async with self.sessions() as session:
            query = (
                select(OutboxItem.chat_id)
                .where(
                    OutboxItem.channel == self.sender.channel,
                    _is_due(now, now - STALE_CLAIM),
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
            stakeholder = await session.get(
                Stakeholder, outbound.to.stakeholder_id, populate_existing=True
            )
            if stakeholder is not None and stakeholder.channel == item.channel:
                return stakeholder.chat_id
        return item.chat_id

    async def _recipient(
        self, session: AsyncSession, item: OutboxItem, message: Message, outbound: Outbound
    ) -> Stakeholder | None:
        """The stakeholder this row is for, when it goes to a stakeholder (not to staff).
        Called after `_current_chat`, which has read a ToStakeholder's row afresh."""
        if message.internal or outbound.desk_ticket_id is not None:
            return None
        if isinstance(outbound.to, ToStakeholder):
            stakeholder_id: int | None = outbound.to.stakeholder_id
        elif outbound.to is None:
            stakeholder_id = message.stakeholder_id
        else:
            return None
        # Read afresh (their last message opens the window), unless `_current_chat` just did.
        fresh = not isinstance(outbound.to, ToStakeholder)
        stakeholder = (
            await session.get(Stakeholder, stakeholder_id, populate_existing=fresh)
            if stakeholder_id
            else None
        )
        if stakeholder is None or stakeholder.channel != item.channel:
            return None
        if outbound.to is None and stakeholder.chat_id != item.chat_id:
            return None  # a reply to a staff member about the stakeholder's ticket
        return stakeholder

    async def _deliver_one(
        self, session: AsyncSession, item: OutboxItem, message: Message, now: datetime
    ) -> int | None:
        """1 sent, 0 skipped (someone else has it, it failed for good or is held), None stop
        this chat."""
        claimed = await session.exec(
            _CLAIM_ROW, params={"item_id": item.id, "now": now, "stale_before": now - STALE_CLAIM}
        )
        await session.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await session.refresh(item)
            # Not yet due (backing off) or in someone else's hands: keep the order.
            return (
                0
                if item.status in (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.HELD)
                else None
            )
        # What the claim wrote, as the row's loaded state: a later change back to pending (a
        # postponed send) is then a change the ORM writes.
        set_committed_value(item, "status", OutboxStatus.SENDING)
        set_committed_value(item, "claimed_at", now)
        return await self._deliver_claimed(session, item, message, now)

    async def _deliver_claimed(
        self, session: AsyncSession, item: OutboxItem, message: Message, now: datetime
    ) -> int | None:
        """Send a row this process has claimed: 1 sent, 0 failed for good or held, None
        postponed (stop this chat)."""
        outbound = Outbound.from_payload(message.payload)
        desk_ticket = (  # read afresh: another process may have opened the thread meanwhile
            await session.get(Ticket, outbound.desk_ticket_id, populate_existing=True)
            if outbound.desk_ticket_id
            else None
        )
        thread_id = desk_ticket.desk_thread_id if desk_ticket is not None else None
        if desk_ticket is not None and thread_id is None and outbound.thread_action is None:
            # The thread could not be created: post in the group's main thread, labelled.
            outbound = replace(outbound, text=f"[{desk_ticket.number}] {outbound.text}")
        chat_id = await self._current_chat(session, item, outbound)
        stakeholder = (
            await self._recipient(session, item, message, outbound) if self.window else None
        )
        if (
            self.window is not None
            and stakeholder is not None
            and not self.window.is_open(stakeholder.last_inbound_at, self.clock.now())
        ):
            return await self._outside_window(
                session, item, message, outbound, stakeholder, chat_id
            )
        try:
            platform_id = await self.sender.send(chat_id, outbound, thread_id)
        except OutsideWindowError:
            if stakeholder is None:
                return await self._failed(session, item, message, "outside the window")
            return await self._outside_window(
                session, item, message, outbound, stakeholder, chat_id
            )
        except TemporaryDeliveryError as exc:
            await self._postpone(session, item, str(exc), exc.retry_after)
            return None
        except PermanentDeliveryError as exc:
            return await self._failed(session, item, message, str(exc))
        if outbound.thread_action is ThreadAction.OPEN and desk_ticket is not None:
            desk_ticket.desk_chat_id = item.chat_id
            desk_ticket.desk_thread_id = platform_id
            desk_ticket.desk_thread_link = self.sender.thread_link(item.chat_id, platform_id)
            session.add(desk_ticket)
        await self._sent(session, item, message, platform_id)
        return 1

    async def _sent(
        self,
        session: AsyncSession,
        item: OutboxItem,
        message: Message,
        platform_id: str,
        template: str | None = None,
    ) -> None:
        self.observer.message_sent(self.sender.channel)
        now = self.clock.now()
        params = {
            "item_id": item.id,
            "sent_now": now,
            "platform_id": platform_id,
            "template_name": template,
        }
        alone = template is None and not session.dirty and not session.new
        if alone:  # the common case: nothing else to write with it
            await session.commit()  # ends what it read, if anything (else no round trip)
            await commit_alone(self.sessions, _MARK_SENT, params)
        else:
            await session.exec(_MARK_SENT, params=params)
        # The object says what the row now holds (status callbacks find it by platform id).
        for name, value in (
            ("status", OutboxStatus.SENT),
            ("attempts", item.attempts + 1),
            ("sent_at", now),
            ("platform_message_id", platform_id),
            ("template", template),
        ):
            set_committed_value(item, name, value)
        if template is not None:  # the transcript says which template stood in for the text
            message.payload = {**message.payload, "template": template}
            session.add(message)
        if not alone:
            await session.commit()

    async def _postpone(
        self,
        session: AsyncSession,
        item: OutboxItem,
        reason: str,
        retry_after: float | None,
    ) -> None:
        """A temporary failure: this chat waits (its order is kept), with backoff."""
        self.observer.delivery_failed(self.sender.channel, False)
        item.attempts += 1
        if item.attempts >= MAX_ATTEMPTS:
            item.status = OutboxStatus.FAILED
        else:
            delay = retry_after or min(2**item.attempts, MAX_BACKOFF_SECONDS)
            item.status = OutboxStatus.PENDING
            item.next_attempt_at = self.clock.now() + timedelta(seconds=delay)
        item.last_error = reason[:500]
        session.add(item)
        await session.commit()
        log.warning("delivery of outbox %s postponed: %s", item.id, reason)

    async def _failed(
        self, session: AsyncSession, item: OutboxItem, message: Message, reason: str
    ) -> int:
        self.observer.delivery_failed(self.sender.channel, True)
        item.status = OutboxStatus.FAILED
        item.attempts += 1
        item.last_error = reason[:500]
        session.add(item)
        await session.commit()
        log.error("delivery of outbox %s failed for good: %s", item.id, reason)
        if self.on_failed is not None and not message.internal and message.ticket_id:
            await self.on_failed(message, reason)
        return 0

    async def _outside_window(
        self,
        session: AsyncSession,
        item: OutboxItem,
        message: Message,
        outbound: Outbound,
        stakeholder: Stakeholder,
        chat_id: str,
    ) -> int | None:
        """The stakeholder's window is closed: a template that says it all goes out instead;
        anything else is held until they write, announced once by its template (if they
        opted in to notifications). Nothing is lost and the chat is never blocked."""
        assert self.window is not None
        template = self.window.template_for(outbound, stakeholder.notifications_opt_in)
        if template is not None and template.quick_reply is None:
            call = self.window.call(template, outbound)
            try:
                platform_id = await self.sender.send(chat_id, replace(outbound, template=call))
            except TemporaryDeliveryError as exc:
                await self._postpone(session, item, str(exc), exc.retry_after)
                return None
            except (PermanentDeliveryError, OutsideWindowError) as exc:
                log.error("template %s refused (%s): message held", template.name, exc)
                return await self._hold(session, item, None)
            await self._sent(session, item, message, platform_id, template.name)
            return 1
        announced = None
        if template is not None and not await self._announced(session, item):
            call = self.window.call(template, outbound)
            try:
                await self.sender.send(chat_id, replace(outbound, template=call, buttons=()))
                announced = template.name
            except (TemporaryDeliveryError, PermanentDeliveryError, OutsideWindowError) as exc:
                # Held anyway: it goes out when the stakeholder writes; the next held message
                # tries the announcement again.
                log.warning("template %s not sent (%s)", template.name, exc)
        return await self._hold(session, item, announced)

    async def _announced(self, session: AsyncSession, item: OutboxItem) -> bool:
        """Whether this chat's held messages were already announced (by any template): one
        "Buka pesan" brings them all, so one announcement is enough until they write."""
        query = select(OutboxItem.id).where(
            OutboxItem.channel == item.channel,
            OutboxItem.chat_id == item.chat_id,
            OutboxItem.status == OutboxStatus.HELD,
            col(OutboxItem.template).is_not(None),
        )
        return (await session.exec(query.limit(1))).first() is not None

    async def _hold(self, session: AsyncSession, item: OutboxItem, template: str | None) -> int:
        item.status = OutboxStatus.HELD
        item.claimed_at = None
        item.template = template
        session.add(item)
        await session.commit()
        return 0

    async def record_status(self, status: DeliveryStatus) -> str | None:
        """A status callback: kept on the message (the transcript shows it); a failure is acted
        on like the same failure when sending. Returns the chat to deliver to again after a
        failure (a message postponed or rerouted), else None."""
        async with self.sessions() as session:
            query = select(OutboxItem).where(
                OutboxItem.channel == self.sender.channel,
                OutboxItem.platform_message_id == status.platform_message_id,
            )
            item = (await session.exec(query)).first()
            if item is None:
                return None  # a template announcement, or a message from before a restore
            message = await session.get(Message, item.message_id)
            if message is None:
                return None
            entry = {"status": status.status, "at": status.at.isoformat()}
            if status.error:
                entry["error"] = status.error[:200]
            statuses = list(message.payload.get("statuses", []))[-(MAX_STATUSES - 1) :]
            message.payload = {**message.payload, "statuses": [*statuses, entry]}
            session.add(message)
            await session.commit()
            if status.status != "failed" or item.status != OutboxStatus.SENT:
                return None
            outbound = Outbound.from_payload(message.payload)
            if status.failure == "window":
                chat_id = await self._current_chat(session, item, outbound)
                stakeholder = await self._recipient(session, item, message, outbound)
                if stakeholder is not None and self.window is not None:
                    await self._outside_window(
                        session, item, message, outbound, stakeholder, chat_id
                    )
                    return item.chat_id
            if status.failure in ("temporary", "window"):
                await self._postpone(session, item, status.error or status.status, None)
                return item.chat_id
            await self._failed(session, item, message, status.error or "failed")
            return None
