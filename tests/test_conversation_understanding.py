"""What stakeholders type between questions, end to end through the engine (issue: a
conversation that understands): typed replies to "sudah terjawab?", small talk without tickets,
gifts refused, new questions while a CSO has a ticket, answers closed when never confirmed."""

from __future__ import annotations

from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.store.models import Message, Ticket, TicketEvent
from tests.conftest import FakeChat, rows


async def tickets(runtime: Runtime) -> list[Ticket]:
    return await rows(runtime, Ticket, Ticket.id)


async def answered(chat: FakeChat) -> Ticket:
    await chat.identify()
    await chat.send("bagaimana cara mengajukan tup?")
    assert "sudah terjawab" in chat.text
    return await chat.ticket()


async def test_a_typed_denial_hands_that_ticket_to_a_cso_with_what_is_unclear(
    chat: FakeChat, runtime: Runtime
) -> None:
    ticket = await answered(chat)
    await chat.send("belum pak, masih bingung soal batas waktunya")
    (only,) = await tickets(runtime)  # no second ticket, no second answer
    assert only.id == ticket.id and only.status == "queued"
    assert "petugas CSO" in chat.text and "Pengajuan Tambahan UP" not in chat.text
    stored = [m.text for m in await rows(runtime, Message) if m.ticket_id == ticket.id]
    assert "belum pak, masih bingung soal batas waktunya" in stored


async def test_a_bare_typed_denial_asks_what_is_still_unclear(
    chat: FakeChat, runtime: Runtime
) -> None:
    await answered(chat)
    await chat.send("blm pak, masih bingung")
    (only,) = await tickets(runtime)
    assert only.status == "queued"
    assert "bagian mana yang belum jelas" in chat.replies[-1].text


async def test_typed_thanks_resolve_the_answered_ticket(chat: FakeChat, runtime: Runtime) -> None:
    await answered(chat)
    await chat.send("ok makasih pak")
    (only,) = await tickets(runtime)
    assert only.status == "resolved"
    assert "Resolved" in chat.text


async def test_a_filler_under_an_answer_asks_again(chat: FakeChat, runtime: Runtime) -> None:
    await answered(chat)
    await chat.send("sebentar pak saya baca dulu")
    (only,) = await tickets(runtime)
    assert only.status == "answered"
    assert [b.label for b in chat.replies[-1].buttons] == ["Ya, terjawab", "Belum"]


