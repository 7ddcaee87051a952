"""Splitting long texts into parts a messaging platform accepts.

Telegram refuses a message text longer than 4,096 characters and a caption longer than 1,024
(HTTP 400 "message is too long" / "message caption is too long"). A refusal is permanent, so
the outbox would mark such a message failed and the stakeholder or CSO would never see it. Long
texts do occur: a desk card quoting a long question, a long CSO reply with its prefix, `/status`
or `/antrian` with many tickets. The channel therefore sends them as several messages.

Telegram counts length in UTF-16 code units, not in Python characters: an emoji outside the
Basic Multilingual Plane (😀, 🎫, 👤…) is one `str` character but two units. `limit` is
therefore applied to the UTF-16 length (`utf16_length`), so texts full of emoji never exceed it.
"""

from __future__ import annotations

TELEGRAM_TEXT_LIMIT = 4096  # sendMessage text, in UTF-16 code units
TELEGRAM_CAPTION_LIMIT = 1024  # sendDocument/sendPhoto/copyMessage caption, in UTF-16 code units

# Preferred cut points, best first: between paragraphs, between lines, between words.
SEPARATORS = ("\n\n", "\n", " ")


def utf16_length(text: str) -> int:
    """The length Telegram measures: UTF-16 code units (a lone surrogate counts as one)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 code units each, cut where it reads best.

    A text that fits is returned unchanged as the only part (an empty text gives no part).
    Otherwise it is cut between paragraphs ("\\n\\n") where possible; a paragraph too long on its
    own between its lines ("\\n"); a line too long between its words (" "); and only a single
    word longer than `limit` is cut in the middle (between code points, so a surrogate pair is
    never broken, though a cluster such as a flag or a ZWJ emoji sequence may be). Neighbouring
    pieces are packed into one part while they fit.

    What is dropped: the whitespace at each cut. Every part is stripped of leading and trailing
    whitespace (Telegram trims a message the same way), so the separator cut there, and any
    whitespace next to it, is not in any part; a part that would be only whitespace is left
    out. Nothing else changes: the parts are substrings of `text`, in order, and `text` is the
    parts with only whitespace before, between and after them (nothing between two parts of a
    hard-cut word). For a text without extra whitespace around its cuts, joining the parts with
    the separators that were cut reproduces it exactly.
    """
    if limit < 2:
        raise ValueError(f"limit must allow a surrogate pair (at least 2), not {limit}")
    if utf16_length(text) <= limit:
        return [text] if text else []
    return [part.strip() for part in _split(text, limit, 0) if part.strip()]


def _split(text: str, limit: int, level: int) -> list[str]:
    """Greedy packing of `text`'s pieces at separator `level`; deeper levels for oversize pieces."""
    if utf16_length(text) <= limit:
        return [text]
    if level == len(SEPARATORS):
        return _hard_cut(text, limit)
    separator = SEPARATORS[level]
    separator_length = utf16_length(separator)
    parts: list[str] = []
    current: list[str] = []
    current_length = 0
    for piece in text.split(separator):
        length = utf16_length(piece)
        if length > limit:  # too long even alone: cut it at the next, finer separator
            if current:
                parts.append(separator.join(current))
                current, current_length = [], 0
            parts.extend(_split(piece, limit, level + 1))
        elif current and current_length + separator_length + length <= limit:
            current.append(piece)
            current_length += separator_length + length
        else:
            if current:
                parts.append(separator.join(current))
            current, current_length = [piece], length
    if current:
        parts.append(separator.join(current))
    return parts


def _hard_cut(word: str, limit: int) -> list[str]:
    """A word without separators, cut between code points into parts of at most `limit` units."""
    parts: list[str] = []
    start = 0
    length = 0
    for index, character in enumerate(word):
        units = 2 if ord(character) > 0xFFFF else 1
        if length + units > limit:
            parts.append(word[start:index])
            start, length = index, 0
        length += units
    parts.append(word[start:])
    return parts


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis (an excerpt for staff)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
