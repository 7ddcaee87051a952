"""The CSO desk end to end: real PTB, the fake Bot API on 127.0.0.1, a staff supergroup with topics."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from bot.host import Host
from bot.runtime import Runtime, build_runtime
from bot.store.models import Attachment, Message, OutboxItem, Ticket
from tests.conftest import config_for_tests, events, make_settings, rows, start_telegram
from tests.fakes.bot_api import FakeBotApi
from tests.test_telegram_e2e import TOKEN, USER, identify, press, say

GROUP = -1001234567890
ANDI, BUDI, CITRA, DEDI, EKA = 8001, 8002, 8101, 8102, 8201
STAFF = [
    {"name": "Andi CSO", "role": "cso", "telegram_id": ANDI},
    {"name": "Budi CSO", "role": "cso", "telegram_id": BUDI},
    {
        "name": "Citra Kasi PD",
        "role": "kepala_seksi",
        "section": "pencairan",
        "telegram_id": CITRA,
    },
    {"name": "Dedi Kasi Bank", "role": "kepala_seksi", "section": "bank", "telegram_id": DEDI},
    {"name": "Eka Supervisor", "role": "supervisor", "telegram_id": EKA},
]


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


XLSX = _xlsx()
DOCUMENTS = {"accepted_types": ["pdf", "jpg", "png", "xlsx", "docx"], "max_size_mb": 1}


async def start(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock, group: int | None = GROUP
) -> tuple[Runtime, Host]:
    config = config_for_tests(
        tmp_path, staff=STAFF, desk={"telegram_group_id": group, "documents": DOCUMENTS}
    )
    settings = make_settings(
        tmp_path,
        csobot_config=config,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=bot_api.base_url,
        telegram_file_base_url=bot_api.file_base_url,
    )
    runtime = await build_runtime(settings, clock=clock)
    channel = await start_telegram(runtime)
    return runtime, channel


@pytest.fixture
async def desk(tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock) -> AsyncIterator[Runtime]:
    runtime, channel = await start(tmp_path, bot_api, clock)
    yield runtime
    await channel.stop()
    await runtime.close()


async def handed_off_tup_ticket(bot_api: FakeBotApi) -> int:
    """A stakeholder asks about TUP, says the bot's answer did not solve it: thread 500 opens."""
    await identify(bot_api)
    await say(bot_api, "bagaimana cara mengajukan tup?", 2)
    await press(bot_api, "answer:1:no", 2)  # the hand-off, and "what is still unclear?"
    await bot_api.wait_for(lambda: len(bot_api.sent("sendMessage", GROUP)) >= 1)
    return 500


def recent(bot_api: FakeBotApi, needle: str, last: int = 4) -> bool:
    """Whether one of the stakeholder's last messages says `needle` (others may follow it)."""
    return any(needle in text for text in bot_api.texts(USER)[-last:])


def in_thread(bot_api: FakeBotApi, thread: int) -> list[str]:
    return [
        str(r.params.get("text"))
        for r in bot_api.sent("sendMessage", GROUP)
        if str(r.params.get("message_thread_id")) == str(thread)
    ]


async def staff_says(
    bot_api: FakeBotApi, user: int, text: str, thread: int | None, wait: Any
) -> None:
    bot_api.push_group_text(user, GROUP, text, thread)
    await bot_api.wait_for(wait)


async def ticket(runtime: Runtime) -> Ticket:
    return (await rows(runtime, Ticket, Ticket.id))[-1]


