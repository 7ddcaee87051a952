"""/hapus_data: a stakeholder withdraws consent and erases their personal data (UU 27/2022 PDP);
retention also removes the transcripts exported for the tickets it purges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import SQLModel

from bot.clock import FakeClock
from bot.files import store_incoming
from bot.messages import Inbound, InboundKind, IncomingFile, parse_command
from bot.retention import EXPORTS, months_before, purge
from bot.runtime import Runtime, build_runtime
from bot.store.models import (
    Attachment,
    Conversation,
    InboxUpdate,
    Message,
    OutboxItem,
    ScheduledJob,
    Stakeholder,
    SurveyResponse,
    Ticket,
    TicketEvent,
)
from handlers import supervision
from tests.conftest import FakeChat, config_for_tests, count, events, make_settings, rows

STAFF = [
    {"name": "Andi CSO", "role": "cso", "telegram_id": 8001},
    {"name": "Eka Supervisor", "role": "supervisor", "telegram_id": 8201},
]
NAME, PHONE, SATKER, ORGANISATION = "Siti Rahmawati", "081234567890", "987654", "Satker Contoh"
# Everything that would point at the person, as it may have been stored.
PERSONAL = ("Siti", "Rahmawati", "81234567890", SATKER, ORGANISATION)
TABLES: tuple[type[SQLModel], ...] = (
    Stakeholder,
    Conversation,
    Message,
    OutboxItem,
    Attachment,
    Ticket,
    TicketEvent,
    SurveyResponse,
)


async def staff_runtime(tmp_path: Path, clock: FakeClock) -> Runtime:
    settings = make_settings(tmp_path, csobot_config=config_for_tests(tmp_path, staff=STAFF))
    return await build_runtime(settings, clock=clock)


async def staff_says(runtime: Runtime, user: str, text: str) -> None:
    parsed = parse_command(text)
    assert parsed is not None
    command, args = parsed
    await runtime.engine.handle(
        Inbound(
            channel="telegram",
            user_id=user,
            chat_id=user,
            update_key=f"staff:{user}:{text}",
            kind=InboundKind.COMMAND,
            command=command,
            args=args,
            text=text,
        )
    )


async def identify_with_phone(chat: FakeChat) -> None:
    await chat.send("/start")
    await chat.press("Setuju")
    await chat.send(NAME)
    await chat.press("PPK")
    await chat.send(SATKER)
    await chat.send(ORGANISATION)
    await chat.send(PHONE)
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.phone == "+6281234567890"


def labels(chat: FakeChat) -> list[str]:
    return [button.label for reply in chat.replies for button in reply.buttons]


async def personal_data_left(runtime: Runtime) -> list[str]:
    """Every value of every column of the tables that hold people's data, searched."""
    found = []
    for model in TABLES:
        for row in await rows(runtime, model):
            for column, value in row.model_dump().items():
                text = json.dumps(value, default=str, ensure_ascii=False)
                found += [f"{model.__name__}.{column}: {text}" for n in PERSONAL if n in text]
    return found


