"""The consultation SOP through the real engine and database, read like a conversation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.clock import FakeClock
from bot.messages import Inbound, InboundKind
from bot.runtime import Runtime
from bot.store.models import Message, OutboxItem, ProcessedUpdate, Stakeholder, Ticket
from tests.conftest import FakeChat, count, events, rows, transcript


async def test_nothing_is_stored_before_consent(chat: FakeChat, runtime: Runtime) -> None:
    replies = await chat.send("min sp2d sy blm terbit")
    assert "Setuju" in [b.label for r in replies for b in r.buttons]
    assert "UU No. 27 Tahun 2022" in chat.text
    await chat.send("/pengaduan")
    assert "https://wise.kemenkeu.go.id" in chat.text
    assert await count(runtime, Stakeholder) == 0
    assert await count(runtime, Message) == 0
    assert await count(runtime, Ticket) == 0


async def test_declining_consent_stores_nothing(chat: FakeChat, runtime: Runtime) -> None:
    await chat.send("/start")
    await chat.press("Tidak setuju")
    assert "tidak ada data" in chat.text
    assert await count(runtime, Stakeholder) == 0
    assert await count(runtime, Message) == 0


async def test_start_greets_with_office_and_service_promises(chat: FakeChat) -> None:
    await chat.send("/start")
    welcome = chat.replies[0].text
    assert "KPPN Pekalongan" in welcome
    assert "gratis" in welcome
    assert "20 menit" in welcome
    assert "3 hari kerja" in welcome


async def test_from_start_to_resolved(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    assert "Terima kasih, Siti Rahmawati" in chat.text
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None
    assert (stakeholder.full_name, stakeholder.role, stakeholder.satker_code) == (
        "Siti Rahmawati",
        "ppk",
        "123456",
    )
    assert stakeholder.organisation == "Satker Contoh" and stakeholder.phone is None

    await chat.send("bagaimana cara mengajukan tup?")
    assert "KNS-20261123-0001" in chat.replies[0].text
    answer = chat.replies[1]
    assert "Pengajuan Tambahan UP (TUP)" in answer.text
    assert "Dasar hukum: PMK 62 Tahun 2023" in answer.text
    assert [b.label for b in answer.buttons] == ["Ya, terjawab", "Belum"]
    ticket = await chat.ticket()
    assert (ticket.status, ticket.topic_id) == ("answered", "tup-pengajuan")
    assert ticket.first_answer_at is not None

    await chat.press("Ya, terjawab")
    assert "Resolved" in chat.text
    ticket = await chat.ticket()
    assert ticket.status == "resolved" and ticket.resolved_at is not None
    assert await events(runtime, ticket.id) == [
        (None, "asked"),
        ("asked", "answered"),
        ("answered", "resolved"),
    ]


async def test_unknown_question_goes_to_the_cso_queue(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    assert "petugas CSO" in chat.text
    assert "3 hari kerja" in chat.text
    ticket = await chat.ticket()
    assert ticket.status == "queued"
    assert await events(runtime, ticket.id) == [(None, "asked"), ("asked", "queued")]


async def test_not_answered_goes_to_the_cso_queue(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    await chat.send("cara mengajukan tup")
    await chat.press("Belum")
    assert "petugas CSO" in chat.text
    ticket = await chat.ticket()
    assert ticket.status == "queued"
    assert await events(runtime, ticket.id) == [
        (None, "asked"),
        ("asked", "answered"),
        ("answered", "queued"),
    ]


async def test_medium_match_offers_topics_then_answers_the_chosen_one(chat: FakeChat) -> None:
    await chat.identify()
    await chat.send("masalah sp2d saya")
    offered = [b.label for b in chat.replies[-1].buttons]
    assert offered[0] == "Memantau status SPM dan SP2D"
    assert offered[-1] == "Bukan, hubungkan ke CSO"
    assert 2 <= len(offered) <= 4
    await chat.press("Memantau status SPM dan SP2D")
    assert "OM SPAN" in chat.text and "0285421476" in chat.text
    assert (await chat.ticket()).status == "answered"


async def test_small_talk_while_topics_are_offered_offers_them_again(chat: FakeChat) -> None:
    """ "makasih mbak", "ok" or a thumbs-up under the topic list neither hands the ticket to a CSO
    nor searches again; the same topics come back, and a topic pointed at in words is taken."""
    await chat.identify()
    await chat.send("masalah sp2d saya")
    offered = [b.label for b in chat.replies[-1].buttons]
    for small_talk in ("terima kasih mbak", "ok", "siap pak", "🙏"):
        await chat.send(small_talk)
        ticket = await chat.ticket()
        assert ticket.status == "asked", small_talk
        assert [b.label for b in chat.replies[-1].buttons] == offered, small_talk
        assert ticket.number in chat.text and "Bukan, hubungkan ke CSO" in chat.text
    await chat.send("yang pertama mbak")
    assert "OM SPAN" in chat.text
    assert (await chat.ticket()).status == "answered"


async def test_none_of_the_offered_topics_goes_to_cso(chat: FakeChat) -> None:
    await chat.identify()
    await chat.send("masalah sp2d saya")
    await chat.press("Bukan, hubungkan ke CSO")
    assert (await chat.ticket()).status == "queued"


async def test_out_of_scope_question_is_pointed_elsewhere_and_queued(chat: FakeChat) -> None:
    await chat.identify()
    await chat.send("cara lapor spt tahunan pribadi")
    assert "Direktorat Jenderal Pajak" in chat.text
    ticket = await chat.ticket()
    assert ticket.status == "queued"
    assert ticket.match_candidates[0] == {"id": "oos-pajak-pribadi", "out_of_scope": True}


async def test_role_without_satker_code_is_not_asked_for_one(chat: FakeChat) -> None:
    await chat.send("/start")
    await chat.press("Setuju")
    await chat.send("Budi Santoso")
    await chat.press("Pihak Ketiga/Supplier")
    assert "nama perusahaan" in chat.text
    await chat.send("CV Maju Jaya")
    await chat.share_contact("081234567890")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None
    assert stakeholder.satker_code is None
    assert stakeholder.organisation == "CV Maju Jaya"
    assert stakeholder.phone == "+6281234567890"


async def test_invalid_satker_code_is_explained_and_asked_again(chat: FakeChat) -> None:
    await chat.send("/start")
    await chat.press("Setuju")
    await chat.send("Siti")
    await chat.press("Bendahara Pengeluaran")
    for wrong in ("12345", "12a456", "1234567"):
        await chat.send(wrong)
        assert "6 digit" in chat.text
    await chat.send("654 321")
    assert "nama satker" in chat.text


async def test_phone_step_accepts_typed_number_and_refuses_others_contact(chat: FakeChat) -> None:
    await chat.send("/start")
    await chat.press("Setuju")
    await chat.send("Siti")
    await chat.press("Lainnya")
    await chat.send("Universitas Contoh")
    assert chat.replies[-1].request_phone == "Bagikan nomor HP"
    await chat.share_contact("081111111111", owner="999")
    assert "sendiri" in chat.text
    await chat.send("nomor saya ya")
    assert "tidak dikenali" in chat.text
    await chat.send("+62 812-3456-7890")
    assert chat.replies[0].clear_keyboard
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.phone == "+6281234567890"


async def test_cancel_keeps_the_identification_draft_and_resumes(chat: FakeChat) -> None:
    await chat.send("/start")
    await chat.press("Setuju")
    await chat.send("Siti Rahmawati")
    await chat.send("/batal")
    assert "Yang sudah Bapak/Ibu isi (nama) kami simpan" in chat.text  # exactly what is kept
    await chat.send("halo")
    assert "peran" in chat.text.lower()
    await chat.press("PPK")
    assert "kode satker" in chat.text


async def test_profile_fields_change_one_at_a_time(chat: FakeChat) -> None:
    await chat.identify(name="siti rahmawati")
    assert "Terima kasih, Siti Rahmawati." in chat.text  # addressed politely, stored as typed
    await chat.send("/profil")
    assert "Nama: siti rahmawati" in chat.text and "Kode satker: 123456" in chat.text
    assert [b.label for b in chat.replies[-1].buttons] == [
        "Ubah nama",
        "Ubah peran",
        "Ubah kode satker",
        "Ubah satker/instansi",
        "Ubah nomor HP",
    ]
    await chat.press("Ubah nama")
    await chat.send("Nama Baru")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.full_name == "Nama Baru"
    assert "sudah diperbarui" in chat.text and stakeholder.role == "ppk"  # only the name
    await chat.press("Ubah satker/instansi")
    await chat.send("/batal")
    assert "tetap seperti semula" in chat.text
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.organisation == "Satker Contoh"
    # A new role without a satker code clears it; one that needs it asks for it.
    await chat.send("/profil")
    await chat.press("Ubah peran")
    await chat.press("Lainnya")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and (stakeholder.role, stakeholder.satker_code) == (
        "lainnya",
        None,
    )
    await chat.press("Ubah peran")
    await chat.press("PPSPM")
    assert "kode satker" in chat.text
    await chat.send("111222")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None
    assert (stakeholder.role, stakeholder.satker_code) == ("ppspm", "111222")


async def test_skipping_the_phone_keeps_the_stored_number(chat: FakeChat) -> None:
    await chat.identify()
    await chat.send("/profil")
    await chat.press("Ubah nomor HP")
    await chat.send("0812 3456 7890")
    await chat.press("Ubah nomor HP")
    await chat.send("Lewati")
    assert "tidak diubah" in chat.text
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.phone == "+6281234567890"


async def test_status_lists_own_open_tickets(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    await chat.send("/status")
    assert "tidak memiliki tiket" in chat.text
    await chat.send("cara mengajukan tup")
    await chat.send("/baru")
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    other = FakeChat(runtime, user_id="2002")
    await other.identify(name="Orang Lain")
    await other.send("kapan gup bisa diajukan")
    await chat.send("/status")
    assert "KNS-20261123-0001 (23-11-2026 09.00): menunggu konfirmasi" in chat.text
    assert "KNS-20261123-0002" in chat.text and "dalam antrean petugas CSO" in chat.text
    assert "KNS-20261123-0003" not in chat.text


async def test_messages_while_queued_join_the_ticket_until_a_new_question(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    queued = await chat.ticket()
    await chat.send("satker kami di Batang")
    assert queued.number in chat.text
    assert await count(runtime, Ticket) == 1
    messages = [
        m for m in await rows(runtime, Message, Message.id) if m.text == "satker kami di Batang"
    ]
    assert messages[0].ticket_id == queued.id
    await chat.send("/baru")
    await chat.send("cara mengajukan tup")
    assert await count(runtime, Ticket) == 2


async def test_a_button_pressed_twice_or_forged_changes_nothing(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    await chat.send("cara mengajukan tup")
    pressed = chat.button("Ya, terjawab").action
    assert pressed is not None
    data = pressed.encode()
    await chat.press_data(data)
    await chat.press_data(data)
    assert "sudah berstatus Resolved" in chat.text
    await chat.press_data(data.replace(":yes", ":no"))
    assert (await chat.ticket()).status == "resolved"
    other = FakeChat(runtime, user_id="3003")
    await other.identify()
    await other.press_data(data)  # someone else's ticket
    assert "sudah tidak berlaku" in other.text
    await other.press_data("role:ppk")  # a role button outside the role step
    assert "sudah tidak berlaku" in other.text
    await other.press_data("nonsense")
    assert "sudah tidak berlaku" in other.text
    ticket = await chat.ticket()
    assert await events(runtime, ticket.id) == [
        (None, "asked"),
        ("asked", "answered"),
        ("answered", "resolved"),
    ]


async def test_bad_input_gets_a_clear_reply_and_keeps_data(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    for media in ("sticker", "voice", "location"):
        await chat.send_media(media)
        assert "belum dapat kami proses" in chat.text
    await chat.share_contact("081234567890")
    assert "kontak tidak diperlukan" in chat.text
    await chat.send("/entahlah")
    assert "/entahlah tidak dikenal" in chat.text
    long_text = "mohon bantuan " * 400
    await chat.send(long_text)
    assert "terlalu panjang" in chat.text and "4.000" in chat.text
    assert await count(runtime, Ticket) == 0
    stored = [m.text for m in await rows(runtime, Message, Message.id)]
    assert long_text[:4000] + " […dipotong]" in stored  # kept up to the limit only
    await chat.send_raw(chat._inbound(InboundKind.EDITED, text="ralat"))
    assert "tidak kami proses" in chat.text
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.full_name == "Siti Rahmawati"


async def test_group_messages_are_ignored_and_not_stored(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    before = await count(runtime, Message)
    replies = await chat.send_raw(
        Inbound(
            channel="test",
            user_id=chat.user_id,
            chat_id="-100",
            update_key="g1",
            kind=InboundKind.TEXT,
            text="halo grup",
            is_private=False,
        )
    )
    assert replies == []
    assert await count(runtime, Message) == before


async def test_a_redelivered_update_is_handled_once(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    question = chat._inbound(InboundKind.TEXT, text="cara mengajukan tup")
    await chat.send_raw(question)
    assert (await chat.runtime.engine.handle(question)).chats == ()  # nothing new to deliver
    assert await count(runtime, Ticket) == 1
    assert await count(runtime, ProcessedUpdate) >= 1


async def test_the_notice_before_consent_is_sent_again_when_a_crash_came_before_it(
    chat: FakeChat, runtime: Runtime
) -> None:
    # Nothing about someone who has not consented is stored, so their notice is sent after the
    # turn's commit; a process killed in between must not leave them without it: the update
    # stays unclaimed, and handling it again (as the inbox does after the claim runs out)
    # produces the notice again.
    start = chat._inbound(InboundKind.COMMAND, text="/start")
    first = await runtime.engine.handle(start)
    assert any("data pribadi" in reply.text for reply in first.unstored)
    assert await count(runtime, ProcessedUpdate) == 0
    again = await runtime.engine.handle(start)  # the crash: `first` was never sent
    assert [reply.text for reply in again.unstored] == [reply.text for reply in first.unstored]


async def test_a_handler_failure_stores_the_message_and_apologises(
    chat: FakeChat,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await chat.identify()

    async def broken(turn: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(runtime.engine, "router", broken)
    await chat.send("pertanyaan penting yang tidak boleh hilang")
    assert "terjadi gangguan" in chat.text
    stored = [(m.direction, m.text) for m in await rows(runtime, Message, Message.id)]
    assert ("in", "pertanyaan penting yang tidak boleh hilang") in stored
    assert "handling" in caplog.text


async def test_every_message_in_both_directions_is_in_the_transcript(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    await chat.send("cara mengajukan tup")
    await chat.press("Ya, terjawab")
    lines = await transcript(runtime)
    assert lines[0] == ("in", "Setuju")  # the transcript starts with consent
    assert ("in", "PPK") in lines and ("in", "cara mengajukan tup") in lines
    assert lines[-4] == ("in", "Ya, terjawab")
    assert lines[-3][0] == "out" and "Resolved" in lines[-3][1]
    assert "survei kepuasan" in lines[-2][1] and lines[-1][1].startswith(
        "(1/2)"
    )  # the survey follows (no questions about officers: the bot answered alone)
    assert await count(runtime, OutboxItem) == len([d for d, _ in lines if d == "out"])
    ticket = await chat.ticket()
    linked = [m for m in await rows(runtime, Message, Message.id) if m.ticket_id == ticket.id]
    assert [m.direction for m in linked] == ["in", "out", "out", "in", "out", "out", "out"]


async def test_ticket_numbers_are_unique_under_concurrency(runtime: Runtime) -> None:
    chats = [FakeChat(runtime, user_id=str(5000 + n)) for n in range(8)]
    for each in chats:
        await each.identify()
    await asyncio.gather(*(each.send("bagaimana prosedur mutasi pegawai") for each in chats))
    numbers = sorted(t.number for t in await rows(runtime, Ticket))
    assert numbers == [f"KNS-20261123-{n:04d}" for n in range(1, 9)]


async def test_ticket_numbers_follow_the_office_local_date(
    chat: FakeChat, runtime: Runtime, clock: FakeClock
) -> None:
    await chat.identify()
    clock.set(datetime(2026, 11, 23, 17, 30, tzinfo=UTC))
    await chat.send("bagaimana prosedur mutasi pegawai")  # 00:30 WIB on the 24th
    assert (await chat.ticket()).number == "KNS-20261124-0001"


async def test_full_width_digits_are_read_as_digits_and_other_scripts_refused(
    chat: FakeChat,
) -> None:
    await chat.send("/start")
    await chat.press("Setuju")
    await chat.send("Siti Rahmawati")
    await chat.press("PPK")
    await chat.send("١٢٣٤٥٦")  # Arabic-Indic digits: not a satker code
    assert "kode satker" in chat.text.casefold() and "6 digit" in chat.text
    await chat.send("１２３４５６")  # full-width digits from a phone keyboard
    await chat.send("Satker Contoh")
    await chat.send("０８１２３４５６７８９０")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None
    assert (stakeholder.satker_code, stakeholder.phone) == ("123456", "+6281234567890")


async def test_text_a_database_cannot_keep_is_stored_escaped_and_answered(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    await chat.send("cara mengajukan tup\x00 \ud800")
    assert "KNS-" in chat.text  # answered like any question
    stored = [m.text for m in await rows(runtime, Message, Message.id) if m.direction == "in"]
    assert stored[-1] == "cara mengajukan tup\\x00 \ufffd"


async def test_an_over_long_text_is_refused_and_kept_only_up_to_the_limit(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    limit = runtime.config.service.max_message_length
    await chat.send("x" * (limit + 500))
    assert "terlalu panjang" in chat.text.casefold()
    (kept,) = [m.text for m in await rows(runtime, Message) if m.text.startswith("xxx")]
    assert kept == "x" * limit + " […dipotong]"
