"""Turns chat-style Indonesian into comparable text: "min sp2d sy blm terbit 🙏" → "sp2d saya belum terbit"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

_NON_WORD = re.compile(r"[^0-9a-z]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")


class Normaliser:
    """Lower-cases, strips emoji and punctuation, undoes letter repeats, expands abbreviations
    rewrites everyday descriptions into official terms, and removes greeting/politeness filler.
    All vocabulary comes from knowledge/_language.yaml."""

    def __init__(
        self,
        abbreviations: Mapping[str, str],
        fillers: Iterable[str],
        phrases: Mapping[str, str] | None = None,
    ) -> None:
        self._abbreviations = {plain(key): plain(value) for key, value in abbreviations.items()}
        # Everyday descriptions of official terms ("kas kecil" → "uang persediaan"): matched as
        # whole words after abbreviations are expanded, longest first.
        self._phrases = {plain(key): plain(value) for key, value in (phrases or {}).items()}
        self._phrase_pattern = (
            re.compile(
                r"\b(?:"
                + "|".join(re.escape(key) for key in sorted(self._phrases, key=len, reverse=True))
                + r")\b"
            )
            if self._phrases
            else None
        )
        filler_phrases = sorted(
            {plain(filler) for filler in fillers if plain(filler)}, key=len, reverse=True
        )
        self._fillers = (
            re.compile(r"\b(?:" + "|".join(map(re.escape, filler_phrases)) + r")\b")
            if filler_phrases
            else None
        )

    def __call__(self, text: str) -> str:
        words = [self._abbreviations.get(word, word) for word in plain(text).split()]
        expanded = " ".join(word for word in words if word)
        if self._phrase_pattern is not None:
            expanded = self._phrase_pattern.sub(lambda m: self._phrases[m.group(0)], expanded)
        if self._fillers is not None:
            expanded = self._fillers.sub(" ", expanded)
        return " ".join(expanded.split())


def plain(text: str) -> str:
    """Lower case, accents folded, letter repeats undone, words only: the words everything
    else (abbreviations, phrases, fillers, `kb check`) is compared on."""
    text = text.lower()
    if not text.isascii():
        # Sundanese and Javanese spellings ("pagawé", "Désémber", "aksés") would otherwise lose
        # the letter and split the word ("pagaw", "d s mber").
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_REPEATS.sub(r"\1", _NON_WORD.sub(" ", text)).split())