async def test_hand_off_opens_a_topic_with_the_ticket_card(
    desk: Runtime, bot_api: FakeBotApi
) -> None:
    thread = await handed_off_tup_ticket(bot_api)
    (topic,) = bot_api.sent("createForumTopic")
    assert topic.params["chat_id"] == str(GROUP)
    assert topic.params["name"].startswith(
        "KNS-20261123-0001 · 123456 · bagaimana cara mengajukan tup"
    )
    (card,) = in_thread(bot_api, thread)
    for expected in (
        "KNS-20261123-0001",
        "Siti Rahmawati (PPK)",
        "123456 Satker Contoh",
        "+6281234567890",
        "bagaimana cara mengajukan tup?",
        "tup-pengajuan (",
        "Batas solusi: Kamis, 26-11-2026 pukul 16.00 WIB",
        "Target layanan (20 menit): Senin, 23-11-2026 pukul 09.20 WIB",
        "/ambil",
        "/eskalasi",
        "/selesai",
    ):
        assert expected in card, expected
    stored = await ticket(desk)
    assert (stored.desk_chat_id, stored.desk_thread_id, stored.section) == (
        str(GROUP),
        str(thread),
        "pencairan",
    )


async def test_a_cso_reply_reaches_the_stakeholder_and_notes_stay_internal(
    desk: Runtime, bot_api: FakeBotApi
) -> None:
    thread = await handed_off_tup_ticket(bot_api)
    before = len(bot_api.texts(USER))
    await staff_says(bot_api, ANDI, "/ambil", thread, lambda: len(bot_api.texts(USER)) > before)
    assert recent(bot_api, "sedang ditangani oleh petugas CSO Andi CSO")
    # Each chat is delivered on its own: the topic's notice may follow a moment later.
    await bot_api.wait_for(
        lambda: any("Ditangani oleh Andi CSO" in t for t in in_thread(bot_api, thread))
    )
    await staff_says(
        bot_api,
        BUDI,
        "/ambil",
        thread,
        lambda: any("sedang ditangani Andi CSO" in t for t in in_thread(bot_api, thread)),
    )

    await staff_says(
        bot_api,
        ANDI,
        "/catatan cek dulu sisa UP di OM SPAN",
        thread,
        lambda: any("Catatan internal" in t for t in in_thread(bot_api, thread)),
    )
    await staff_says(
        bot_api,
        ANDI,
        "Baik Bu, TUP diajukan dengan surat permohonan KPA.",
        thread,
        lambda: len(bot_api.texts(USER)) > before + 1,
    )
    await bot_api.wait_for(lambda: recent(bot_api, "surat permohonan KPA."))
    assert (
        "👤 Petugas CSO KPPN Pekalongan:\nBaik Bu, TUP diajukan dengan surat permohonan KPA."
        in bot_api.texts(USER)
    )
    assert all("cek dulu sisa UP" not in text for text in bot_api.texts(USER))

    stored = await ticket(desk)
    assert (stored.status, stored.assignee) == ("in_progress", "Andi CSO")
    messages = [m for m in await rows(desk, Message, Message.id) if m.ticket_id == stored.id]
    note = next(m for m in messages if m.kind == "note")
    assert (note.internal, note.actor, note.text) == (
        True,
        "cso:Andi CSO",
        "cek dulu sisa UP di OM SPAN",
    )
    answer = next(m for m in messages if m.text.endswith("surat permohonan KPA."))
    assert (answer.actor, answer.direction, answer.internal) == ("cso:Andi CSO", "out", False)

    bot_api.push_text(USER, "terima kasih pak, suratnya ditujukan ke siapa?")
    await bot_api.wait_for(
        lambda: any("suratnya ditujukan ke siapa" in t for t in in_thread(bot_api, thread))
    )

    bot_api.push_document(
        ANDI,
        "contoh surat.pdf",
        b"%PDF-1.4 contoh",
        chat_id=GROUP,
        thread_id=thread,
        caption="contoh suratnya",
    )
    await bot_api.wait_for(
        lambda: any(r.params["chat_id"] == str(USER) for r in bot_api.sent("copyMessage"))
    )
    copy = next(r for r in bot_api.sent("copyMessage") if r.params["chat_id"] == str(USER))
    assert copy.params["from_chat_id"] == str(GROUP)
    # Copied between Telegram chats, and also filed with the ticket for the transcript.
    assert [r.params["file_id"] for r in bot_api.sent("getFile")] == ["doc1"]
    (filed,) = [a for a in await rows(desk, Attachment) if a.direction == "out"]
    assert (filed.ticket_id, filed.file_name, filed.size) == (stored.id, "contoh surat.pdf", 15)


