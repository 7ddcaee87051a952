"""The outbox: addresses resolved again at delivery, claims, order per chat, crashes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.addresses import ToStakeholder
from bot.addressing import Delivery
from bot.channels.base import TemporaryDeliveryError
from bot.clock import FakeClock
from bot.engine import queue_outbound, queue_outbounds
from bot.host import Host
from bot.messages import Inbound, InboundKind, Outbound
from bot.runtime import Runtime, build_runtime
from bot.store.inserts import insert_if_new, insert_new_keys, table_of
from bot.store.models import Message, OutboxItem, ProcessedUpdate, Stakeholder
from tests.conftest import (
    FakeChat,
    RecordingSender,
    make_settings,
    postgres_database,
    postgres_url,
    rows,
)


async def test_a_message_queued_before_a_chat_changed_reaches_the_new_chat(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.id is not None
    async with runtime.sessions() as session:
        outbound = Outbound("Kabar perkembangan", to=ToStakeholder(stakeholder.id))
        delivery = Delivery("test", stakeholder.chat_id)
        now = runtime.clock.now()
        await queue_outbound(session, outbound, delivery, stakeholder_id=stakeholder.id, now=now)
        # The same person now talks from another chat (a new number on WhatsApp, say).
        row = await session.get(Stakeholder, stakeholder.id)
        assert row is not None
        row.chat_id = "chat-baru"
        session.add(row)
        await session.commit()
    before = len(chat.sender.delivered)
    assert await chat.host.deliver_due() == 1
    assert chat.sender.delivered[before:] == [("chat-baru", chat.sender.delivered[-1][1])]
    assert chat.sender.delivered[-1][1].text == "Kabar perkembangan"
    assert {item.status for item in await rows(runtime, OutboxItem)} == {"sent"}


async def test_a_send_cut_off_by_a_crash_goes_out_at_the_next_start(
    chat: FakeChat, runtime: Runtime
) -> None:
    """SQLite means one process: a claim left by a crash is released at start, not 60 s later."""
    await chat.identify()
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.id is not None
    now = runtime.clock.now()
    async with runtime.sessions() as session:
        outbound = Outbound("Kabar perkembangan", to=ToStakeholder(stakeholder.id))
        delivery = Delivery("test", stakeholder.chat_id)
        item_id = await queue_outbound(
            session, outbound, delivery, stakeholder_id=stakeholder.id, now=now
        )
        item = await session.get(OutboxItem, item_id)
        assert item is not None
        item.status, item.claimed_at = "sending", now  # the process died in the middle
        session.add(item)
        await session.commit()
    before = len(chat.sender.delivered)
    await chat.host.start()
    try:
        for _ in range(100):
            if len(chat.sender.delivered) > before:
                break
            await asyncio.sleep(0.05)
    finally:
        await chat.host.stop()
    assert [o.text for _, o in chat.sender.delivered[before:]] == ["Kabar perkembangan"]


async def queue_many_and_check(runtime: Runtime) -> None:
    """Forty messages to forty chats queued in one call: every outbox row points at its own
    message (the ids come back from one INSERT … RETURNING in the order given), and a duplicate
    idempotency key is refused without failing the transaction."""
    now = runtime.clock.now()
    entries = [
        (Outbound(f"pesan nomor {n}"), Delivery("test", f"chat-{n}"), None) for n in range(40)
    ]
    async with runtime.sessions() as session:
        item_ids = await queue_outbounds(session, entries, now=now)
        await session.commit()
    assert len(item_ids) == len(set(item_ids)) == 40
    async with runtime.sessions() as session:
        pairs = []
        for item_id in item_ids:
            item = await session.get(OutboxItem, item_id)
            assert item is not None
            message = await session.get(Message, item.message_id)
            assert message is not None
            pairs.append((item.chat_id, message.chat_id, message.text))
    assert pairs == [(f"chat-{n}", f"chat-{n}", f"pesan nomor {n}") for n in range(40)]
    table = table_of(ProcessedUpdate)
    async with runtime.sessions() as session:
        assert await insert_if_new(session, table, {"key": "k1", "processed_at": now})
        assert not await insert_if_new(session, table, {"key": "k1", "processed_at": now})
        rows_ = [{"key": key, "processed_at": now} for key in ("k1", "k2", "k3")]
        assert await insert_new_keys(session, table, rows_) == {"k2", "k3"}
        await session.commit()


async def test_many_queued_messages_keep_their_rows_together(runtime: Runtime) -> None:
    await queue_many_and_check(runtime)


async def test_many_queued_messages_keep_their_rows_together_on_postgresql(
    tmp_path: Path, clock: FakeClock
) -> None:
    url = postgres_url()
    if url is None:
        pytest.skip(
            "CSOBOT_TEST_POSTGRES_URL is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)"
        )
    async with postgres_database(url) as database:
        runtime = await build_runtime(make_settings(tmp_path, database_url=database), clock=clock)
        try:
            await queue_many_and_check(runtime)
        finally:
            await runtime.close()


class FailingOnce(RecordingSender):
    """Refuses its first send as a platform does when busy (a 429), then delivers."""

    def __init__(self) -> None:
        super().__init__("test")
        self.refused = 0

    async def send(self, chat_id: str, outbound: Outbound, thread_id: str | None = None) -> str:
        if not self.refused:
            self.refused += 1
            raise TemporaryDeliveryError("Too Many Requests", retry_after=5)
        return await super().send(chat_id, outbound, thread_id)


def question(chat: FakeChat, text: str) -> Inbound:
    return Inbound(
        channel="test",
        user_id=chat.user_id,
        chat_id=chat.user_id,
        update_key=f"test:{chat.user_id}:{text}",
        kind=InboundKind.TEXT,
        text=text,
    )


async def test_the_turn_claims_its_replies_for_the_process_that_delivers_them(
    chat: FakeChat, runtime: Runtime
) -> None:
    """A reply to whoever wrote is claimed in the turn's own transaction, so delivering it
    needs no claim of its own; a turn whose caller does not deliver leaves its rows pending."""
    await chat.identify()
    handled = await runtime.engine.handle(
        question(chat, "bagaimana cara mengajukan tup?"), deliver_here=True
    )
    assert len(handled.claimed) == 2  # "received" and the answer
    assert ("test", chat.user_id) not in handled.chats
    claimed_ids = [row.item["id"] for row in handled.claimed]
    by_id = {item.id: item for item in await rows(runtime, OutboxItem)}
    assert [by_id[i].status for i in claimed_ids] == ["sending", "sending"]
    assert all(by_id[i].claimed_at is not None for i in claimed_ids)
    before = len(chat.sender.delivered)
    await chat.host.deliver(handled)
    await chat.host.drain()
    assert len(chat.sender.delivered) == before + 2
    assert "TUP" in chat.sender.delivered[-1][1].text
    by_id = {item.id: item for item in await rows(runtime, OutboxItem)}
    assert [by_id[i].status for i in claimed_ids] == ["sent", "sent"]

    handled = await runtime.engine.handle(question(chat, "kapan gup bisa diajukan"))
    assert handled.claimed == ()
    assert ("test", chat.user_id) in handled.chats
    pending = [item for item in await rows(runtime, OutboxItem) if item.status == "pending"]
    assert len(pending) == 2 and all(item.claimed_at is None for item in pending)


async def test_a_reply_waits_behind_an_older_message_the_chat_has_not_received(
    chat: FakeChat, runtime: Runtime, clock: FakeClock
) -> None:
    await chat.identify()
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.id is not None
    async with runtime.sessions() as session:  # refused a moment ago: waits 30 s
        item_id = await queue_outbound(
            session,
            Outbound("Kabar perkembangan"),
            Delivery("test", chat.user_id),
            stakeholder_id=stakeholder.id,
            now=clock.now(),
        )
        item = await session.get(OutboxItem, item_id)
        assert item is not None
        item.next_attempt_at = clock.now() + timedelta(seconds=30)
        session.add(item)
        await session.commit()
    assert await chat.send("/bantuan") == []  # not before the older message
    waiting = [item for item in await rows(runtime, OutboxItem) if item.id >= item_id]
    assert [item.status for item in waiting] == ["pending", "pending"]
    clock.advance(seconds=31)
    before = len(chat.sender.delivered)
    assert await chat.host.deliver_due() == 2
    texts = [outbound.text for _, outbound in chat.sender.delivered[before:]]
    assert texts[0] == "Kabar perkembangan" and "Layanan Konsultasi" in texts[1]


async def test_a_refused_send_puts_the_turns_other_replies_back_in_line(
    runtime: Runtime, clock: FakeClock
) -> None:
    """The first of a turn's two claimed replies meets a 429: it waits its backoff, the second
    goes back to pending behind it (not left claimed, not sent first), and both go out in
    order once the wait is over."""
    chat = FakeChat(runtime)
    await chat.identify()
    sender = FailingOnce()
    chat.channel.sender = sender
    host = Host(runtime, [chat.channel])
    assert await host.deliver_due() == 0
    handled = await runtime.engine.handle(
        question(chat, "bagaimana cara mengajukan tup?"), deliver_here=True
    )
    first, second = (row.item["id"] for row in handled.claimed)
    await host.deliver(handled)
    await host.drain()
    assert sender.refused == 1 and sender.delivered == []
    by_id = {item.id: item for item in await rows(runtime, OutboxItem)}
    assert by_id[first].status == "pending" and by_id[first].attempts == 1
    assert by_id[first].next_attempt_at > clock.now()
    assert by_id[second].status == "pending" and by_id[second].claimed_at is None
    assert await host.deliver_due() == 0  # the first still waits, so the second does too
    clock.advance(seconds=6)
    assert await host.deliver_due() == 2
    texts = [outbound.text for _, outbound in sender.delivered]
    assert texts[0].startswith("Pertanyaan Bapak/Ibu kami terima") and "TUP" in texts[1]


async def test_replies_claimed_by_a_turn_go_out_after_a_crash(
    chat: FakeChat, runtime: Runtime
) -> None:
    """The process died after the turn committed and before it sent: on SQLite (one process)
    the claims are released at the next start and the replies go out, once."""
    await chat.identify()
    handled = await runtime.engine.handle(
        question(chat, "kapan gup bisa diajukan"), deliver_here=True
    )
    assert len(handled.claimed) == 2  # … and never delivered
    before = len(chat.sender.delivered)
    await chat.host.start()
    try:
        for _ in range(100):
            if len(chat.sender.delivered) >= before + 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await chat.host.stop()
    texts = [outbound.text for _, outbound in chat.sender.delivered[before:]]
    assert len(texts) == 2 and "GUP" in texts[1]
    assert {item.status for item in await rows(runtime, OutboxItem)} == {"sent"}
