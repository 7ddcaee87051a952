"""Runs one inbound event through the SOP in one database transaction.

The transaction covers the idempotency key, the transcript rows, every state change and the
outbox rows, so an inbound event is either fully handled once or not at all: a redelivered
update is a no-op, and a crash before commit leaves the platform to redeliver it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, text
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import inbox
from bot.addressing import AddressBook, Delivery
from bot.buttons import decode, typed_choice
from bot.clock import Clock
from bot.config import Config
from bot.knowledge_holder import KnowledgeHolder
from bot.messages import Inbound, InboundKind, Outbound
from bot.outbox import ClaimedMessage, chat_is_clear
from bot.queries import stakeholders, tickets
from bot.store.db import SessionFactory
from bot.store.inserts import insert_if_new, insert_new_keys, insert_returning_ids, table_of
from bot.store.models import (
    HANDED_OFF,
    Direction,
    Message,
    OutboxItem,
    OutboxStatus,
    ProcessedUpdate,
    Ticket,
)
from bot.turn import Turn
from bot.window import ServiceWindow

log = logging.getLogger(__name__)

TRUNCATED = " […dipotong]"
PROCESSED_KEY_LENGTH = 100  # processed_update.key
SENDER_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:sender, 0))")
# Built once, like the inbox's statements; the key comes as a parameter.
_PROCESSED = table_of(ProcessedUpdate)
_UNCLAIM = delete(_PROCESSED).where(_PROCESSED.c.key == bindparam("key"))

Router = Callable[[Turn], Awaitable[None]]
Queued = tuple[Outbound, Delivery, int | None]  # a reply, where it goes, whose transcript


@dataclass(frozen=True)
class Handled:
    """What must be delivered after a turn.

    `unstored` are replies to someone who has not consented: sent once, best effort, and kept
    nowhere, because before consent nothing about the person may be stored (UU 27/2022 PDP).
    `chats` are the (channel, chat) pairs with new outbox rows, the sender's first.
    `claimed` are the replies to the sender that the turn claimed for the process that handled
    it (see `Engine.handle`); their chat is then not in `chats`.
    """

    channel: str
    chat_id: str
    unstored: tuple[Outbound, ...] = ()
    chats: tuple[tuple[str, str], ...] = ()
    claimed: tuple[ClaimedMessage, ...] = ()
    # False when the turn failed (rolled back, apology stored) or its key had been used already:
    # the scheduler then checks whether the job is stuck.
    complete: bool = True


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
        self.addresses = AddressBook(config)

    async def handle(
        self,
        inbound: Inbound,
        typing: Callable[[], None] = lambda: None,
        *,
        deliver_here: bool = False,
    ) -> Handled:
        """Handle one event; stored replies wait in the outbox, unstored ones are returned.

        `deliver_here`: the caller delivers the replies to the sender itself, so the turn claims
        their outbox rows in its own transaction (`Handled.claimed`) when nothing older waits
        for that chat: two transactions and three statements fewer per reply than a claim
        after the turn. Otherwise the rows wait as pending, like everything else.

        A bug in a handler must not cost the stakeholder their message or leave them without a
        reply: the failed transaction is rolled back and the message is stored with an apology.
        """
        try:
            return await self._handle(inbound, typing, deliver_here)
        except Exception:
            log.exception("handling %s failed", inbound.update_key)
            return await self._record_failure(inbound)

    async def accepts_files(self, inbound: Inbound) -> bool:
        """Whether a file from this sender should be downloaded: from staff, or from a consented
        stakeholder whose latest ticket is with a CSO (nothing is fetched for anyone else)."""
        if self.config.staff_member(inbound.channel, inbound.user_id) is not None:
            return True
        if not inbound.is_private:
            return False
        async with self.sessions() as session:
            stakeholder = await stakeholders.find(session, inbound.channel, inbound.user_id)
            if stakeholder is None or stakeholder.id is None:
                return False
            latest = await tickets.latest_open(session, stakeholder.id)
        return latest is not None and latest.status in HANDED_OFF

    async def _record_failure(self, inbound: Inbound) -> Handled:
        async with self.sessions() as session:
            if not await self._claim(session, inbound):
                return Handled(inbound.channel, inbound.chat_id, complete=False)
            turn = await self._turn(session, inbound, with_conversation=False)
            if inbound.is_private:
                turn.say("internal_error")
            else:
                turn.record_inbound = False
            handled = await self._persist(session, turn)
            await session.commit()
            return replace(handled, complete=False)

    async def _handle(
        self, inbound: Inbound, typing: Callable[[], None], deliver_here: bool
    ) -> Handled:
        async with self.sessions() as session:
            await self._one_turn_at_a_time(session, inbound)
            if not await self._claim(session, inbound):
                log.info("duplicate update %s ignored", inbound.update_key)
                return Handled(inbound.channel, inbound.chat_id, complete=False)
            turn = await self._turn(session, inbound, typing=typing)
            turn.inbound = await self._typed_choice(session, turn)
            await self.router(turn)
            claim = (inbound.channel, inbound.chat_id) if deliver_here else None
            handled = await self._persist(session, turn, claim)
            if handled.unstored and turn.stakeholder is None and turn.staff is None:
                # Someone who has not consented: nothing about them is stored, so the notice can
                # only be sent after this commit. Their update stays unclaimed and not done until
                # it has been sent (the inbox marks it then): a crash in between sends the notice
                # again instead of never. Staff turns keep their key: their commands have effects.
                await self._unclaim(session, inbound)
            else:
                await inbox.mark_done_in(session, turn.now)
            await session.commit()
            return handled

    async def handle_timers(
        self,
        inbounds: Sequence[Inbound],
        prepare: Callable[[AsyncSession], Awaitable[object]] | None = None,
    ) -> list[Handled] | None:
        """Several timer events, each about a different ticket, in one transaction: a backlog of
        due jobs costs one commit and a handful of statements per batch instead of nine round
        trips per job. All or nothing, like one turn: None when anything failed (the caller then
        handles them one by one, where a failure is recorded per job). `prepare` reads what the
        turns will need in a few queries; what it returns is held until the commit, so the
        session's identity map keeps it."""
        try:
            async with self.sessions() as session:
                held = await prepare(session) if prepare is not None else None
                now = self.clock.now()
                keys = [processed_key(inbound.update_key) for inbound in inbounds]
                new_keys = await insert_new_keys(
                    session,
                    table_of(ProcessedUpdate),
                    [{"key": key, "processed_at": now} for key in keys],
                )
                results: list[Handled] = []
                queued: list[Queued] = []
                for inbound, key in zip(inbounds, keys, strict=True):
                    if key not in new_keys:
                        results.append(Handled(inbound.channel, inbound.chat_id, complete=False))
                        continue
                    turn = await self._turn(session, inbound)
                    await self.router(turn)
                    handled, replies, inbound_row = await self._collect(session, turn)
                    if inbound_row is not None:  # before the batch's replies, in turn order
                        await insert_returning_ids(session, table_of(Message), [inbound_row])
                    results.append(handled)
                    queued.extend(replies)
                await queue_outbounds(session, queued, now=now)
                await session.commit()
                del held
                return results
        except Exception:
            log.warning(
                "a batch of %d timer events failed; one at a time", len(inbounds), exc_info=True
            )
            return None

    async def _turn(
        self,
        session: AsyncSession,
        inbound: Inbound,
        *,
        typing: Callable[[], None] = lambda: None,
        with_conversation: bool = True,
    ) -> Turn:
        stakeholder, conversation = (
            (None, None)  # a timer speaks for nobody: its handler loads what the job is about
            if inbound.kind is InboundKind.TIMER
            else await stakeholders.find_with_conversation(
                session, inbound.channel, inbound.user_id
            )
        )
        return Turn(
            inbound=inbound,
            session=session,
            config=self.config,
            matcher=self.knowledge.matcher,
            knowledge=self.knowledge,
            now=self.clock.now(),
            stakeholder=stakeholder,
            conversation=conversation if with_conversation else None,
            typing=typing,
            staff=self.config.staff_member(inbound.channel, inbound.user_id),
            data_dir=self.data_dir,
            web_base_url=self.web_base_url,
        )

    async def _typed_choice(self, session: AsyncSession, turn: Turn) -> Inbound:
        """Typing an option's number or label is pressing it, on every channel: a WhatsApp
        list shown as numbered text, a button someone would rather type."""
        inbound, stakeholder = turn.inbound, turn.stakeholder
        if (
            inbound.kind is not InboundKind.TEXT
            or not inbound.is_private
            or stakeholder is None
            or stakeholder.id is None
            or turn.staff is not None
        ):
            return inbound
        choices = await stakeholders.last_choices(session, stakeholder.id, inbound.channel)
        index = typed_choice(inbound.text, [str(choice.get("label", "")) for choice in choices])
        if index is None:
            return inbound
        chosen = choices[index]
        label = str(chosen.get("label", ""))
        pressed = decode(chosen.get("data"))
        if pressed is None:  # a choice that sends its label (Telegram's reply keyboard)
            return replace(inbound, text=label)
        return replace(inbound, kind=InboundKind.BUTTON, action=pressed, text=label)

    async def change_identity(
        self,
        channel: str,
        old_user_id: str,
        new_user_id: str,
        new_chat_id: str,
        phones: tuple[str, str] | None,
    ) -> tuple[str, str] | None:
        """The same stakeholder under a new platform id; returns the chat to deliver to now."""
        async with self.sessions() as session:
            moved = await stakeholders.change_identity(
                session, channel, old_user_id, new_user_id, new_chat_id, phones, self.clock.now()
            )
            await session.commit()
        return (channel, new_chat_id) if moved is not None else None

    async def queue_about(
        self, ticket_id: int, build: Callable[[Ticket], Outbound]
    ) -> list[tuple[str, str]]:
        """Queue a message about a ticket outside any turn (the outbox telling the desk of a
        failed delivery); returns the chats to deliver to."""
        async with self.sessions() as session:
            ticket = await tickets.get(session, ticket_id)
            if ticket is None:
                return []
            outbound = build(ticket)
            assert outbound.to is not None
            deliveries = await self.addresses.resolve(session, outbound.to)
            for delivery in deliveries:
                await queue_outbound(
                    session,
                    outbound,
                    delivery,
                    stakeholder_id=ticket.stakeholder_id,
                    now=self.clock.now(),
                )
            await session.commit()
        return [(delivery.channel, delivery.chat_id) for delivery in deliveries]

    async def _one_turn_at_a_time(self, session: AsyncSession, inbound: Inbound) -> None:
        """Serialise one person's turns across processes (a double tap, a forwarded batch):
        on PostgreSQL a transaction-scoped advisory lock per sender, released at commit. SQLite
        has a single writer, which serialises turns already. An update from the inbox needs no
        lock: the inbox hands out a sender's next update only once the previous one is done (one
        statement fewer per update)."""
        bind = session.bind
        if (
            bind is None
            or bind.dialect.name != "postgresql"
            or inbound.kind is InboundKind.TIMER
            or inbox.PROCESSING.get() is not None
        ):
            return
        sender = f"{inbound.channel}:{inbound.user_id}"
        await session.exec(SENDER_LOCK.bindparams(sender=sender))  # type: ignore[call-overload]

    async def _claim(self, session: AsyncSession, inbound: Inbound) -> bool:
        """Take the update's key, in the turn's transaction; False when it was taken before."""
        return await insert_if_new(
            session,
            table_of(ProcessedUpdate),
            {"key": processed_key(inbound.update_key), "processed_at": self.clock.now()},
        )

    async def _unclaim(self, session: AsyncSession, inbound: Inbound) -> None:
        """Give the update's key back, in the turn's transaction, so it can be handled again."""
        await session.exec(_UNCLAIM, params={"key": processed_key(inbound.update_key)})

    async def _persist(
        self, session: AsyncSession, turn: Turn, claim: tuple[str, str] | None = None
    ) -> Handled:
        """Write the transcript (inbound first, then replies) and queue the replies; those to
        the chat `claim` names are claimed when nothing older waits for it."""
        handled, queued, inbound_row = await self._collect(session, turn)
        to_claim = any((delivery.channel, delivery.chat_id) == claim for _, delivery, _ in queued)
        if claim is None or not to_claim or not await chat_is_clear(session, *claim):
            claim = None
        _, claimed = await _queue(session, queued, now=turn.now, claim=claim, first=inbound_row)
        if not claimed:
            return handled
        chats = tuple(chat for chat in handled.chats if chat != claim)
        return replace(handled, chats=chats, claimed=tuple(claimed))

    async def _collect(
        self, session: AsyncSession, turn: Turn
    ) -> tuple[Handled, list[Queued], dict[str, Any] | None]:
        """Add the notes; returns what the replies need queued and the inbound transcript row
        (unless written already), which the caller writes ahead of the replies' rows in the same
        statement (one statement per update fewer).

        A reply to the sender is stored when it belongs to someone who consented: the stakeholder
        of this turn, or the stakeholder of the ticket it concerns. Anything else said to the
        sender (the notice before consent, answers to staff commands) is sent once and stored
        nowhere. Messages to an address (staff, a desk thread) always go through the outbox.
        """
        stakeholder = turn.stakeholder
        inbound = turn.inbound
        # They wrote: a channel's window (WhatsApp's 24 hours) opens, and what was held while
        # it was closed goes out first, in order. Only such channels hold messages or need the
        # time (elsewhere it would be one more UPDATE per update).
        if (
            stakeholder is not None
            and inbound.is_private
            and turn.staff is None
            and inbound.kind is not InboundKind.TIMER
            and stakeholder.chat_id == inbound.chat_id
            and ServiceWindow.for_channel(self.config, inbound.channel) is not None
        ):
            stakeholder.last_inbound_at = turn.now
            session.add(stakeholder)
            await stakeholders.release_held(session, inbound.channel, inbound.chat_id, turn.now)
        written: dict[str, Any] | None = None
        if stakeholder is not None and turn.record_inbound:
            if stakeholder.id is None:  # consented in this very turn: its row is still pending
                await session.flush()
            # Without an ORM object: every update of a stakeholder writes one.
            written = {
                "stakeholder_id": stakeholder.id,
                "ticket_id": turn.inbound_ticket_id,
                "channel": inbound.channel,
                "chat_id": inbound.chat_id,
                "direction": Direction.IN,
                "actor": "stakeholder",
                "kind": inbound.kind.value,
                "text": self._kept(turn.inbound_label or inbound.text),
                "payload": inbound.payload(),
                "internal": False,
                "created_at": turn.now,
            }
            if turn.notes:  # written now, before the notes, so the transcript keeps its order
                await insert_returning_ids(session, table_of(Message), [written])
                written = None
        for note in turn.notes:
            session.add(note)
        unstored = []
        chats: dict[tuple[str, str], None] = {}
        if inbound.is_private or inbound.thread_id is not None:
            chats[(inbound.channel, inbound.chat_id)] = None
        queued: list[Queued] = []
        for reply in turn.replies:
            owner = await self._owner(session, turn, reply)
            if owner is None and reply.ticket_id is None and reply.to is None:
                unstored.append(reply)
                continue
            if reply.to is None:
                deliveries = [Delivery(inbound.channel, inbound.chat_id)]
            else:
                deliveries = await self.addresses.resolve(session, reply.to)
            for delivery in deliveries:
                queued.append((reply, delivery, owner))
                chats[(delivery.channel, delivery.chat_id)] = None
        handled = Handled(inbound.channel, inbound.chat_id, tuple(unstored), tuple(chats))
        return handled, queued, written

    def _kept(self, text: str) -> str:
        """A text over the service's limit is refused (router) and kept only up to the limit."""
        limit = self.config.service.max_message_length
        return text if len(text) <= limit else text[:limit] + TRUNCATED

    async def _owner(self, session: AsyncSession, turn: Turn, reply: Outbound) -> int | None:
        """The consented stakeholder whose transcript this reply belongs to, if any."""
        ticket = await tickets.get(session, reply.ticket_id)
        if ticket is not None:
            return ticket.stakeholder_id
        if reply.to is None and turn.stakeholder is not None:
            return turn.stakeholder.id
        return None


