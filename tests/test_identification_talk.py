"""What stakeholders type during identification instead of the answer asked for: a question is
kept and asked once the profile is complete (never stored as a name), an offer of money is
refused, a role is understood from the words people use for it, and an unknown one gets a hint."""

from __future__ import annotations

from bot.runtime import Runtime
from bot.store.models import Conversation, Message, Ticket
from tests.conftest import FakeChat, rows


async def consented(chat: FakeChat) -> None:
    await chat.send("/start")
    await chat.press("Setuju")


async def test_a_question_at_the_name_step_is_kept_and_asked_after_identification(
    chat: FakeChat, runtime: Runtime
) -> None:
    await consented(chat)
    question = "pak mau tanya soal cara mengajukan tup gimana"
    await chat.send(question)
    assert "sudah kami catat" in chat.text and "nama lengkap" in chat.text
    assert await rows(runtime, Ticket) == []
    await chat.send("Siti Rahmawati")
    await chat.press("PPK")
    await chat.send("123456")
    await chat.send("Satker Contoh")
    await chat.send("Lewati")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.full_name == "Siti Rahmawati"
    (ticket,) = await rows(runtime, Ticket)
    assert ticket.question == question
    assert "Pengajuan Tambahan UP (TUP)" in chat.text  # answered at once
    assert "Silakan tuliskan pertanyaan" not in chat.text  # not asked for what it already has
    filed = [m for m in await rows(runtime, Message) if m.text == question]
    assert [m.ticket_id for m in filed] == [ticket.id]


async def test_a_question_at_the_role_step_is_kept_and_the_role_still_asked(
    chat: FakeChat, runtime: Runtime
) -> None:
    await consented(chat)
    await chat.send("Budi Santoso")
    await chat.send("bu, saya rekanan, kapan ya dana kontrak saya cair?")
    assert "sudah kami catat" in chat.text
    assert chat.replies[-1].buttons[0].label == "Bendahara Pengeluaran"
    await chat.send("rekanan bu")
    await chat.send("CV Maju Jaya")
    await chat.send("Lewati")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.role == "pihak_ketiga"
    (ticket,) = await rows(runtime, Ticket)
    assert ticket.question == "bu, saya rekanan, kapan ya dana kontrak saya cair?"


async def test_an_offer_of_money_during_identification_is_refused(chat: FakeChat) -> None:
    await consented(chat)
    await chat.send("Budi Santoso")
    await chat.send("bu kalau saya kasih uang kopi bisa dipercepat ga")
    assert "tidak dipungut biaya" in chat.text
    assert "Apa peran" in chat.text


async def test_roles_are_understood_from_the_words_people_use(chat: FakeChat) -> None:
    expected = {
        "saya bendahara pengeluaran": "bendahara_pengeluaran",
        "PPK pak": "ppk",
        "operator": "operator_sakti",
        "admin sakti": "operator_sakti",
        "rekanan": "pihak_ketiga",
        "kepala desa": "pemda_desa",
        "2": "bendahara_penerimaan",
    }
    for number, (typed, role) in enumerate(expected.items()):
        chat.user_id = str(2000 + number)
        await consented(chat)
        await chat.send("Budi Santoso")
        await chat.send(typed)
        stakeholder = await chat.stakeholder()
        assert stakeholder is not None
        async with chat.runtime.sessions() as session:
            conversation = await session.get(Conversation, stakeholder.id)
        assert conversation is not None
        assert conversation.data["draft"]["role"] == role, typed


async def test_an_unknown_or_ambiguous_role_is_asked_again_with_a_hint(chat: FakeChat) -> None:
    await consented(chat)
    await chat.send("Budi Santoso")
    for typed in ("bendahara", "KPA"):
        await chat.send(typed)
        assert "belum kami kenali" in chat.text and "Bendahara Pengeluaran" in chat.text, typed
        assert len(chat.replies[-1].buttons) == 8


async def test_a_name_with_the_company_and_a_title_with_a_full_stop(chat: FakeChat) -> None:
    await consented(chat)
    await chat.send("Budi Santoso (CV Maju Jaya)")
    assert "Apa peran" in chat.text
    chat.user_id = "3001"
    await chat.identify(name="Drs. H. Abd. Rahman, M.Si.")
    assert "M.Si.." not in "\n".join(r.text for _, r in chat.sender.delivered)


async def test_a_first_message_without_start_gets_the_welcome_and_the_notice(
    chat: FakeChat,
) -> None:
    await chat.send("Assalamualaikum pak")
    texts = [r.text for r in chat.replies]
    assert "gratis" in texts[0] and "berikut" in texts[0]  # welcome, and where the notice is
    assert "UU No. 27 Tahun 2022" in texts[1]


async def test_the_satker_code_is_found_in_a_sentence(chat: FakeChat) -> None:
    await consented(chat)
    await chat.send("Budi Santoso")
    await chat.press("PPK")
    await chat.send("123 45")
    assert "6 digit" in chat.text
    await chat.send("satker saya 223344 pak")
    await chat.send("Satker Contoh")
    await chat.send("Lewati")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.satker_code == "223344"


async def test_a_kept_question_joins_its_ticket_as_it_was_written(
    chat: FakeChat, runtime: Runtime
) -> None:
    """Written over two lines with double spaces, it still joins the ticket's transcript."""
    await consented(chat)
    question = "pak,  mau tanya\ncara mengajukan tup gimana?"
    await chat.send(question)
    await chat.send("Siti Rahmawati")
    await chat.press("PPK")
    await chat.send("123456")
    await chat.send("Satker Contoh")
    await chat.send("Lewati")
    (ticket,) = await rows(runtime, Ticket)
    filed = [m.ticket_id for m in await rows(runtime, Message) if m.text == question]
    assert filed == [ticket.id]
