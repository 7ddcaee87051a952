"""The terminal channel: typed lines become commands and button presses, and `csobot chat` runs
the same host as Telegram, service clock included."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import timedelta
from pathlib import Path

from bot.buttons import action
from bot.channels.terminal import TerminalChannel, TerminalSender, parse_line, parse_span
from bot.clock import FakeClock
from bot.host import Host
from bot.messages import Button, InboundKind, Outbound
from bot.runtime import Runtime, build_runtime
from tests.conftest import MONDAY_MORNING, make_settings


async def test_numbers_and_labels_choose_the_newest_options_only() -> None:
    sender = TerminalSender(io.StringIO(), "u")
    yes, no = action("consent", "yes"), action("consent", "no")
    await sender.send("u", Outbound("Pilih", (Button("Setuju", yes), Button("Tidak", no))))
    press = parse_line("1", "u", sender.options)
    assert press is not None and (press.kind, press.action) == (InboundKind.BUTTON, yes)
    by_label = parse_line("tidak", "u", sender.options)
    assert by_label is not None and by_label.action == no
    await sender.send("u", Outbound("Tulis kode satker"))
    typed = parse_line("1", "u", sender.options)
    assert typed is not None and (typed.kind, typed.text) == (InboundKind.TEXT, "1")


async def test_a_phone_request_is_typed_and_a_plain_choice_sends_its_label() -> None:
    sender = TerminalSender(io.StringIO(), "u")
    await sender.send("u", Outbound("HP?", (Button("Lewati"),), request_phone="Bagikan nomor HP"))
    assert "[1] Bagikan nomor HP (ketik nomor HP Anda)" in sender.output.getvalue()  # type: ignore[attr-defined]
    skip = parse_line("2", "u", sender.options)
    assert skip is not None and (skip.kind, skip.text) == (InboundKind.TEXT, "Lewati")
    share = parse_line("1", "u", sender.options)
    assert share is not None and (share.kind, share.text) == (InboundKind.TEXT, "1")


async def test_commands_are_parsed_once_with_their_arguments() -> None:
    command = parse_line("/Transkrip KNS-20261123-0001", "u", [])
    assert command is not None and command.kind is InboundKind.COMMAND
    assert (command.command, command.args) == ("transkrip", "KNS-20261123-0001")
    assert command.text == "/Transkrip KNS-20261123-0001"
    bare = parse_line("/status", "u", [])
    assert bare is not None and (bare.command, bare.args) == ("status", "")
    assert parse_line("   \n", "u", []) is None


def test_time_spans_for_the_clock() -> None:
    assert parse_span("30m") == timedelta(minutes=30)
    assert parse_span("2 jam") == timedelta(hours=2)
    assert parse_span("1h") == timedelta(days=1)
    assert parse_span("besok") is None


async def chat_session(runtime: Runtime, script: str, *, interactive: bool = False) -> str:
    output = io.StringIO()
    channel = TerminalChannel(
        user_id="local", input_stream=io.StringIO(script), output=output, interactive=interactive
    )
    host = Host(runtime, [channel], scheduler_interval=0.05, outbox_interval=0.05)
    assert await asyncio.wait_for(host.run_until_signal(), timeout=30) == 0
    return output.getvalue()


async def test_an_interactive_session_prompts_and_ends_on_keluar(runtime: Runtime) -> None:
    text = await chat_session(runtime, "/start\n/keluar\nnot read\n", interactive=True)
    assert text.startswith("csobot – KPPN Pekalongan.")
    assert "Anda: " in text and "Selamat datang" in text
    assert "not read" not in text


async def test_the_service_clock_runs_in_the_terminal_and_maju_moves_it(tmp_path: Path) -> None:
    """A question goes to the CSO queue; /maju 1h brings the next day's progress message into
    the terminal, from the same scheduler as on Telegram."""
    clock = FakeClock(MONDAY_MORNING)  # movable like `csobot chat --clock`'s ShiftedClock
    runtime = await build_runtime(make_settings(tmp_path), clock=clock)
    try:
        script = (
            "/start\n1\nSiti Rahmawati\nPPK\n123456\nSatker Contoh\n2\n"
            "bagaimana prosedur mutasi pegawai antar kementerian lembaga\n"
            "/maju 1h\n"
        )
        feed = _SlowInput(script, pause_before="/maju")
        output = io.StringIO()
        channel = TerminalChannel(
            user_id="local", input_stream=feed, output=output, interactive=False
        )
        host = Host(runtime, [channel], scheduler_interval=0.05, outbox_interval=0.05)
        assert await asyncio.wait_for(host.run_until_signal(), timeout=30) == 0
        text = output.getvalue()
        before, _, after = text.partition("waktu dimajukan")
        assert "kami teruskan kepada petugas CSO" in before
        assert "Kabar perkembangan" not in before
        assert "Kabar perkembangan" in after  # the progress message, at 10:00 the next working day
    finally:
        await runtime.close()


class _SlowInput(io.StringIO):
    """Lines as typed: the line starting with `pause_before` comes only after a short wait, and
    end of input only after the scheduler had time to act."""

    def __init__(self, text: str, pause_before: str) -> None:
        super().__init__(text)
        self.pause_before = pause_before

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        line = super().readline()
        if line.startswith(self.pause_before) or line == "":
            time.sleep(0.5)
        return line
