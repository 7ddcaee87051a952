"""The outbox resolves a stakeholder's address again when it delivers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.addresses import ToStakeholder
from bot.addressing import Delivery
from bot.clock import FakeClock
from bot.engine import queue_outbound, queue_outbounds
from bot.messages import Outbound
from bot.runtime import Runtime, build_runtime
from bot.store.inserts import insert_if_new, insert_new_keys, table_of
from bot.store.models import Message, OutboxItem, ProcessedUpdate, Stakeholder
from tests.conftest import FakeChat, make_settings, postgres_database, postgres_url, rows


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
