"""The matcher in use, replaced whole on reload, so a turn never sees half a reload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.knowledge import KnowledgeError, Matcher

log = logging.getLogger(__name__)


@dataclass
class KnowledgeHolder:
    """A reload that finds problems keeps the last good knowledge base: an office editing the
    files must never take the bot down with a typo."""

    matcher: Matcher
    load: Callable[[], Matcher] | None = None

    async def reload(self) -> list[str]:
        """Load the files again; returns the problems (empty when the new version is in use)."""
        if self.load is None:
            return ["reload is not available here"]
        try:
            matcher = await asyncio.to_thread(self.load)
        except KnowledgeError as exc:
            log.error("knowledge base not reloaded, keeping the previous one:\n%s", exc)
            return exc.problems
        self.matcher = matcher
        log.info("knowledge base reloaded: %d entries", len(matcher.knowledge.entries))
        return []