async def test_small_talk_is_not_a_ticket(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    for text in ("halo", "selamat pagi", "mau tanya dong", "min mau nanya soal spm", "ok", "tes"):
        await chat.send(text)
        assert "Silakan" in chat.text or "Baik" in chat.text, text
    assert await tickets(runtime) == []
    await chat.send("pagi pak, bagaimana cara mengajukan tup?")  # a greeting and a question
    (ticket,) = await tickets(runtime)
    assert ticket.question == "pagi pak, bagaimana cara mengajukan tup?"


async def test_an_offer_of_money_is_refused_and_flagged(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    ticket = await chat.ticket()
    assert ticket.status == "queued"
    await chat.send("pak nanti saya kasih uang kopi biar cepat ya")
    assert "tidak dipungut biaya" in chat.text and "gratifikasi" in chat.text
    assert "SP4N-LAPOR" in chat.text or "LAPOR" in chat.text  # the office's complaint channels
    reasons = [e.reason for e in await rows(runtime, TicketEvent) if e.ticket_id == ticket.id]
    assert "gratification offered" in reasons
    assert (await chat.ticket()).status == "queued"  # nothing promised, nothing changed


async def test_a_new_question_while_a_cso_has_a_ticket(chat: FakeChat, runtime: Runtime) -> None:
    await chat.identify()
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    first = await chat.ticket()
    assert first.status == "queued"
    await chat.send("satu lagi pak, ijin kapan batas pengajuan berkas ke kantor")  # unclear
    assert "pertanyaan baru" in chat.text.lower()
    assert [b.label for b in chat.replies[-1].buttons] == [
        "Pertanyaan baru",
        f"Tambahan untuk tiket {first.number}",
    ]
    await chat.press(f"Tambahan untuk tiket {first.number}")
    assert len(await tickets(runtime)) == 1 and "tambahkan ke tiket" in chat.text
    # A question the knowledge base answers with confidence, on another topic: a new ticket.
    await chat.send("bagaimana cara mengajukan tup?")
    second = (await tickets(runtime))[-1]
    assert second.id != first.id and "tiket baru" in chat.text
    assert "Pengajuan Tambahan UP (TUP)" in chat.text


async def test_an_answer_never_confirmed_is_closed_after_working_days(
    chat: FakeChat, runtime: Runtime, clock: FakeClock
) -> None:
    ticket = await answered(chat)
    clock.advance(days=4)  # Monday → Friday: past two working days
    await chat.host.scheduler.run_due()
    await chat.host.drain()
    closed = await chat.ticket()
    assert closed.id == ticket.id and closed.status == "resolved"
    sent = [o.text for _, o in chat.sender.delivered]
    assert any("belum ada konfirmasi" in text for text in sent)
    assert not any("survei" in text for text in sent[-2:])  # no survey for an unfinished talk
    reasons = [e.reason for e in await rows(runtime, TicketEvent) if e.ticket_id == ticket.id]
    assert "answer not confirmed: closed after 2 working days" in reasons


async def test_a_hand_off_outside_service_hours_says_when_officers_read_it(
    chat: FakeChat, clock: FakeClock
) -> None:
    await chat.identify()
    clock.advance(hours=10)  # Monday 19:00 WIB
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    assert "di luar jam layanan" in chat.text
    assert "Selasa, 24-11-2026 pukul 08.00" in chat.text or "24-11-2026" in chat.text
    assert "paling lambat" in chat.text


async def waiting_for_the_choice(chat: FakeChat) -> tuple[Ticket, str]:
    """A CSO has a ticket; the stakeholder asks something the bot cannot place and is asked
    whether it is a new question or more for that ticket."""
    await chat.identify()
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    first = await chat.ticket()
    question = "satu lagi pak, ijin kapan batas pengajuan berkas ke kantor"
    await chat.send(question)
    assert chat.replies[-1].buttons[0].label == "Pertanyaan baru"
    return first, question


async def for_the_cso(runtime: Runtime, ticket: Ticket) -> list[str]:
    """What the stakeholder wrote, in the ticket's transcript (what its CSO reads)."""
    return [
        m.text
        for m in await rows(runtime, Message, Message.id)
        if m.ticket_id == ticket.id and m.direction == "in"
    ]


async def test_a_question_waiting_for_the_choice_is_not_dropped_by_a_thank_you(
    chat: FakeChat, runtime: Runtime
) -> None:
    first, question = await waiting_for_the_choice(chat)
    await chat.send("makasih pak")  # instead of pressing either button
    assert len(await tickets(runtime)) == 1
    assert any(question in text for text in await for_the_cso(runtime, first))
    assert "Pertanyaan Bapak/Ibu sebelumnya" in chat.text and first.number in chat.text
    # It went once: a later message is not the waiting question again.
    before = len(await for_the_cso(runtime, first))
    await chat.send("ok")
    assert sum(question in text for text in await for_the_cso(runtime, first)) == 1
    assert len(await for_the_cso(runtime, first)) >= before


async def test_a_question_waiting_for_the_choice_then_another_message_keeps_both(
    chat: FakeChat, runtime: Runtime
) -> None:
    first, question = await waiting_for_the_choice(chat)
    await chat.send("berkasnya yang asli atau cukup scan ya pak")
    relayed = await for_the_cso(runtime, first)
    assert any(question in text for text in relayed)
    assert any("berkasnya yang asli atau cukup scan" in text for text in relayed)


async def test_slash_baru_answers_the_choice_with_a_new_ticket(
    chat: FakeChat, runtime: Runtime
) -> None:
    first, question = await waiting_for_the_choice(chat)
    await chat.send("/baru")
    second = await chat.ticket()
    assert second.id != first.id and second.question == question
    assert not any(question in text for text in await for_the_cso(runtime, first))


async def test_the_more_button_after_the_ticket_closed_asks_the_question_anew(
    chat: FakeChat, runtime: Runtime
) -> None:
    first, question = await waiting_for_the_choice(chat)
    async with runtime.sessions() as session:
        ticket = await session.get(Ticket, first.id)
        assert ticket is not None
        ticket.status = "resolved"
        session.add(ticket)
        await session.commit()
    await chat.press(f"Tambahan untuk tiket {first.number}")
    second = await chat.ticket()
    assert second.id != first.id and second.question == question
    assert "sudah berstatus" in chat.text


async def test_asking_how_far_a_ticket_has_got_shows_the_tickets(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    first = await chat.ticket()
    await chat.send("/baru")
    await chat.send("kapan gup bisa diajukan")  # answered: the conversation is idle after it
    await chat.press("Ya, terjawab")
    for asked in (f"pak, tiket {first.number} sudah sampai mana ya?", "gimana status tiket saya"):
        await chat.send(asked)
        assert "Tiket Bapak/Ibu yang sedang diproses" in chat.text, asked
        assert first.number in chat.text
    assert len(await tickets(runtime)) == 2  # no ticket for asking about one
    await chat.send("status sp2d saya bagaimana")  # a question about SP2D, not about a ticket
    assert len(await tickets(runtime)) == 3


async def test_asking_for_an_officer_hands_the_question_to_the_cso_queue(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    text = "pak saya mau bicara langsung sama petugas aja, bingung soal rekon"
    await chat.send(text)
    ticket = await chat.ticket()
    assert ticket.status == "queued" and ticket.question == text
    reasons = [e.reason for e in await rows(runtime, TicketEvent) if e.ticket_id == ticket.id]
    assert "stakeholder asked for an officer" in reasons
    assert "kami teruskan kepada petugas CSO" in chat.text
    # While a CSO has it, asking again neither opens a ticket nor goes unanswered.
    await chat.send("bisa ditelpon aja gak pak petugasnya?")
    assert len(await tickets(runtime)) == 1
    assert "sudah ditangani petugas CSO" in chat.text
    relayed = [m.text for m in await rows(runtime, Message) if m.ticket_id == ticket.id]
    assert "bisa ditelpon aja gak pak petugasnya?" in relayed


async def test_asking_for_an_officer_under_an_answer_hands_that_ticket_over(
    chat: FakeChat, runtime: Runtime
) -> None:
    ticket = await answered(chat)
    await chat.send("sambungkan ke cs aja min")
    (only,) = await tickets(runtime)
    assert only.id == ticket.id and only.status == "queued"


async def test_a_travel_ticket_is_not_a_consultation_ticket(
    chat: FakeChat, runtime: Runtime
) -> None:
    await chat.identify()
    await chat.send("tiket pesawat dinas sudah selesai dibayar?")  # a question, not a status
    assert len(await tickets(runtime)) == 1
