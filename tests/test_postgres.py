"""The scale-out database: the same migrations and SOP on PostgreSQL, in a throwaway database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.clock import FakeClock
from bot.inbox import Inbox
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.store import db
from bot.store.models import InboxUpdate, OutboxItem, Ticket
from tests.conftest import FakeChat, events, make_settings, postgres_database, postgres_url, rows
from tests.fakes.bot_api import FakeBotApi

pytestmark = pytest.mark.skipif(
    postgres_url() is None,
    reason="CSOBOT_TEST_POSTGRES_URL is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)",
)


def telegram_settings(tmp_path: Path, database_url: str, bot_api: FakeBotApi) -> Settings:
    """Settings for csobot on Telegram (the fake Bot API) on the given PostgreSQL database."""
    from tests.test_telegram_e2e import TOKEN

    return make_settings(
        tmp_path,
        database_url=database_url,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=bot_api.base_url,
        telegram_file_base_url=bot_api.file_base_url,
    )


@pytest.fixture
async def postgres_runtime(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    async with postgres_database(postgres_url() or "") as url:
        runtime = await build_runtime(make_settings(tmp_path, database_url=url), clock=clock)
        try:
            yield runtime
        finally:
            await runtime.close()


async def test_a_consultation_on_postgresql(postgres_runtime: Runtime) -> None:
    chat = FakeChat(postgres_runtime)
    await chat.identify()
    await chat.send("bagaimana cara mengajukan tup?")
    await chat.press("Ya, terjawab")
    ticket = await chat.ticket()
    assert ticket.status == "resolved"
    assert ticket.opened_at.tzinfo is not None
    assert await events(postgres_runtime, ticket.id) == [
        (None, "asked"),
        ("asked", "answered"),
        ("answered", "resolved"),
    ]


async def test_ticket_numbers_are_unique_across_concurrent_sessions(
    postgres_runtime: Runtime,
) -> None:
    chats = [FakeChat(postgres_runtime, user_id=str(7000 + n)) for n in range(10)]
    for each in chats:
        await each.identify()
    await asyncio.gather(*(each.send("bagaimana prosedur mutasi pegawai") for each in chats))
    numbers = sorted(t.number for t in await rows(postgres_runtime, Ticket))
    assert numbers == [f"KNS-20261123-{n:04d}" for n in range(1, 11)]


async def test_migrations_are_idempotent(postgres_runtime: Runtime) -> None:
    await db.upgrade(postgres_runtime.db_engine)
    applied, head = await db.current_revision(postgres_runtime.db_engine)
    assert applied == head is not None


async def test_two_schedulers_on_postgresql_send_each_progress_message_once(
    postgres_runtime: Runtime, clock: FakeClock
) -> None:
    from datetime import datetime, timedelta

    from bot.scheduler import Scheduler
    from bot.store.models import Message, ScheduledJob

    for user in ("1001", "1002"):  # two tickets: their jobs run side by side in each process
        chat = FakeChat(postgres_runtime, user_id=user)
        await chat.identify()
        await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
        assert (await chat.ticket()).status == "queued"
    async with postgres_runtime.sessions() as session:
        jobs = (await session.exec(select(ScheduledJob))).all()
    assert {job.kind for job in jobs} >= {"progress", "queue_reminder", "breach"}
    progress_due = next(job.due_at for job in jobs if job.kind == "progress")
    clock.set(
        progress_due + timedelta(minutes=1)
    )  # Monday 10:01 WIB: progress and queue reminder due
    first, second = (
        Scheduler(postgres_runtime.engine, postgres_runtime.sessions, clock, concurrent=True)
        for _ in range(2)
    )
    handled = await asyncio.gather(first.run_due(), second.run_due())
    assert sum(handled) >= 4  # (the weekly report is also tried, by both; it runs once)
    async with postgres_runtime.sessions() as session:
        done = (
            await session.exec(select(ScheduledJob).where(ScheduledJob.status == "done"))
        ).all()
    assert sorted(job.kind for job in done) == ["progress"] * 2 + ["queue_reminder"] * 2
    progress = [m for m in await rows(postgres_runtime, Message) if "Kabar perkembangan" in m.text]
    assert len(progress) == 2  # one per ticket, each exactly once
    assert isinstance(clock.now(), datetime)


async def test_one_persons_simultaneous_updates_are_served_one_at_a_time(
    postgres_runtime: Runtime,
) -> None:
    """A double tap or a forwarded batch: 10 questions at once make 10 tickets handled in turn
    (each its own ticket, no error), and 5 simultaneous "Setuju" presses make one stakeholder."""
    from bot.buttons import decode
    from bot.messages import InboundKind
    from bot.store.models import Stakeholder

    newcomer = FakeChat(postgres_runtime, user_id="7777")
    await newcomer.send("/start")
    presses = [
        newcomer._inbound(InboundKind.BUTTON, action=decode("consent:yes")) for _ in range(5)
    ]
    await asyncio.gather(*(newcomer.host.receive(p) for p in presses))
    await newcomer.host.drain()
    assert (
        len([s for s in await rows(postgres_runtime, Stakeholder) if s.channel_user_id == "7777"])
        == 1
    )
    assert "gangguan" not in " ".join(o.text for _, o in newcomer.sender.delivered)

    chat = FakeChat(postgres_runtime)
    await chat.identify()
    questions = [
        chat._inbound(InboundKind.TEXT, text=f"bagaimana prosedur mutasi pegawai nomor {n}")
        for n in range(10)
    ]
    await asyncio.gather(*(chat.host.receive(q) for q in questions))
    await chat.host.drain()
    texts = " ".join(o.text for _, o in chat.sender.delivered)
    assert "gangguan" not in texts
    mine = [
        t
        for t in await rows(postgres_runtime, Ticket)
        if t.question.startswith("bagaimana prosedur mutasi pegawai nomor")
    ]
    # The first question is with the CSO, so the others join it rather than open tickets.
    assert len(mine) == 1


async def test_whatsapp_ids_fit_the_columns_on_postgresql(postgres_runtime: Runtime) -> None:
    """A business-scoped user id of ~140 characters as the chat, and the held-message state, on
    PostgreSQL (whose VARCHAR lengths are enforced, unlike SQLite's)."""
    long_id = "ID." + "9" * 137
    chat = FakeChat(postgres_runtime, long_id, channel="whatsapp")
    await chat.identify()
    await chat.send("bagaimana cara mengajukan tup?")
    await chat.press("Belum")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.chat_id == long_id
    assert stakeholder.notifications_opt_in is True and stakeholder.last_inbound_at is not None
    items = await rows(postgres_runtime, OutboxItem)
    assert any(item.chat_id == long_id for item in items)


async def test_one_send_budget_for_every_process(postgres_runtime: Runtime) -> None:
    """Two processes' budgets take from one bucket: together never more than the burst plus
    the rate times the time passed (a fake clock: no timing in the test)."""
    from bot.send_budget import Rate, SharedSendBudget

    clock = FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    one = SharedSendBudget(postgres_runtime.sessions, clock)
    two = SharedSendBudget(postgres_runtime.sessions, clock)
    rate = Rate(per_second=30.0, burst=30.0)
    waits = [await (one if n % 2 else two).take("telegram:bot", rate) for n in range(40)]
    assert waits[:30] == [0.0] * 30  # the burst
    assert all(wait > 0 for wait in waits[30:])  # then both processes must wait
    assert 0.0 < waits[30] <= 1 / 30 + 1e-6
    clock.advance(seconds=0.5)  # 15 tokens come back, shared
    taken = [await (one if n % 2 else two).take("telegram:bot", rate) for n in range(20)]
    assert taken.count(0.0) == 15
    group = Rate(per_second=20 / 60, burst=20)
    assert [await one.take("telegram:group:-100", group) for _ in range(21)].count(0.0) == 20
    # At the same moment from both processes at once: the burst is shared, never exceeded.
    burst = Rate(per_second=5.0, burst=12.0)
    waits = await asyncio.gather(
        *((one if n % 2 else two).take("whatsapp:123", burst) for n in range(30))
    )
    assert waits.count(0.0) == 12


async def test_the_shared_budget_serves_a_processs_senders_in_the_order_they_asked(
    postgres_runtime: Runtime,
) -> None:
    """First come, first served: under load no chat waits while later ones are served."""
    from bot.clock import SystemClock
    from bot.send_budget import Rate, SharedSendBudget

    budget = SharedSendBudget(postgres_runtime.sessions, SystemClock())
    rate = Rate(per_second=50.0, burst=1.0)
    served: list[int] = []

    async def sender(n: int) -> None:
        await budget.acquire("telegram:bot", rate)
        served.append(n)

    tasks = []
    for n in range(10):
        tasks.append(asyncio.create_task(sender(n)))
        await asyncio.sleep(0.002)  # asked in this order
    await asyncio.gather(*tasks)
    assert served == list(range(10))


async def test_telegram_on_postgresql_sends_within_the_shared_budget(
    tmp_path: Path, clock: FakeClock, bot_api: FakeBotApi
) -> None:
    from bot.channels.telegram import TelegramChannel
    from bot.host import Host
    from bot.send_budget import SharedSendBudget
    from bot.store.models import SendBudget
    from tests.test_telegram_e2e import USER, say

    async with postgres_database(postgres_url() or "") as url:
        settings = telegram_settings(tmp_path, url, bot_api)
        runtime = await build_runtime(settings, clock=clock)
        channel = TelegramChannel(
            runtime.settings, budget=SharedSendBudget(runtime.sessions, runtime.clock)
        )
        channel.initial_backoff = 0.01
        host = Host(runtime, [channel])
        try:
            await host.start()
            welcome, notice = await say(bot_api, "/start", 2)
            assert "Selamat datang" in welcome and "data pribadi" in notice
            assert bot_api.sent("sendMessage", USER)  # delivered, paced by the database
            (bucket,) = await rows(runtime, SendBudget)
            assert bucket.bucket == "telegram:bot" and bucket.tokens <= 29
        finally:
            await host.stop()
            await runtime.close()


async def test_whatsapp_on_postgresql_sends_within_the_shared_budget(
    tmp_path: Path, clock: FakeClock, bot_api: FakeBotApi
) -> None:
    """The business number's throughput is one bucket for every process, like Telegram's."""
    from bot.store.models import SendBudget
    from tests.whatsapp_harness import whatsapp_desk

    async with (
        postgres_database(postgres_url() or "") as url,
        whatsapp_desk(tmp_path, bot_api, clock, database_url=url, shared_budget=True) as wa,
    ):
        replies = await wa.say("halo", 1)
        assert replies and wa.refused() == []
        buckets = {row.bucket: row.tokens for row in await rows(wa.runtime, SendBudget)}
        number = wa.graph.phone_number_id
        assert buckets[f"whatsapp:{number}"] <= 80 - len(replies)


async def test_connections_the_server_dropped_cost_one_retry_not_an_update(
    tmp_path: Path, bot_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections are not pinged before use: when the server drops them (a restart), the
    operation that meets a dead one fails, is retried, and the stakeholder is still answered."""
    from sqlalchemy import text
    from sqlalchemy.pool import QueuePool

    from bot.clock import SystemClock
    from tests.conftest import start_telegram
    from tests.test_telegram_e2e import press, say

    async with postgres_database(postgres_url() or "") as url:
        settings = telegram_settings(tmp_path, url, bot_api)
        runtime = await build_runtime(settings, clock=SystemClock())
        host = await start_telegram(runtime)
        try:
            await say(bot_api, "/start", 2)
            pool = runtime.db_engine.pool
            assert isinstance(pool, QueuePool) and pool.checkedin() >= 1  # kept between turns
            admin = db.create_engine(postgres_url() or "")
            try:
                async with admin.connect() as connection:
                    killed = await connection.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": runtime.db_engine.url.database},
                    )
                    assert killed.scalar_one() >= 1
            finally:
                await admin.dispose()
            (thanks,) = await press(bot_api, "consent:yes", 1)
            assert "nama" in thanks.lower()
            # The dead connection was met (and the update stored again), not avoided.
            assert "update not stored" in caplog.text
        finally:
            await host.stop()
            await runtime.close()


async def test_one_senders_inbox_updates_run_one_at_a_time_across_processes(
    tmp_path: Path, clock: FakeClock
) -> None:
    """What lets a turn from the inbox skip the per-sender advisory lock: two processes claiming
    from one inbox never hold two updates of the same sender at once, and take them in order."""
    from bot.inbox import Inbox

    async with postgres_database(postgres_url() or "") as url:
        first = await build_runtime(make_settings(tmp_path, database_url=url), clock=clock)
        second = db.create_engine(url)
        try:
            inboxes = [
                Inbox(first.sessions, clock),
                Inbox(db.session_factory(second), clock),
            ]
            for n in range(12):
                for sender in ("ani", "budi"):
                    await inboxes[0].store("probe", f"{sender}-{n}", sender, {"n": n})
            holding: dict[str, int] = {}
            peak: dict[str, int] = {}
            seen: dict[str, list[int]] = {"ani": [], "budi": []}

            async def process(inbox: Inbox) -> None:
                while rows := await inbox.claim("probe", limit=2):  # both processes get some
                    for row in rows:
                        assert row.id is not None
                        holding[row.sender] = holding.get(row.sender, 0) + 1
                        peak[row.sender] = max(peak.get(row.sender, 0), holding[row.sender])
                        await asyncio.sleep(0.005)  # the other process claims meanwhile
                        seen[row.sender].append(row.payload["n"])
                        holding[row.sender] -= 1
                        await inbox.done(row.id)

            await asyncio.gather(*(process(inbox) for inbox in inboxes))
            assert seen == {"ani": list(range(12)), "budi": list(range(12))}
            assert peak == {"ani": 1, "budi": 1}
        finally:
            await second.dispose()
            await first.close()


async def test_a_stored_update_and_a_sent_message_are_one_round_trip_each(
    postgres_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the statements every update and message run alone (storing the update,
    marking a reply sent) go without BEGIN and COMMIT, which asyncpg sends as round trips of
    their own, and are committed all the same."""
    sent: list[str] = []  # what went to the server, in order: BEGIN, statements, COMMIT

    def recorded(name: str, method: Any) -> Any:
        async def wrapper(self: Any) -> Any:
            sent.append(name)
            return await method(self)

        return wrapper

    for name in ("start", "commit"):
        method = getattr(asyncpg.transaction.Transaction, name)
        monkeypatch.setattr(asyncpg.transaction.Transaction, name, recorded(name.upper(), method))

    def statement(*args: Any) -> None:
        sent.append(args[2].split()[0])

    event.listen(postgres_runtime.db_engine.sync_engine, "before_cursor_execute", statement)
    inbox = Inbox(postgres_runtime.sessions, postgres_runtime.clock)
    assert await inbox.store("test", "test:update:1", "1001", {"text": "halo"})
    assert sent == ["INSERT"]
    assert not await inbox.store("test", "test:update:1", "1001", {"text": "halo"})
    assert [(row.key, row.status) for row in await rows(postgres_runtime, InboxUpdate)] == [
        ("test:update:1", "pending")
    ]

    chat = FakeChat(postgres_runtime)
    await chat.identify()
    sent.clear()
    await chat.send("/bantuan")
    # The turn's transaction (which claims the reply), then the reply marked sent alone.
    # (A statement is recorded just before the BEGIN its execution starts.)
    assert sent.count("START") == sent.count("COMMIT") == 1
    assert sent[sent.index("COMMIT") + 1 :] == ["UPDATE"]
    assert {item.status for item in await rows(postgres_runtime, OutboxItem)} == {"sent"}
