"""Channel-neutral messages: adapters turn platform updates into Inbound and deliver Outbound."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.addresses import Address, address_from_payload, address_payload
from bot.buttons import Action, decode

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_COMMAND = re.compile(r"^/(\S+)\s*(.*)$", re.DOTALL)


class InboundKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    CONTACT = "contact"
    FILE = "file"  # a photo or document
    EDITED = "edited"
    UNSUPPORTED = "unsupported"
    TIMER = "timer"  # a scheduled job falling due (channel "system")


@dataclass(frozen=True)
class IncomingFile:
    """A photo or document as the platform announced it, and what the adapter did with it.

    The adapter downloads a file only for someone who may send one (a stakeholder whose ticket
    is with a CSO, or staff) and only within the configured types and size; `stored` is then the
    path under the data directory, else `error` says why not.
    """

    platform_id: str
    name: str
    file_type: str
    size: int
    stored: str | None = None
    sha256: str | None = None
    error: str | None = None  # "type", "too_large", "download_failed", or None
    unique_id: str | None = None  # the platform's stable id of the file (same file, same id)


@dataclass(frozen=True)
class Inbound:
    """One thing a person did: typed, pressed, shared, or sent something we cannot read.

    The adapter parses once: a command arrives as `command` (lower case, no slash, no @bot) and
    `args` (the rest of the line), with the whole line in `text`; a pressed button arrives as
    its decoded `action`, with the button's label in `text` when the platform tells it.
    """

    channel: str
    user_id: str
    chat_id: str
    update_key: str
    kind: InboundKind
    text: str = ""
    command: str | None = None
    args: str = ""
    action: Action | None = None
    phone: str | None = None
    contact_user_id: str | None = None
    # The sender's own number as the platform vouches for it (WhatsApp), to confirm, not type.
    sender_phone: str | None = None
    media: str | None = None
    is_private: bool = True
    platform_message_id: str | None = None
    thread_id: str | None = None  # a forum topic inside a group
    file: IncomingFile | None = None

    def __post_init__(self) -> None:
        # Whatever a platform delivers must be storable on both databases.
        object.__setattr__(self, "text", storable(self.text))
        object.__setattr__(self, "args", storable(self.args))

    def payload(self) -> dict[str, Any]:
        """What the transcript keeps besides the text."""
        fields = {
            "command": self.command,
            "data": self.action.encode() if self.action is not None else None,
            "phone": self.phone,
            "media": self.media,
            "platform_message_id": self.platform_message_id,
            "file": self.file.name if self.file is not None else None,
        }
        return {key: value for key, value in fields.items() if value is not None}


def storable(text: str) -> str:
    """Text any database can keep: PostgreSQL refuses NUL characters, and a lone surrogate
    (broken UTF-16 in a platform's JSON) cannot be encoded at all. NUL is kept visibly escaped
    as \\x00; a lone surrogate becomes U+FFFD. Everything else is untouched."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return _LONE_SURROGATE.sub("\ufffd", text)


def parse_command(line: str) -> tuple[str, str] | None:
    """`/Ambil@csobot 5` → ("ambil", "5"); None when the line is not a command."""
    match = _COMMAND.match(line.strip())
    if match is None:
        return None
    return match.group(1).split("@", 1)[0].lower(), match.group(2).strip()


@dataclass(frozen=True)
class Button:
    """A choice. Pressing it sends `action` back; a channel without buttons numbers it."""

    label: str
    action: Action | None = None


class ThreadAction(StrEnum):
    """What to do with a ticket's desk thread instead of sending text."""

    OPEN = "open"  # create it, titled with the outbound's text
    CLOSE = "close"
    REOPEN = "reopen"


@dataclass(frozen=True)
class OutgoingFile:
    """A file to deliver: `path` under the data directory (None if it could not be stored);
    `source` is the platform message it came in as (channel, chat, message id), which a channel
    on the same platform may copy instead of uploading."""

    path: str | None
    name: str
    source: tuple[str, str, str] | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "source": list(self.source) if self.source else None,
        }

    @staticmethod
    def from_payload(payload: dict[str, Any]) -> OutgoingFile:
        source = payload.get("source")
        return OutgoingFile(
            payload["path"],
            payload["name"],
            (str(source[0]), str(source[1]), str(source[2])) if source else None,
        )


@dataclass(frozen=True)
class TemplateCall:
    """A pre-approved template to send instead of free text (a channel's window is closed):
    its body parameters in order, and the quick-reply button it carries, if any."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()
    quick_reply: str | None = None
    quick_reply_action: Action | None = None


@dataclass(frozen=True)
class Outbound:
    """A message the SOP wants delivered: to the person who wrote (`to` None) or an address.

    `key` and `values` say what the message is (a configured text and what filled it), besides
    the rendered `text`: a channel that must use a pre-approved template for a message sent
    days later can pick it by key. `request_phone` is the label of a "share my number" button
    for channels that have one; `clear_keyboard` takes away such a keyboard.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    to: Address | None = None
    ticket_id: int | None = None
    key: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    actor: str = "bot"
    internal: bool = False  # staff-only (desk posts): kept out of what the stakeholder saw
    thread_action: ThreadAction | None = None
    file: OutgoingFile | None = None
    request_phone: str | None = None
    clear_keyboard: bool = False
    desk_ticket_id: int | None = None  # set when queued: the ticket whose desk thread it goes to
    template: TemplateCall | None = None  # chosen at delivery, never stored

    def payload(self) -> dict[str, Any]:
        """Everything an adapter needs to deliver it again later (kept in the outbox)."""
        payload: dict[str, Any] = {
            "text": self.text,
            "buttons": [
                {"label": b.label, "data": b.action.encode() if b.action else None}
                for b in self.buttons
            ],
        }
        optional: dict[str, Any] = {
            "to": address_payload(self.to),
            "key": self.key,
            "values": self.values or None,
            "thread_action": self.thread_action.value if self.thread_action else None,
            "file": self.file.payload() if self.file else None,
            "request_phone": self.request_phone,
            "clear_keyboard": self.clear_keyboard or None,
            "desk_ticket_id": self.desk_ticket_id,
        }
        payload.update({key: value for key, value in optional.items() if value is not None})
        return payload

    @staticmethod
    def from_payload(payload: dict[str, Any]) -> Outbound:
        action = payload.get("thread_action")
        file = payload.get("file")
        return Outbound(
            text=payload["text"],
            buttons=tuple(
                Button(b["label"], decode(b.get("data"))) for b in payload.get("buttons", [])
            ),
            to=address_from_payload(payload.get("to")),
            key=payload.get("key"),
            values=dict(payload.get("values") or {}),
            thread_action=ThreadAction(action) if action else None,
            file=OutgoingFile.from_payload(file) if file else None,
            request_phone=payload.get("request_phone"),
            clear_keyboard=bool(payload.get("clear_keyboard")),
            desk_ticket_id=payload.get("desk_ticket_id"),
        )
