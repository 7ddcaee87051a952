"""The one codec for what a button carries, used by every channel.

A button's data is an `Action`: a name (what the handler that made it will do) and a few short
arguments (a ticket id, a choice). Channels put `encode()` into the platform's field (Telegram
callback_data, WhatsApp reply ids, the terminal's numbered options) and give handlers back the
decoded `Action`, so no handler parses a string prefix. Forged or stale data decodes to None or
to an action whose arguments the handler checks like any other input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SEPARATOR = ":"
# Telegram's callback_data holds 1–64 bytes; WhatsApp ids hold more, so Telegram's is the limit.
MAX_BYTES = 64
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ARGUMENT = re.compile(r"[A-Za-z0-9_.\-]*")


class ButtonDataError(ValueError):
    """An action that cannot be carried by a button (a bug in the handler that built it)."""


@dataclass(frozen=True)
class Action:
    name: str
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ButtonDataError(
                f"action name {self.name!r} must be lower-case letters, digits, _"
            )
        for argument in self.args:
            if not _ARGUMENT.fullmatch(argument):
                raise ButtonDataError(f"action argument {argument!r} has characters buttons drop")
        if len(self.encode().encode()) > MAX_BYTES:
            raise ButtonDataError(f"action {self.encode()!r} is longer than {MAX_BYTES} bytes")

    def encode(self) -> str:
        return SEPARATOR.join((self.name, *self.args))

    def arg(self, index: int) -> str | None:
        return self.args[index] if index < len(self.args) else None

    def int_arg(self, index: int) -> int | None:
        """A numeric argument (a ticket id, an index); None when missing or not a number."""
        value = self.arg(index)
        return int(value) if value is not None and value.isascii() and value.isdigit() else None


def action(name: str, *args: object) -> Action:
    return Action(name, tuple(str(argument) for argument in args))


def decode(data: str | None) -> Action | None:
    """What a pressed button carried; None for anything no handler could have made."""
    if not data:
        return None
    name, *args = data.split(SEPARATOR)
    try:
        return Action(name, tuple(args))
    except ButtonDataError:
        return None


_NUMBER = re.compile(r"^\(?(\d{1,2})[.)]?$")
# How people point at an option in words, the whole message only: "nomor 1", "no. 2", "yang
# kedua mbak", "pilihan ke-3 aja pak", "pertama". Anything more is not a choice but a message.
_ORDINALS = {
    "satu": 1, "pertama": 1, "dua": 2, "kedua": 2, "tiga": 3, "ketiga": 3,
    "empat": 4, "keempat": 4, "lima": 5, "kelima": 5,
}  # fmt: skip
_POINTED = re.compile(
    r"^(?:(?:yang|yg|nomor|nomer|no|pilihan|opsi|poin)\.?\s+)*(?:ke-?\s?)?"
    r"(\d{1,2}|" + "|".join(_ORDINALS) + r")"
    r"(?:\s+(?:saja|aja|ya|yah|pak|bu|bapak|ibu|mbak|mba|mas|kak|bang|min|dik|daeng|bli))*[.!]*$"
)


def typed_choice(text: str, labels: Sequence[str]) -> int | None:
    """The option a typed reply means: its number as shown ("2", "2.", "(2)"), pointed at in
    words ("nomor 2", "yang kedua mbak") or its label in any case; None when it means none of
    them."""
    typed = " ".join(text.split())
    number = _NUMBER.match(typed) or _POINTED.match(typed.casefold())
    if number is not None:
        value = number.group(1)
        index = (int(value) if value.isdigit() else _ORDINALS[value]) - 1
        return index if 0 <= index < len(labels) else None
    wanted = typed.casefold().strip(" .!")
    return next(
        (i for i, label in enumerate(labels) if label.casefold().strip(" .!") == wanted), None
    )
