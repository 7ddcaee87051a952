"""Talk to the bot in a terminal: the same engine and handlers as Telegram, on stdin/stdout.

Buttons are printed as numbered options and answered by number or label. Without a TTY every
input line is one message and every reply is printed, so conversations can be scripted.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from typing import TextIO

from bot.messages import Button, Inbound, InboundKind, Keyboard, Outbound
from bot.outbox import OutboxDispatcher
from bot.runtime import Runtime

CHANNEL = "terminal"


class TerminalSender:
    """Prints replies and remembers the last options shown, so "1" can mean a button."""

    channel = CHANNEL

    def __init__(self, output: TextIO) -> None:
        self.output = output
        self.options: list[Button] = []
        self.contact_keyboard = False
        self._sent = 0

    async def send(self, chat_id: str, outbound: Outbound, thread_id: str | None = None) -> str:
        self.output.write(f"\nBot: {outbound.text}\n")
        if outbound.document is not None:
            self.output.write(f"  [berkas: {outbound.document} di folder data]\n")
        # Numbers always refer to the options of the newest message, as on a phone screen.
        self.options = list(outbound.buttons)
        self.contact_keyboard = outbound.keyboard is Keyboard.CONTACT
        for number, button in enumerate(outbound.buttons, 1):
            label = button.label
            if self.contact_keyboard and button.data == "contact":
                label += " (ketik nomor HP Anda)"
            self.output.write(f"  [{number}] {label}\n")
        self.output.flush()
        self._sent += 1
        return f"terminal-{self._sent}"


def parse_line(line: str, user_id: str, options: list[Button], contact_keyboard: bool) -> Inbound | None:
    """One typed line → one inbound event (None for a blank line)."""
    text = line.strip()
    if not text:
        return None
    key = f"{CHANNEL}:{uuid.uuid4()}"
    base = {"channel": CHANNEL, "user_id": user_id, "chat_id": user_id, "update_key": key}
    if text.startswith("/"):
        command, _, rest = text[1:].partition(" ")
        return Inbound(kind=InboundKind.COMMAND, command=command.lower(), text=rest.strip(), **base)
    chosen = _choose(text, options)
    if chosen is not None and not (contact_keyboard and chosen.data == "contact"):
        if contact_keyboard or not chosen.data:
            # A reply keyboard sends its label as text, as Telegram does.
            return Inbound(kind=InboundKind.TEXT, text=chosen.label, **base)
        return Inbound(kind=InboundKind.BUTTON, data=chosen.data, text=chosen.label, **base)
    return Inbound(kind=InboundKind.TEXT, text=text, **base)


def _choose(text: str, options: list[Button]) -> Button | None:
    if text.isdigit() and 1 <= int(text) <= len(options) and len(text) <= 2:
        return options[int(text) - 1]
    return next((b for b in options if b.label.casefold() == text.casefold()), None)


async def chat(
    runtime: Runtime,
    *,
    user_id: str = "local",
    input_stream: TextIO | None = None,
    output: TextIO | None = None,
    interactive: bool | None = None,
) -> None:
    """Run a conversation until end of input (Ctrl-D) or /keluar."""
    input_stream = input_stream or sys.stdin
    output = output or sys.stdout
    if interactive is None:
        interactive = input_stream.isatty()
    sender = TerminalSender(output)
    dispatcher = OutboxDispatcher(runtime.sessions, sender, runtime.clock)
    await dispatcher.deliver_chat(user_id)  # anything left undelivered by an earlier run
    if interactive:
        office = runtime.config.current_office.name
        output.write(f"csobot – {office}. Ketik /start untuk memulai, /keluar untuk keluar.\n")
    read_line: Callable[[], str] = input_stream.readline
    while True:
        if interactive:
            output.write("\nAnda: ")
            output.flush()
        line = await asyncio.to_thread(read_line)
        if line == "":
            break
        if line.strip().lower() in ("/keluar", "/exit", "/quit"):
            break
        if not interactive:
            output.write(f"\nAnda: {line.strip()}\n")
        inbound = parse_line(line, user_id, sender.options, sender.contact_keyboard)
        if inbound is None:
            continue
        await dispatcher.deliver(await runtime.engine.handle(inbound))
