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
    thread_id: str | None = None  # a forum topic inside a group
    file: IncomingFile | None = None

    def payload(self) -> dict[str, Any]:
        """What the transcript keeps besides the text."""
        fields = {
            "command": self.command,
            "data": self.data,
            "phone": self.phone,
            "media": self.media,
            "platform_message_id": self.platform_message_id,
            "file": self.file.name if self.file is not None else None,
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


class ThreadAction(StrEnum):
    """What to do with a ticket's desk thread instead of sending text."""

    OPEN = "open"  # create it, titled with the outbound's text
    CLOSE = "close"
    REOPEN = "reopen"


@dataclass(frozen=True)
class Outbound:
    """A message the SOP wants delivered; by default to the chat the inbound came from.

    `desk_ticket_id` puts it in that ticket's desk thread (resolved at delivery, when the thread
    exists); `copy_of` (chat id, message id) copies a platform message, with its photo or file and
    caption, instead of sending `text`.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    keyboard: Keyboard = Keyboard.NONE
    ticket_id: int | None = None
    stakeholder_id: int | None = None
    channel: str | None = None
    chat_id: str | None = None
    actor: str = "bot"
    desk_ticket_id: int | None = None
    thread_action: ThreadAction | None = None
    copy_of: tuple[str, str] | None = None
    internal: bool = False  # staff-only (desk posts): kept out of what the stakeholder saw
    document: str | None = None  # a file under the data directory, sent with `text` as caption
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.buttons and self.keyboard is Keyboard.NONE:  # choices are inline unless said otherwise
            object.__setattr__(self, "keyboard", Keyboard.INLINE)

    def payload(self) -> dict[str, Any]:
        """Everything an adapter needs to deliver it again later (kept in the outbox)."""
        payload: dict[str, Any] = {
            "text": self.text,
            "buttons": [{"label": button.label, "data": button.data} for button in self.buttons],
            "keyboard": self.keyboard.value,
            **self.extra,
        }
        if self.desk_ticket_id is not None:
            payload["desk_ticket_id"] = self.desk_ticket_id
        if self.thread_action is not None:
            payload["thread_action"] = self.thread_action.value
        if self.copy_of is not None:
            payload["copy_of"] = list(self.copy_of)
        if self.document is not None:
            payload["document"] = self.document
        return payload

    @staticmethod
    def from_payload(payload: dict[str, Any]) -> Outbound:
        copy_of = payload.get("copy_of")
        action = payload.get("thread_action")
        return Outbound(
            text=payload["text"],
            buttons=tuple(Button(b["label"], b["data"]) for b in payload.get("buttons", [])),
            keyboard=Keyboard(payload.get("keyboard", "none")),
            desk_ticket_id=payload.get("desk_ticket_id"),
            thread_action=ThreadAction(action) if action else None,
            copy_of=(str(copy_of[0]), str(copy_of[1])) if copy_of else None,
            document=payload.get("document"),
        )
