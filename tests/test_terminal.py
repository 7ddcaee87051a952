"""Terminal adapter details: how typed lines become button presses."""

from __future__ import annotations

import io

from bot.channels.terminal import TerminalSender, chat, parse_line
from bot.messages import Button, InboundKind, Keyboard, Outbound
from bot.runtime import Runtime


async def test_numbers_and_labels_choose_the_newest_options_only() -> None:
    sender = TerminalSender(io.StringIO())
    await sender.send("u", Outbound("Pilih", (Button("Setuju", "consent:yes"), Button("Tidak", "consent:no")), Keyboard.INLINE))
    press = parse_line("1", "u", sender.options, sender.contact_keyboard)
    assert press is not None and (press.kind, press.data) == (InboundKind.BUTTON, "consent:yes")
    by_label = parse_line("tidak", "u", sender.options, sender.contact_keyboard)
    assert by_label is not None and by_label.data == "consent:no"
    await sender.send("u", Outbound("Tulis kode satker"))
    typed = parse_line("1", "u", sender.options, sender.contact_keyboard)
    assert typed is not None and (typed.kind, typed.text) == (InboundKind.TEXT, "1")


async def test_a_reply_keyboard_sends_its_label_as_text() -> None:
    sender = TerminalSender(io.StringIO())
    await sender.send("u", Outbound("HP?", (Button("Bagikan nomor HP", "contact"), Button("Lewati")), Keyboard.CONTACT))
    assert "ketik nomor HP Anda" in sender.output.getvalue()  # type: ignore[attr-defined]
    skip = parse_line("2", "u", sender.options, sender.contact_keyboard)
    assert skip is not None and (skip.kind, skip.text) == (InboundKind.TEXT, "Lewati")
    share = parse_line("1", "u", sender.options, sender.contact_keyboard)
    assert share is not None and (share.kind, share.text) == (InboundKind.TEXT, "1")


async def test_commands_and_blank_lines() -> None:
    command = parse_line("/Status sekarang", "u", [], False)
    assert command is not None and (command.kind, command.command) == (InboundKind.COMMAND, "status")
    assert parse_line("   \n", "u", [], False) is None


async def test_an_interactive_session_prompts_and_ends_on_keluar(runtime: Runtime) -> None:
    output = io.StringIO()
    await chat(runtime, input_stream=io.StringIO("/start\n/keluar\nnot read\n"), output=output, interactive=True)
    text = output.getvalue()
    assert text.startswith("csobot – KPPN Pekalongan.")
    assert "Anda: " in text and "Selamat datang" in text
    assert "not read" not in text
