"""Files are what their bytes say, and a retried update does not download its file again."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.clock import FakeClock
from bot.files import cached_incoming, file_into_ticket, sniff, store_incoming
from bot.store.models import Attachment, InboxUpdate
from tests.conftest import rows
from tests.fakes.bot_api import FakeBotApi
from tests.test_desk_e2e import USER, handed_off_tup_ticket, recent, start


def office_file(member: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"%PDF-1.7\n...", "pdf"),
        (b"\xff\xd8\xff\xe1 exif", "jpg"),
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (office_file("word/document.xml"), "docx"),
        (office_file("xl/workbook.xml"), "xlsx"),
        (office_file("lain.txt"), None),  # a zip, but no office document
        (b"PK\x03\x04 rusak", None),
        (b"MZ\x90\x00", None),  # a Windows program
        (b"", None),
        (b"%PDF", None),
    ],
)
def test_the_bytes_decide_the_type(content: bytes, kind: str | None) -> None:
    assert sniff(content) == kind


def test_filing_twice_after_a_retry_leaves_no_orphan_copy(tmp_path: Path) -> None:
    stored, _ = store_incoming(tmp_path, b"%PDF-1.4 isi", key="telegram:u1")
    first = file_into_ticket(tmp_path, stored, "KNS-1", "surat.pdf")
    again = file_into_ticket(tmp_path, stored, "KNS-1", "surat.pdf")
    assert first == again == "files/tickets/KNS-1/surat.pdf"
    other, _ = store_incoming(tmp_path, b"%PDF-1.4 lain", key="telegram:u2")
    assert file_into_ticket(tmp_path, other, "KNS-1", "surat.pdf").endswith("surat-1.pdf")
    assert sorted(p.name for p in (tmp_path / "files/tickets/KNS-1").iterdir()) == [
        "surat-1.pdf",
        "surat.pdf",
    ]
    assert cached_incoming(tmp_path, "telegram:u1") is not None
    assert cached_incoming(tmp_path, "telegram:u3") is None


async def test_a_retried_update_does_not_download_its_file_again(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, host = await start(tmp_path, bot_api, clock)
    try:
        await handed_off_tup_ticket(bot_api)
        engine = runtime.engine
        handle = engine.handle
        failures = [OperationalError("INSERT", {}, Exception("database is locked"))]

        async def database_down_once(*args: object, **kwargs: object) -> object:
            if failures:
                raise failures.pop()
            return await handle(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(engine, "handle", database_down_once)
        bot_api.push_document(USER, "surat.pdf", b"%PDF-1.4 surat")
        await bot_api.wait_for(lambda: not failures)  # the first processing failed

        async def retry_pending() -> bool:
            (row,) = [r for r in await rows(runtime, InboxUpdate) if r.status == "pending"]
            return row.attempts == 1

        for _ in range(200):
            if await retry_pending():
                break
            await asyncio.sleep(0.02)
        clock.advance(seconds=3)  # past the retry's backoff
        channel = host.channels[0]
        assert await host.process_inbox(channel) == 1
        await host.drain()
        await bot_api.wait_for(lambda: recent(bot_api, "Diterima: surat.pdf"))
        assert [r.params["file_id"] for r in bot_api.sent("getFile")] == ["doc1"]  # once
        (attachment,) = await rows(runtime, Attachment)
        assert (tmp_path / "data" / attachment.path).read_bytes() == b"%PDF-1.4 surat"
    finally:
        await host.stop()
        await runtime.close()


async def test_captions_written_with_files_are_kept_in_the_transcript(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    from bot.transcript import load_transcript
    from tests.test_desk_e2e import ANDI, GROUP

    runtime, host = await start(tmp_path, bot_api, clock)
    try:
        thread = await handed_off_tup_ticket(bot_api)
        bot_api.push_document(USER, "rekening.pdf", b"%PDF-1.4 r", caption="rekening koran Mei")
        await bot_api.wait_for(lambda: recent(bot_api, "Diterima: rekening.pdf"))
        bot_api.push_document(
            ANDI, "contoh.pdf", b"%PDF-1.4 c", chat_id=GROUP, thread_id=thread, caption="contohnya"
        )
        await bot_api.wait_for(lambda: bool(bot_api.sent("copyMessage", USER)))
        async with runtime.sessions() as session:
            found = await load_transcript(session, runtime.config, "KNS-20261123-0001")
        assert found is not None
        texts = [entry.text for entry in found.entries]
        assert "[berkas] rekening.pdf — rekening koran Mei" in texts
        assert "[berkas] contoh.pdf — contohnya" in texts
        assert {"rekening.pdf", "contoh.pdf"} <= set(texts)  # both files, with their details
    finally:
        await host.stop()
        await runtime.close()