async def test_erasure_removes_the_person_and_keeps_the_records(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = await staff_runtime(tmp_path, clock)
    try:
        chat = FakeChat(runtime)
        await identify_with_phone(chat)
        await chat.send("bagaimana cara mengajukan tup?")
        await chat.press("Belum")  # hand-off to the CSOs
        ticket = await chat.ticket()
        assert ticket.status == "queued"
        await staff_says(runtime, "8001", "/ambil 1")
        await chat.send(f"Saya {NAME}, mohon dihubungi di {PHONE}")
        await staff_says(runtime, "8001", "/dokumen surat permohonan")
        stored, digest = store_incoming(tmp_path / "data", b"%PDF surat")
        await chat.send_raw(
            chat._inbound(
                InboundKind.FILE,
                platform_message_id="77",
                file=IncomingFile("f1", f"Surat {NAME}.pdf", "pdf", 10, stored, digest),
            )
        )
        (attachment,) = await rows(runtime, Attachment)
        filed = tmp_path / "data" / attachment.path
        assert filed.exists()
        await staff_says(runtime, "8201", f"/transkrip {ticket.number}")
        exported = tmp_path / "data" / EXPORTS / f"transkrip-{ticket.number}.html"
        assert NAME in exported.read_text(encoding="utf-8")
        assert await personal_data_left(runtime)  # the search finds what is there

        await chat.send("/hapus_data")
        assert ticket.number in chat.text and "tidak dapat dibatalkan" in chat.text
        assert labels(chat) == ["Ya, hapus data saya", "Batal"]
        clock.advance(minutes=1)
        await chat.press("Ya, hapus data saya")

        assert "telah kami hapus" in chat.text and "/start" in chat.text
        assert chat.sender.delivered[-1][0] == "1001"  # the last word still reached them
        assert "survei" not in chat.text  # closing the ticket starts no survey
        assert await personal_data_left(runtime) == []
        (stakeholder,) = await rows(runtime, Stakeholder)
        assert stakeholder.channel_user_id == stakeholder.chat_id == "dihapus:1"
        assert (
            stakeholder.full_name,
            stakeholder.role,
            stakeholder.satker_code,
            stakeholder.organisation,
            stakeholder.phone,
        ) == (None, None, None, None, None)
        assert await count(runtime, Conversation) == 0
        messages = await rows(runtime, Message, Message.id)
        assert all(m.chat_id != "1001" for m in messages)
        erased = [m for m in messages if m.created_at < clock.now()]
        assert len(erased) > 20 and all(m.text == "[dihapus]" for m in erased)
        assert all(m.payload == {"text": "[dihapus]"} for m in erased)
        assert {m.direction for m in erased} == {"in", "out"}
        assert all(m.stakeholder_id == 1 for m in messages)  # the rows still count for the office
        outbox = await rows(runtime, OutboxItem)
        assert all(item.chat_id != "1001" for item in outbox)
        assert all(item.status != "pending" for item in outbox if item.chat_id == "dihapus:1")
        assert not [
            m for m in messages if m.chat_id == "dihapus:1" and m.created_at == clock.now()
        ]
        # The ticket stays as the office's record, closed, with its history.
        kept = await chat.ticket()
        assert (kept.number, kept.status, kept.question) == (
            ticket.number,
            "resolved",
            "[dihapus]",
        )
        assert (kept.topic_id, kept.assignee) == (ticket.topic_id, "Andi CSO")
        history = await events(runtime, kept.id)
        assert history[:2] == [(None, "asked"), ("asked", "answered")]
        assert history[-1] == ("awaiting_documents", "resolved")
        last = (await rows(runtime, TicketEvent, TicketEvent.id))[-1]
        assert last.actor == "stakeholder" and "consent withdrawn" in last.reason
        assert all(job.status != "pending" for job in await rows(runtime, ScheduledJob))
        # The CSO who had it is told why it closed.
        told = [m for m in messages if m.chat_id == "8001" and m.created_at == clock.now()]
        assert len(told) == 1 and "menarik persetujuan" in told[0].text
        # Files: the attachment row stays without name or path; the files are gone.
        (attachment,) = await rows(runtime, Attachment)
        assert (attachment.path, attachment.file_name, attachment.sha256) == ("", "[dihapus]", "")
        assert (attachment.file_type, attachment.size) == ("pdf", 10)
        assert not filed.exists() and not filed.parent.exists()
        assert not exported.exists()

        await chat.send("/start")  # not recognised: a new person, asked for consent afresh
        assert "Setuju" in labels(chat) and "UU No. 27 Tahun 2022" in chat.text
        await chat.press("Setuju")
        assert "nama lengkap" in chat.text
        assert [s.id for s in await rows(runtime, Stakeholder, Stakeholder.id)] == [1, 2]
        await chat.send("/status")
        assert ticket.number not in chat.text
    finally:
        await runtime.close()


async def test_batal_keeps_everything(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    await chat.send("cara mengajukan tup")
    ticket = await chat.ticket()
    assert ticket.status == "answered"
    answered = chat.button("Ya, terjawab").action
    await chat.send("/hapus_data")
    assert ticket.number in chat.text  # open: it would be closed
    await chat.press("Batal")
    assert "dibatalkan" in chat.text
    await chat.press_action(answered)  # back where they were: the answer's buttons still work
    assert "Resolved" in chat.text

    await chat.send("/hapus_data")
    assert "Tidak ada pertanyaan Bapak/Ibu yang masih berjalan" in chat.text
    await chat.send("batal")
    assert "dibatalkan" in chat.text
    await chat.send("/hapus_data")
    await chat.send("/batal")
    assert "penghapusan data dibatalkan" in chat.text
    await chat.send("/hapus_data")
    await chat.send("bagaimana cara mengajukan tup?")  # a question instead: cancels, is answered
    assert "dibatalkan" in chat.replies[0].text and "KNS-20261123-0002" in chat.text

    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.full_name == "Siti Rahmawati"
    assert stakeholder.satker_code == "123456"
    assert await count(runtime, Conversation) == 1
    assert "[dihapus]" not in [m.text for m in await rows(runtime, Message)]
    assert [t.question for t in await rows(runtime, Ticket, Ticket.id)] == [
        "cara mengajukan tup",
        "bagaimana cara mengajukan tup?",
    ]


async def test_a_typed_ya_erases_and_closes_a_ticket_waiting_for_a_topic(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    await chat.send("masalah sp2d saya")  # topics offered: the ticket waits, asked
    ticket = await chat.ticket()
    assert ticket.status == "asked"
    await chat.send("/hapus_data")
    await chat.send("Ya")
    assert "telah kami hapus" in chat.text
    assert await events(runtime, ticket.id) == [(None, "asked"), ("asked", "resolved")]
    assert await personal_data_left(runtime) == []
    assert (await chat.ticket()).resolved_at is not None


async def test_a_stale_or_forged_confirmation_does_nothing(
    chat: FakeChat, runtime: Runtime, clock: FakeClock
) -> None:
    await chat.identify()
    await chat.send("/hapus_data")
    first = chat.button("Ya, hapus data saya").action
    assert first is not None
    await chat.press("Batal")
    await chat.press_action(first)  # after Batal
    assert "sudah tidak berlaku" in chat.text
    await chat.send("/hapus_data")
    current = chat.button("Ya, hapus data saya").action
    assert current is not None and current != first
    for forged in ("erase:yes:deadbeef", "erase:yes", "erase:maybe:" + (current.arg(1) or "")):
        await chat.press_data(forged)
        assert "sudah tidak berlaku" in chat.text
    await chat.press_action(first)  # an earlier question's button
    assert "sudah tidak berlaku" in chat.text
    other = FakeChat(runtime, user_id="2002")
    await other.identify(name="Budi Santoso")
    await other.press_action(current)  # someone else's button
    assert "sudah tidak berlaku" in other.text
    clock.advance(minutes=11)
    await chat.press_action(current)  # too late
    assert "lewat 10 menit" in chat.text
    await chat.press_action(current)
    assert "sudah tidak berlaku" in chat.text
    names = sorted(s.full_name or "" for s in await rows(runtime, Stakeholder))
    assert names == ["Budi Santoso", "Siti Rahmawati"]
    assert "[dihapus]" not in [m.text for m in await rows(runtime, Message)]

    await chat.send("/hapus_data")
    done = chat.button("Ya, hapus data saya").action
    await chat.press("Ya, hapus data saya")
    assert "telah kami hapus" in chat.text
    await chat.press_action(done)  # pressed again: they are nobody the bot knows now
    assert "Setuju" in labels(chat)
    assert await count(runtime, Stakeholder) == 2


async def test_before_consent_there_is_nothing_to_erase(chat: FakeChat, runtime: Runtime) -> None:
    await chat.send("/hapus_data")
    assert "Tidak ada data pribadi" in chat.text
    assert await count(runtime, Stakeholder) == 0
    assert await count(runtime, Message) == 0


async def test_raw_updates_kept_for_the_person_go_too(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()

    def update(sender: str, status: str, **extra: Any) -> InboxUpdate:
        return InboxUpdate(
            key=f"{sender}:{status}",
            channel="test",
            sender=sender,
            payload={"message": {"from": {"first_name": sender}}},
            status=status,
            received_at=runtime.clock.now(),
            next_attempt_at=runtime.clock.now(),
            **extra,
        )

    async with runtime.sessions() as session:
        session.add(update("user:1001", "done"))
        session.add(update("user:2002", "done"))
        session.add(update("user:1001", "pending"))  # not handled yet: a new person's
        await session.commit()
    await chat.send("/hapus_data")
    await chat.press("Ya, hapus data saya")
    left = sorted((u.sender, u.status) for u in await rows(runtime, InboxUpdate))
    assert left == [("user:1001", "pending"), ("user:2002", "done")]


async def test_retention_removes_exported_transcripts_of_purged_tickets(tmp_path: Path) -> None:
    assert EXPORTS == supervision.EXPORTS  # where /transkrip writes them
    clock = FakeClock(datetime(2024, 1, 10, 2, 0, tzinfo=UTC))
    runtime = await build_runtime(make_settings(tmp_path), clock=clock)
    try:
        old = FakeChat(runtime, user_id="1")
        await old.identify(name="Lama Sekali")
        await old.send("cara mengajukan tup")
        await old.press("Ya, terjawab")
        gone = await old.ticket()
        erased = FakeChat(runtime, user_id="2")  # erased itself: its record goes too, later
        await erased.identify(name="Sudah Dihapus")
        await erased.send("masalah sp2d saya")
        await erased.send("/hapus_data")
        await erased.send("ya")
        clock.set(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
        recent = FakeChat(runtime, user_id="3")
        await recent.identify(name="Baru Saja")
        await recent.send("cara mengajukan tup")
        kept = await recent.ticket()
        exports = tmp_path / "data" / EXPORTS
        exports.mkdir(parents=True)
        for number in (gone.number, kept.number):
            (exports / f"transkrip-{number}.html").write_text("<p>Lama Sekali</p>")
        report = exports / "laporan-pekalongan-2024-01-01-2024-01-07.html"
        report.write_text("<p>laporan</p>")

        cutoff = months_before(clock.now(), 24)
        async with runtime.sessions() as session:
            counted = await purge(session, tmp_path / "data", cutoff, dry_run=True)
        assert (counted.stakeholders, counted.tickets, counted.files) == (2, 2, 1)
        assert (exports / f"transkrip-{gone.number}.html").exists()
        async with runtime.sessions() as session:
            done = await purge(session, tmp_path / "data", cutoff)
        assert (done.stakeholders, done.tickets, done.files) == (2, 2, 1)
        assert not (exports / f"transkrip-{gone.number}.html").exists()
        assert (exports / f"transkrip-{kept.number}.html").exists() and report.exists()
        assert [s.full_name for s in await rows(runtime, Stakeholder)] == ["Baru Saja"]
    finally:
        await runtime.close()
