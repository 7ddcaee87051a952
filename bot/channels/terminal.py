"""Talk to the bot in a terminal: the same host, engine and handlers as Telegram, on stdin/stdout.

Buttons are printed as numbered options and answered by number or label. Without a TTY every
input line is one message and every reply is printed, so conversations can be scripted. With a
shifted clock (`csobot chat --clock`), `/maju 2j` moves time forward so that progress messages,
reminders and escalations can be tried without waiting days.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, TextIO

from starlette.routing import BaseRoute

from bot.buttons import typed_choice
from bot.channels.base import ChannelHost
from bot.config import format_local
from bot.messages import Button, Inbound, InboundKind, Outbound, parse_command

CHANNEL = "terminal"
QUIT = ("/keluar", "/exit", "/quit")
PHONE_HINT = "(ketik nomor HP Anda)"  # a terminal cannot share a contact: the number is typed
ADVANCE = "maju"  # /maju 30m | 2j | 1h: move a shifted clock forward (m menit, j jam, h hari)
_SPAN = re.compile(r"^(\d{1,4})\s*(m|menit|j|jam|h|hari)$")
_UNITS = {
    "m": "minutes",
    "menit": "minutes",
    "j": "hours",
    "jam": "hours",
    "h": "days",
    "hari": "days",
}


class TerminalSender:
    """Prints replies and remembers the last options shown, so "1" can mean a button."""

    channel = CHANNEL

    def __init__(self, output: TextIO, user_id: str = "local") -> None:
        self.output = output
        self.user_id = user_id
        self.options: list[Button] = []
        self._sent = 0

    def thread_link(self, chat_id: str, thread_id: str) -> str | None:
        return None

    async def send(self, chat_id: str, outbound: Outbound, thread_id: str | None = None) -> str:
        self._sent += 1
        if chat_id != self.user_id:
            # Someone else on this terminal channel (a staff account): shown, not selectable.
            self.output.write(f"\nBot → {chat_id}: {outbound.text}\n")
            self.output.flush()
            return f"terminal-{self._sent}"
        self.output.write(f"\nBot: {outbound.text}\n")
        if outbound.file is not None:
            self.output.write(
                f"  [berkas: {outbound.file.path or outbound.file.name} di folder data]\n"
            )
        # Numbers always refer to the options of the newest message, as on a phone screen.
        self.options = []
        if outbound.request_phone is not None:
            self.options.append(Button(f"{outbound.request_phone} {PHONE_HINT}"))
        self.options.extend(outbound.buttons)
        for number, button in enumerate(self.options, 1):
            self.output.write(f"  [{number}] {button.label}\n")
        self.output.flush()
        return f"terminal-{self._sent}"


def parse_line(line: str, user_id: str, options: list[Button]) -> Inbound | None:
    """One typed line → one inbound event (None for a blank line)."""
    text = line.strip()
    if not text:
        return None
    base = Inbound(CHANNEL, user_id, user_id, f"{CHANNEL}:{uuid.uuid4()}", InboundKind.TEXT, text)
    command = parse_command(text)
    if command is not None:
        name, args = command
        return replace(base, kind=InboundKind.COMMAND, command=name, args=args)
    chosen = _choose(text, options)
    if chosen is not None and chosen.action is not None:
        return replace(base, kind=InboundKind.BUTTON, action=chosen.action, text=chosen.label)
    if chosen is not None and PHONE_HINT not in chosen.label:
        # A choice without an action (a reply keyboard on Telegram) sends its label as text.
        return replace(base, text=chosen.label)
    return base


def _choose(text: str, options: list[Button]) -> Button | None:
    index = typed_choice(text, [b.label for b in options])
    return options[index] if index is not None else None


def parse_span(text: str) -> timedelta | None:
    """`30m`, `2j`, `1 hari` → a duration; None when it is not one."""
    match = _SPAN.match(text.strip().casefold())
    if match is None:
        return None
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class TerminalChannel:
    """One person at the keyboard; the conversation ends at end of input or /keluar."""

    name = CHANNEL

    def __init__(
        self,
        *,
        user_id: str = "local",
        input_stream: TextIO | None = None,
        output: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.user_id = user_id
        self.input = input_stream or sys.stdin
        self.output = output or sys.stdout
        self.interactive = self.input.isatty() if interactive is None else interactive
        self.sender = TerminalSender(self.output, user_id)
        self._reading: asyncio.Task[None] | None = None

    async def start(self, host: ChannelHost) -> None:
        if self.interactive:
            office = host.config.current_office.name
            self.output.write(
                f"csobot – {office}. Ketik /start untuk memulai, /keluar untuk keluar.\n"
            )
            if hasattr(host.clock, "advance"):
                now = format_local(host.clock.now(), host.config.current_office.timezone)
                self.output.write(
                    f"Jam percobaan: {now}. Majukan waktu dengan /maju 2j (m, j, h).\n"
                )
        self._reading = asyncio.create_task(self._read(host))

    async def stop(self) -> None:
        if self._reading is not None and not self._reading.done():
            self._reading.cancel()

    def routes(self) -> Sequence[BaseRoute]:
        return []

    async def check(self) -> str | None:
        return None

    async def process(self, payload: dict[str, Any], attempt: int = 0) -> None:
        """Typed lines go to the host as they are read; nothing is kept in the inbox."""

    async def _read(self, host: ChannelHost) -> None:
        read_line: Callable[[], str] = self.input.readline
        try:
            while True:
                if self.interactive:
                    self.output.write("\nAnda: ")
                    self.output.flush()
                line = await asyncio.to_thread(read_line)
                if line == "" or line.strip().lower() in QUIT:
                    break
                if not self.interactive:
                    self.output.write(f"\nAnda: {line.strip()}\n")
                inbound = parse_line(line, self.user_id, self.sender.options)
                if inbound is None:
                    continue
                if inbound.command == ADVANCE:
                    self._advance(host, inbound.args)
                    continue
                await host.receive(inbound)
                await host.drain()  # the reply is printed before the next line is read
        finally:
            host.request_stop()

    def _advance(self, host: ChannelHost, args: str) -> None:
        advance: Callable[..., None] | None = getattr(host.clock, "advance", None)
        span = parse_span(args)
        if advance is None or span is None:
            self.output.write("\n(/maju hanya dengan `csobot chat --clock`; contoh: /maju 2j)\n")
            return
        advance(seconds=span.total_seconds())
        now = format_local(host.clock.now(), host.config.current_office.timezone)
        self.output.write(f"\n(waktu dimajukan: sekarang {now})\n")
        self.output.flush()
        host.wake()
