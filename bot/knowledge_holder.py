"""The matcher in use, replaced whole on reload, so a turn never sees half a reload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot import heap
from bot.intents import IntentReader
from bot.knowledge import KnowledgeError, Matcher

log = logging.getLogger(__name__)


@dataclass
class KnowledgeHolder:
    """A reload that finds problems keeps the last good knowledge base: an office editing the
    files must never take the bot down with a typo."""

    matcher: Matcher
    load: Callable[[], Matcher] | None = None
    # Conversational intents (knowledge/_intents.yaml), read with the matcher's abbreviations.
    intents: IntentReader | None = None
    load_intents: Callable[[Matcher], IntentReader] | None = None

    def __post_init__(self) -> None:
        if self.intents is None and self.load_intents is not None:
            self.intents = self.load_intents(self.matcher)

    async def reload(self) -> list[str]:
        """Load the files again; returns the problems (empty when the new version is in use)."""
        if self.load is None:
            return ["reload is not available here"]
        try:
            matcher = await asyncio.to_thread(self.load)
            intents = self.load_intents(matcher) if self.load_intents else self.intents
        except KnowledgeError as exc:  # IntentsError included
            log.error("knowledge base not reloaded, keeping the previous one:\n%s", exc)
            return exc.problems
        self.matcher, self.intents = matcher, intents
        heap.settle()  # the old version's cycles are collected, the new one frozen
        log.info("knowledge base reloaded: %d entries", len(matcher.knowledge.entries))
        return []