def processed_key(update_key: str) -> str:
    """The key as kept: a channel's long key (a platform id of up to ~140 characters inside)
    is kept as its digest, so it always fits the column."""
    if len(update_key) <= PROCESSED_KEY_LENGTH:
        return update_key
    return "sha256:" + hashlib.sha256(update_key.encode()).hexdigest()


async def queue_outbound(
    session: AsyncSession,
    outbound: Outbound,
    delivery: Delivery,
    *,
    stakeholder_id: int | None,
    now: datetime,
) -> int:
    """Record an outgoing message in the transcript and the outbox, in the caller's transaction;
    returns its outbox row's id."""
    (item_id,) = await queue_outbounds(session, [(outbound, delivery, stakeholder_id)], now=now)
    return item_id


async def queue_outbounds(
    session: AsyncSession,
    entries: Sequence[Queued],
    *,
    now: datetime,
) -> list[int]:
    """Record a turn's outgoing messages (outbound, where to, whose transcript) and their outbox
    rows with two statements in all, written without ORM objects (nothing in a turn reads them
    back); returns the outbox rows' ids. Whatever the session still holds unflushed (a CSO's
    notes) is flushed first, so the transcript keeps its order."""
    item_ids, _ = await _queue(session, entries, now=now)
    return item_ids


