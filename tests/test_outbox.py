"""The outbox resolves a stakeholder's address again when it delivers."""

from __future__ import annotations

import asyncio

from bot.addresses import ToStakeholder
from bot.addressing import Delivery
from bot.engine import queue_outbound
from bot.messages import Outbound
from bot.runtime import Runtime
from bot.store.models import OutboxItem, Stakeholder
from tests.conftest import FakeChat, rows


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
