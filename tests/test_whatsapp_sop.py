"""The SOP as a WhatsApp stakeholder meets it, through the engine (no HTTP): typed choices,
typed consent, the notifications opt-in and its change, the phone WhatsApp gives."""

from __future__ import annotations

from dataclasses import replace

from bot.messages import InboundKind
from bot.runtime import Runtime
from tests.conftest import FakeChat

NUMBER = "6281234567890"


async def test_typed_numbers_and_labels_count_as_presses(runtime: Runtime) -> None:
    chat = FakeChat(runtime, NUMBER, channel="whatsapp")
    await chat.send("halo")
    await chat.send("setuju")  # the consent button's label, typed
    assert "kabar perkembangan" in chat.text
    await chat.send("1")  # "Ya, kirimi kabar"
    assert (await chat.stakeholder()).notifications_opt_in is True  # type: ignore[union-attr]
    await chat.send("Siti Rahmawati")
    await chat.send("3")  # the third role in the list: PPK
    assert "kode satker" in chat.text
    await chat.send("123456")
    await chat.send("Satker Contoh")
    await chat.send("lewati")
    assert "Terima kasih, Siti Rahmawati" in chat.text
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.role == "ppk" and stakeholder.phone is None
    await chat.send("bagaimana cara mengajukan tup?")
    await chat.send("2")  # "Belum": handed to a CSO
    assert (await chat.ticket()).status == "queued"


async def test_the_number_whatsapp_gives_is_confirmed_with_buttons(runtime: Runtime) -> None:
    chat = FakeChat(runtime, NUMBER, channel="whatsapp")

    async def send(text: str) -> None:
        inbound = replace(chat._inbound(InboundKind.TEXT, text=text), sender_phone=f"+{NUMBER}")
        await chat.send_raw(inbound)

    await chat.send("halo")
    await chat.press("Setuju")
    await chat.press("Tidak usah")
    assert (await chat.stakeholder()).notifications_opt_in is False  # type: ignore[union-attr]
    await send("Siti Rahmawati")
    await chat.press("PPK")
    await send("123456")
    await send("Satker Contoh")
    assert "+6281234567890" in chat.text
    assert [b.label for b in chat.replies[-1].buttons] == [
        "Ya, pakai nomor ini",
        "Nomor lain",
        "Lewati",
    ]
    other = chat.button("Nomor lain").action
    await chat.send_raw(
        replace(chat._inbound(InboundKind.BUTTON, action=other), sender_phone=f"+{NUMBER}")
    )
    assert "ketik nomor HP" in chat.text
    await send("0812-9999-8888")
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None and stakeholder.phone == "+6281299998888"
    # /profil offers to change the notifications answer; the profile stays as it was.
    await chat.send("/profil")
    await chat.press("Ubah kabar WhatsApp")
    await chat.press("Ya, kirimi kabar")
    assert "sudah kami simpan" in chat.text
    stakeholder = await chat.stakeholder()
    assert stakeholder is not None
    assert (stakeholder.notifications_opt_in, stakeholder.full_name) == (True, "Siti Rahmawati")


async def test_telegram_is_not_asked_for_a_whatsapp_opt_in(runtime: Runtime) -> None:
    chat = FakeChat(runtime, "4242", channel="telegram")
    await chat.send("/start")
    await chat.press("Setuju")
    assert "nama lengkap" in chat.text
    await chat.send("/profil")
    assert all(b.label != "Ubah kabar WhatsApp" for r in chat.replies for b in r.buttons)