async def test_a_stakeholder_photo_reaches_the_topic_and_is_stored(
    desk: Runtime, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    thread = await handed_off_tup_ticket(bot_api)
    content = b"\xff\xd8\xff\xe0 foto rekening koran"
    bot_api.push_photo(USER, content, caption="rekening koran")
    await bot_api.wait_for(lambda: bool(bot_api.sent("copyMessage")))
    (copy,) = bot_api.sent("copyMessage")
    assert (
        copy.params["chat_id"],
        copy.params["from_chat_id"],
        copy.params["message_thread_id"],
    ) == (str(GROUP), str(USER), str(thread))
    assert [r.params["file_id"] for r in bot_api.sent("getFile")] == ["photo1"]  # the largest size
    (attachment,) = await rows(desk, Attachment)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert (
        attachment.path.startswith("files/tickets/KNS-20261123-0001/")
        and attachment.file_type == "jpg"
    )
    assert (tmp_path / "data" / attachment.path).read_bytes() == content
    await bot_api.wait_for(lambda: recent(bot_api, "Diterima: foto-uphoto1.jpg"))


async def test_document_request_upload_and_all_sent(
    desk: Runtime, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    thread = await handed_off_tup_ticket(bot_api)
    await staff_says(
        bot_api,
        ANDI,
        "/dokumen",
        thread,
        lambda: any("Pilih yang diperlukan" in t for t in in_thread(bot_api, thread)),
    )
    menu = bot_api.sent("sendMessage", GROUP)[-1].params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in menu] == [
        "➕ Surat permohonan TUP",
        "➕ Rincian rencana penggunaan TUP",
        "📨 Kirim permintaan",
    ]
    bot_api.push_group_callback(ANDI, menu[0][0]["callback_data"], GROUP)
    await bot_api.wait_for(lambda: any("(1 dipilih)" in t for t in in_thread(bot_api, thread)))
    bot_api.push_group_callback(ANDI, menu[1][0]["callback_data"], GROUP)
    await bot_api.wait_for(lambda: any("(2 dipilih)" in t for t in in_thread(bot_api, thread)))
    bot_api.push_group_callback(ANDI, menu[2][0]["callback_data"], GROUP)
    await bot_api.wait_for(lambda: recent(bot_api, "dokumen berikut"))
    assert recent(bot_api, "sedang ditangani oleh petugas CSO Andi CSO")  # taken on the way
    request = next(t for t in reversed(bot_api.texts(USER)) if "dokumen berikut" in t)
    assert (
        "1. Surat permohonan TUP\n2. Rincian rencana penggunaan TUP" in request
        and "PDF, JPG, PNG, XLSX, DOCX" in request
    )
    assert (await ticket(desk)).status == "awaiting_documents"

    bot_api.push_document(USER, "../../surat permohonan.pdf", b"%PDF-1.4 surat")
    await bot_api.wait_for(lambda: recent(bot_api, "Diterima: surat permohonan.pdf (1 berkas"))
    bot_api.push_document(USER, "virus.exe", b"MZ", mime="application/octet-stream")
    await bot_api.wait_for(lambda: recent(bot_api, "tidak dapat kami terima"))
    bot_api.push_document(USER, "virus.pdf", b"MZ\x90\x00 program")  # a name that lies
    await bot_api.wait_for(lambda: recent(bot_api, "virus.pdf tidak dapat kami terima"))
    bot_api.push_document(USER, "besar.pdf", b"x", size=3 * 1024 * 1024)
    await bot_api.wait_for(lambda: recent(bot_api, "terlalu besar (3,0 MB; paling besar 1 MB)"))
    bot_api.fail("getFile", 500)
    bot_api.push_document(
        USER,
        "rincian.xlsx",
        XLSX,
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    await bot_api.wait_for(lambda: recent(bot_api, "gagal kami terima"))
    bot_api.push_document(
        USER,
        "rincian.xlsx",
        XLSX,
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    await bot_api.wait_for(lambda: recent(bot_api, "Diterima: rincian.xlsx (2 berkas"))
    assert [r.params["file_id"] for r in bot_api.sent("getFile")] == [
        "doc1",
        "doc3",  # downloaded, then refused for what it is
        "doc6",
    ]  # nothing fetched for the refused ones

    bot_api.push_text(USER, "sudah semua ya pak")
    await bot_api.wait_for(
        lambda: recent(bot_api, "2 berkas untuk tiket KNS-20261123-0001 sudah kami terima")
    )
    await bot_api.wait_for(
        lambda: any("dokumen sudah lengkap (2 berkas" in t for t in in_thread(bot_api, thread))
    )
    stored = await ticket(desk)
    assert stored.status == "in_progress" and stored.requested_documents == [
        "Surat permohonan TUP",
        "Rincian rencana penggunaan TUP",
    ]
    names = sorted(a.file_name for a in await rows(desk, Attachment))
    assert names == ["rincian.xlsx", "surat permohonan.pdf"]
    assert (await events(desk, stored.id))[-2:] == [
        ("in_progress", "awaiting_documents"),
        ("awaiting_documents", "in_progress"),
    ]


async def test_escalation_notifies_the_kepala_seksi_of_the_section(
    desk: Runtime, bot_api: FakeBotApi
) -> None:
    thread = await handed_off_tup_ticket(bot_api)
    await staff_says(
        bot_api,
        ANDI,
        "/eskalasi perlu konfirmasi perpanjangan TUP",
        thread,
        lambda: bool(bot_api.sent("sendMessage", CITRA)),
    )
    (personal,) = bot_api.texts(CITRA)
    assert (
        "Eskalasi tiket KNS-20261123-0001 dari Andi CSO" in personal
        and "perpanjangan TUP" in personal
    )
    assert f"https://t.me/c/1234567890/{thread}" in personal
    assert bot_api.sent("sendMessage", DEDI) == []
    await bot_api.wait_for(
        lambda: any(
            "Dieskalasi kepada Citra Kasi PD (Seksi Pencairan Dana)" in t
            for t in in_thread(bot_api, thread)
        )
    )
    await bot_api.wait_for(lambda: recent(bot_api, "Kepala Seksi"))
    stored = await ticket(desk)
    assert (stored.status, stored.escalated_to) == ("escalated", "Citra Kasi PD")


async def test_resolve_closes_the_topic_and_the_ticket(desk: Runtime, bot_api: FakeBotApi) -> None:
    thread = await handed_off_tup_ticket(bot_api)
    await staff_says(
        bot_api,
        ANDI,
        "/selesai",
        thread,
        lambda: any("/selesai …" in t for t in in_thread(bot_api, thread)),
    )
    await staff_says(
        bot_api,
        ANDI,
        "/selesai TUP dapat diajukan dengan surat KPA; perpanjangan perlu persetujuan Kepala KPPN.",
        thread,
        lambda: bool(bot_api.sent("closeForumTopic")),
    )
    assert bot_api.sent("closeForumTopic")[0].params["message_thread_id"] == str(thread)
    await bot_api.wait_for(lambda: any("Resolved" in t for t in bot_api.texts(USER)[-3:]))
    answer = next(t for t in reversed(bot_api.texts(USER)) if "Resolved" in t)
    assert (
        answer.startswith("Jawaban petugas CSO untuk tiket KNS-20261123-0001:\nTUP dapat diajukan")
        and "Resolved" in answer
    )
    stored = await ticket(desk)
    assert stored.status == "resolved" and stored.resolved_at is not None
    await staff_says(
        bot_api,
        ANDI,
        "/buka stakeholder masih bertanya",
        thread,
        lambda: bool(bot_api.sent("reopenForumTopic")),
    )
    assert (await ticket(desk)).status == "queued"
    await bot_api.wait_for(lambda: any("dibuka kembali" in t for t in bot_api.texts(USER)[-3:]))


async def test_commands_of_non_staff_are_refused(desk: Runtime, bot_api: FakeBotApi) -> None:
    thread = await handed_off_tup_ticket(bot_api)
    stranger = 9999
    bot_api.push_group_text(stranger, GROUP, "/selesai sudah beres", thread)
    bot_api.push_group_text(stranger, GROUP, "/antrian")
    (unknown,) = await say(bot_api, "/ambil 1", 1)
    assert "/ambil tidak dikenal" in unknown
    await staff_says(
        bot_api,
        ANDI,
        "/antrian",
        None,
        lambda: any(
            "Tiket terbuka (1)" in str(r.params.get("text"))
            for r in bot_api.sent("sendMessage", GROUP)
        ),
    )
    listing = next(
        str(r.params["text"])
        for r in bot_api.sent("sendMessage", GROUP)
        if "Tiket terbuka (1)" in str(r.params.get("text"))
    )
    assert (
        "#1 KNS-20261123-0001 · antre CSO" in listing
        and "batas: Kamis, 26-11-2026 pukul 16.00 WIB" in listing
    )
    assert (await ticket(desk)).status == "queued"
    assert not any("sudah beres" in text for text in bot_api.texts(USER))


async def test_rate_limits_on_the_staff_group_delay_it_but_not_the_stakeholder(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    runtime, host = await start(tmp_path, bot_api, clock)
    try:
        bot_api.fail("createForumTopic", 429, retry_after=20)
        await identify(bot_api)
        await say(bot_api, "bagaimana cara mengajukan tup?", 2)
        # The stakeholder is told at once that a CSO will answer, while the group waits.
        handoff, _ask_more = await press(bot_api, "answer:1:no", 2)
        assert "kami teruskan kepada petugas CSO" in handoff
        # The group's own delivery meets the 429 (on its own schedule, beside the stakeholder's).
        await bot_api.wait_for(
            lambda: any(r.method == "createForumTopic" for r in bot_api.requests)
        )
        assert [r.failed for r in bot_api.requests if r.method == "createForumTopic"] == [True]
        assert bot_api.sent("sendMessage", GROUP) == []
        clock.advance(seconds=21)
        await host.deliver_due()
        assert [r.failed for r in bot_api.requests if r.method == "createForumTopic"] == [
            True,
            False,
        ]
        assert len(in_thread(bot_api, 500)) == 1  # the card, in the topic, once
        outbox = await rows(runtime, OutboxItem)
        assert {item.status for item in outbox} == {"sent"}
    finally:
        await host.stop()
        await runtime.close()


async def test_without_a_staff_group_csos_work_in_private_chats(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    runtime, channel = await start(tmp_path, bot_api, clock, group=None)
    try:
        await identify(bot_api)
        await say(bot_api, "bagaimana prosedur mutasi pegawai antar kementerian lembaga", 2)
        await bot_api.wait_for(
            lambda: (
                bool(bot_api.sent("sendMessage", ANDI)) and bool(bot_api.sent("sendMessage", BUDI))
            )
        )
        assert "Ambil dengan /ambil 1" in bot_api.texts(ANDI)[-1]
        assert bot_api.sent("createForumTopic") == []
        bot_api.push_text(ANDI, "/antrian")
        await bot_api.wait_for(lambda: "#1 KNS-20261123-0001" in bot_api.texts(ANDI)[-1])
        bot_api.push_text(ANDI, "/ambil 1")
        await bot_api.wait_for(lambda: recent(bot_api, "sedang ditangani"))
        bot_api.push_text(ANDI, "Untuk mutasi pegawai silakan hubungi biro kepegawaian.")
        await bot_api.wait_for(
            lambda: bot_api.texts(USER)[-1].endswith("hubungi biro kepegawaian.")
        )
        bot_api.push_text(USER, "baik terima kasih")
        await bot_api.wait_for(lambda: "baik terima kasih" in bot_api.texts(ANDI)[-1])
        bot_api.push_text(BUDI, "/ambil 1")
        await bot_api.wait_for(lambda: "sedang ditangani Andi CSO" in bot_api.texts(BUDI)[-1])
        bot_api.push_text(ANDI, "/selesai Silakan hubungi biro kepegawaian instansi Bapak/Ibu.")
        await bot_api.wait_for(lambda: any("Resolved" in t for t in bot_api.texts(USER)[-3:]))
        async with runtime.sessions() as session:
            stored = (await session.exec(select(Ticket))).one()
        assert (stored.status, stored.assignee) == ("resolved", "Andi CSO")
    finally:
        await channel.stop()
        await runtime.close()


async def test_handing_back_to_the_bot_and_the_all_sent_button(
    desk: Runtime, bot_api: FakeBotApi
) -> None:
    thread = await handed_off_tup_ticket(bot_api)
    await staff_says(
        bot_api,
        ANDI,
        "/jawab topik-tidak-ada",
        thread,
        lambda: any("tidak ada di knowledge base" in t for t in in_thread(bot_api, thread)),
    )
    await staff_says(
        bot_api,
        ANDI,
        "/jawab gup-pengisian",
        thread,
        lambda: recent(bot_api, "Pengisian kembali UP (GUP)"),
    )
    assert (await ticket(desk)).status == "answered"
    await press(bot_api, "answer:1:yes", 3)  # Resolved, then the survey
    assert (await ticket(desk)).status == "resolved"

    await say(bot_api, "/baru", 1)
    await say(bot_api, "bagaimana prosedur mutasi pegawai antar kementerian lembaga", 2)
    await bot_api.wait_for(lambda: len(bot_api.sent("createForumTopic")) == 2)
    second = 501
    await staff_says(
        bot_api,
        BUDI,
        "/dokumen SK mutasi; surat pengantar",
        second,
        lambda: recent(bot_api, "1. SK mutasi\n2. surat pengantar"),
    )
    bot_api.push_callback(USER, "docs_done:2")
    await bot_api.wait_for(lambda: recent(bot_api, "0 berkas untuk tiket KNS-20261123-0002"))
    assert (await ticket(desk)).status == "in_progress"
    await press(bot_api, "docs_done:2", 1)  # pressed again: nothing changes
    assert recent(bot_api, "sudah berstatus")


async def test_a_supervisor_receives_a_transcript_file_in_telegram(
    desk: Runtime, bot_api: FakeBotApi
) -> None:
    await handed_off_tup_ticket(bot_api)
    bot_api.push_text(EKA, "/transkrip KNS-20261123-0001")

    def transcripts() -> list[Any]:
        return [
            r
            for r in bot_api.sent("sendDocument", EKA)
            if r.params["_upload"][0].startswith("transkrip-")
        ]

    await bot_api.wait_for(lambda: bool(transcripts()))
    (document,) = transcripts()
    name, content = document.params["_upload"]
    assert name == "transkrip-KNS-20261123-0001.html"
    assert (
        b"Transkrip konsultasi KNS-20261123-0001" in content
        and b"bagaimana cara mengajukan tup?" in content
    )
    assert document.params["caption"].startswith("Transkrip KNS-20261123-0001")
    bot_api.push_text(ANDI, "/transkrip KNS-20261123-0001")  # a CSO may not
    await bot_api.wait_for(lambda: bool(bot_api.sent("sendMessage", ANDI)))
    assert len(transcripts()) == 1


async def test_staff_cannot_work_a_ticket_the_bot_still_holds(
    desk: Runtime, bot_api: FakeBotApi
) -> None:
    """A ticket the bot answered waits for the stakeholder: /ambil is refused with
    a clear message (not an internal error), and nothing changes (the property tests in
    tests/test_properties.py also drive /dokumen, /eskalasi and /jawab there)."""
    await identify(bot_api)
    await say(bot_api, "bagaimana cara mengajukan tup?", 2)
    for command in ("/ambil 1", "/ambil KNS-20261123-0001"):
        before = len(bot_api.texts(ANDI))
        bot_api.push_text(ANDI, command)
        await bot_api.wait_for(lambda count=before: len(bot_api.texts(ANDI)) > count)
        assert "belum di antrean CSO" in bot_api.texts(ANDI)[-1]
    stored = await ticket(desk)
    assert (stored.status, stored.assignee) == ("answered", None)
    assert all("gangguan" not in text for text in bot_api.texts(ANDI))