async def _queue(
    session: AsyncSession,
    entries: Sequence[Queued],
    *,
    now: datetime,
    claim: tuple[str, str] | None = None,
    first: dict[str, Any] | None = None,
) -> tuple[list[int], list[ClaimedMessage]]:
    """What `queue_outbounds` does; the rows to the chat `claim` names are written claimed
    (sending since `now`; the caller checked `chat_is_clear`); `first` is a transcript row
    written ahead of the replies' in the same statement (the turn's inbound message). Returns
    the outbox rows' ids and the claimed rows."""
    messages = []
    for outbound, delivery, stakeholder_id in entries:
        if delivery.desk_ticket_id is not None:
            outbound = replace(outbound, desk_ticket_id=delivery.desk_ticket_id)
        messages.append(
            {
                "stakeholder_id": stakeholder_id,
                "ticket_id": outbound.ticket_id,
                "channel": delivery.channel,
                "chat_id": delivery.chat_id,
                "direction": Direction.OUT,
                "actor": outbound.actor,
                "kind": "desk" if outbound.internal else "text",
                "text": outbound.text,
                "payload": outbound.payload(),
                "internal": outbound.internal,
                "created_at": now,
            }
        )
    transcript = [first, *messages] if first is not None else messages
    message_ids = await insert_returning_ids(session, table_of(Message), transcript)
    if first is not None:
        message_ids = message_ids[1:]
    if not messages:
        return [], []
    items = []
    for message, message_id, (_, delivery, _) in zip(messages, message_ids, entries, strict=True):
        message["id"] = message_id
        claiming = (delivery.channel, delivery.chat_id) == claim
        items.append(
            {
                "message_id": message_id,
                "channel": delivery.channel,
                "chat_id": delivery.chat_id,
                "status": OutboxStatus.SENDING if claiming else OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "claimed_at": now if claiming else None,
            }
        )
    item_ids = await insert_returning_ids(session, table_of(OutboxItem), items)
    claimed: list[ClaimedMessage] = []
    for item, item_id, message in zip(items, item_ids, messages, strict=True):
        if item["status"] == OutboxStatus.SENDING:
            claimed.append(ClaimedMessage({**item, "id": item_id}, message))
    return item_ids, claimed
