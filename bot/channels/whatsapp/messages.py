"""Outbound → WhatsApp Cloud API message bodies, within Meta's limits.

Choices become WhatsApp's interactive messages where they fit: up to 3 short labels as reply
buttons, up to 10 as a list, anything else as numbered text (a typed number or label counts as
the press, see bot/buttons.typed_choice). An interactive body holds at most 1,024 characters:
a longer text goes first as plain text, then a short prompt carries the choices. Plain text is
cut into parts of at most 4,096 characters. Lengths are counted in UTF-16 units, which is never
less than what Meta counts, so no body built here is ever refused for its length.

Pure functions, no I/O: the limits test runs every message the SOP can send through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.messages import Button, Outbound, TemplateCall
from bot.text_limits import split_text, utf16_length

TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # interactive body text
CAPTION_LIMIT = 1024
REPLY_BUTTONS = 3
BUTTON_TITLE = 20
LIST_ROWS = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
LIST_BUTTON = 20
ID_LIMIT = 200  # row ids (buttons allow 256)
TEXT_CHOICE = "t:"  # a choice without an action sends its label as text (Telegram's keyboard)


@dataclass(frozen=True)
class ChoiceTexts:
    """The office's words around choices (config texts choose_prompt, list_button,
    numbered_choice)."""

    prompt: str
    list_button: str
    numbered: str  # with {options}


def choice_id(button: Button) -> str:
    """What a pressed reply button or list row sends back."""
    if button.action is not None:
        return button.action.encode()
    return (TEXT_CHOICE + button.label)[:ID_LIMIT]


def bodies(outbound: Outbound, texts: ChoiceTexts) -> list[dict[str, Any]]:
    """The message bodies (without recipient) that deliver `outbound`, in order."""
    if outbound.template is not None:
        return [template_body(outbound.template)]
    buttons = list(outbound.buttons)
    if not buttons:
        return text_bodies(outbound.text)
    interactive = _interactive(buttons, texts)
    if interactive is None:
        options = "\n".join(f"{n}. {b.label}" for n, b in enumerate(buttons, 1))
        numbered = texts.numbered.replace("{options}", options)
        return text_bodies(f"{outbound.text}\n\n{numbered}" if outbound.text else numbered)
    if not outbound.text.strip():
        return [_with_body(interactive, texts.prompt)]
    if utf16_length(outbound.text) <= BODY_LIMIT:
        return [_with_body(interactive, outbound.text)]
    return [*text_bodies(outbound.text), _with_body(interactive, texts.prompt)]


def text_bodies(text: str) -> list[dict[str, Any]]:
    parts = split_text(text, TEXT_LIMIT) or [text or "-"]
    return [{"type": "text", "text": {"body": part, "preview_url": False}} for part in parts]


def template_body(call: TemplateCall) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    if call.parameters:
        components.append(
            {
                "type": "body",
                "parameters": [{"type": "text", "text": value} for value in call.parameters],
            }
        )
    if call.quick_reply is not None and call.quick_reply_action is not None:
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": call.quick_reply_action.encode()}],
            }
        )
    template: dict[str, Any] = {"name": call.name, "language": {"code": call.language}}
    if components:
        template["components"] = components
    return {"type": "template", "template": template}


def media_body(kind: str, media_id: str, name: str, caption: str | None) -> dict[str, Any]:
    """An uploaded image or document (`kind`), with its caption if it fits."""
    media: dict[str, Any] = {"id": media_id}
    if kind == "document":
        media["filename"] = name
    if caption:
        media["caption"] = caption
    return {"type": kind, kind: media}


def fits_caption(text: str) -> bool:
    return utf16_length(text) <= CAPTION_LIMIT


def _interactive(buttons: list[Button], texts: ChoiceTexts) -> dict[str, Any] | None:
    """Reply buttons or a list for these choices, or None when they fit neither."""
    labels = [b.label for b in buttons]
    distinct = len({label.casefold() for label in labels}) == len(labels)
    if (
        len(buttons) <= REPLY_BUTTONS
        and distinct
        and all(0 < utf16_length(label) <= BUTTON_TITLE for label in labels)
    ):
        return {
            "type": "button",
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": choice_id(b), "title": b.label}}
                    for b in buttons
                ]
            },
        }
    if (
        len(buttons) <= LIST_ROWS
        and distinct
        and all(0 < utf16_length(label) <= ROW_DESCRIPTION for label in labels)
        and 0 < utf16_length(texts.list_button) <= LIST_BUTTON
    ):
        rows = []
        for number, button in enumerate(buttons, 1):
            row: dict[str, Any] = {"id": choice_id(button), "title": button.label}
            if utf16_length(button.label) > ROW_TITLE:
                # The whole label as the description, under a short numbered title.
                row["title"] = _cut(f"{number}. {button.label}", ROW_TITLE)
                row["description"] = button.label
            rows.append(row)
        return {
            "type": "list",
            "action": {"button": texts.list_button, "sections": [{"rows": rows}]},
        }
    return None


def _with_body(interactive: dict[str, Any], text: str) -> dict[str, Any]:
    return {"type": "interactive", "interactive": {**interactive, "body": {"text": text}}}


def _cut(text: str, limit: int) -> str:
    if utf16_length(text) <= limit:
        return text
    while utf16_length(text) > limit - 1:
        text = text[:-1]
    return text.rstrip() + "…"
