"""Channel-neutral messages: adapters turn platform updates into Inbound and deliver Outbound."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class InboundKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    CONTACT = "contact"
    EDITED = "edited"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Inbound:
    """One thing a person did: typed, pressed, shared, or sent something we cannot read."""

    channel: str
    user_id: str
    chat_id: str
    update_key: str
    kind: InboundKind
    text: str = ""
    command: str | None = None
    data: str | None = None
    phone: str | None = None
    contact_user_id: str | None = None
    media: str | None = None
    is_private: bool = True
    platform_message_id: str | None = None

    def payload(self) -> dict[str, Any]:
        """What the transcript keeps besides the text."""
        fields = {
            "command": self.command,
            "data": self.data,
            "phone": self.phone,
            "media": self.media,
            "platform_message_id": self.platform_message_id,
        }
        return {key: value for key, value in fields.items() if value is not None}


class Keyboard(StrEnum):
    NONE = "none"
    INLINE = "inline"  # choices attached to the message; pressing sends `data`
    CONTACT = "contact"  # a reply keyboard: first button shares the phone, others send their label
    REMOVE = "remove"  # take away a reply keyboard shown earlier


@dataclass(frozen=True)
class Button:
    label: str
    data: str = ""


@dataclass(frozen=True)
class Outbound:
    """A message the SOP wants delivered; by default to the chat the inbound came from."""

    text: str
    buttons: tuple[Button, ...] = ()
    keyboard: Keyboard = Keyboard.NONE
    ticket_id: int | None = None
    channel: str | None = None
    chat_id: str | None = None
    actor: str = "bot"
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """Everything an adapter needs to deliver it again later (kept in the outbox)."""
        return {
            "text": self.text,
            "buttons": [{"label": button.label, "data": button.data} for button in self.buttons],
            "keyboard": self.keyboard.value,
            **self.extra,
        }

    @staticmethod
    def from_payload(payload: dict[str, Any]) -> Outbound:
        return Outbound(
            text=payload["text"],
            buttons=tuple(Button(b["label"], b["data"]) for b in payload.get("buttons", [])),
            keyboard=Keyboard(payload.get("keyboard", "none")),
        )
