"""Retention: stakeholders inactive past `service.retention_months` disappear with all their data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.clock import FakeClock
from bot.files import store_incoming
from bot.messages import InboundKind, IncomingFile
from bot.retention import months_before, purge
from bot.runtime import build_runtime
from bot.store.models import Attachment, Message, Stakeholder, Ticket
from tests.conftest import FakeChat, make_settings, rows


def test_months_before_keeps_calendar_months() -> None:
    assert months_before(datetime(2026, 11, 23, tzinfo=UTC), 24) == datetime(
        2024, 11, 23, tzinfo=UTC
    )
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)


async def test_purge_removes_only_inactive_stakeholders_without_open_tickets(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime(2024, 1, 10, 2, 0, tzinfo=UTC))
    runtime = await build_runtime(make_settings(tmp_path), clock=clock)
    try:
        old = FakeChat(runtime, user_id="1")
        await old.identify(name="Lama Sekali")
        await old.send("bagaimana cara mengajukan tup?")
        await old.press("Belum")
        stored, digest = store_incoming(tmp_path / "data", b"%PDF lama")
        await old.send_raw(
            old._inbound(
                InboundKind.FILE,
                platform_message_id="9",
                file=IncomingFile("f", "lama.pdf", "pdf", 9, stored, digest),
            )
        )
        (attachment,) = await rows(runtime, Attachment)
        assert (tmp_path / "data" / attachment.path).exists()
        ticket = await old.ticket()
        async with runtime.sessions() as session:  # resolved long ago
            row = await session.get(Ticket, ticket.id)
            assert row is not None
            row.status = "resolved"
            session.add(row)
            await session.commit()
        waiting = FakeChat(runtime, user_id="2")
        await waiting.identify(name="Masih Menunggu")
        await waiting.send(
            "bagaimana prosedur mutasi pegawai antar kementerian lembaga"
        )  # stays queued
        clock.set(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
        recent = FakeChat(runtime, user_id="3")
        await recent.identify(name="Baru Saja")
        await recent.send("kapan gup bisa diajukan")

        cutoff = months_before(clock.now(), 24)
        async with runtime.sessions() as session:
            counted = await purge(session, tmp_path / "data", cutoff, dry_run=True)
        assert (counted.stakeholders, counted.tickets, counted.files) == (1, 1, 1)
        assert len(await rows(runtime, Stakeholder)) == 3  # a dry run changes nothing
        async with runtime.sessions() as session:
            done = await purge(session, tmp_path / "data", cutoff)
        assert (done.stakeholders, done.tickets, done.files) == (1, 1, 1) and done.messages > 5
        assert sorted(s.full_name for s in await rows(runtime, Stakeholder)) == [
            "Baru Saja",
            "Masih Menunggu",
        ]
        assert all(m.stakeholder_id != 1 for m in await rows(runtime, Message))
        assert await rows(runtime, Attachment) == []
        assert not (tmp_path / "data" / attachment.path).exists()
        await old.send("/start")  # the person can come back: asked for consent afresh
        assert "Setuju" in [b.label for r in old.replies for b in r.buttons]
    finally:
        await runtime.close()


async def test_processed_raw_updates_and_old_downloads_are_kept_one_week(tmp_path: Path) -> None:
    import os
    from datetime import timedelta

    from bot.inbox import Inbox
    from bot.store.models import InboxUpdate

    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    clock = FakeClock(now - timedelta(days=10))
    runtime = await build_runtime(make_settings(tmp_path), clock=clock)
    try:
        inbox = Inbox(runtime.sessions, clock)
        for key in ("old-done", "old-failed"):
            await inbox.store("telegram", key, f"user:{key}", {"message": {"text": "Budi 0812"}})
        (done, failed) = await inbox.claim("telegram")
        assert done.id is not None and failed.id is not None
        await inbox.done(done.id)
        for _ in range(20):  # set aside after every retry
            await inbox.retry(failed.id, "OperationalError")
        clock.set(now)
        await inbox.store("telegram", "recent", "user:2", {"message": {"text": "baru"}})
        recent = (await inbox.claim("telegram"))[0]
        assert recent.id is not None
        await inbox.done(recent.id)
        data = tmp_path / "data"
        old, _ = store_incoming(data, b"%PDF-1.4 lama", key="telegram:old")
        new, _ = store_incoming(data, b"%PDF-1.4 baru", key="telegram:new")
        ten_days = (now - timedelta(days=10)).timestamp()
        os.utime(data / old, (ten_days, ten_days))
        async with runtime.sessions() as session:
            counted = await purge(session, data, months_before(now, 24), dry_run=True, now=now)
            assert counted.raw_updates == 1
            result = await purge(session, data, months_before(now, 24), now=now)
        assert (result.raw_updates, result.downloads) == (1, 1)
        left = {(row.key, row.status) for row in await rows(runtime, InboxUpdate)}
        assert left == {("old-failed", "failed"), ("recent", "done")}
        assert not (data / old).exists() and (data / new).exists()
    finally:
        await runtime.close()
