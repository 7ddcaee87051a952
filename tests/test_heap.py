"""The startup heap is frozen out of full collections, without leaking a reloaded knowledge base."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any, cast

import pytest

from bot import heap
from bot.knowledge import Matcher
from bot.knowledge_holder import KnowledgeHolder


class CyclicMatcher:
    """Stands in for a matcher whose index refers back to it, as real object graphs do."""

    def __init__(self) -> None:
        self.index: dict[str, Any] = {"owner": self}
        self.knowledge = type("Knowledge", (), {"entries": []})()


@pytest.fixture(autouse=True)
def unfrozen_afterwards() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_settle_moves_what_survives_startup_out_of_the_collectors_reach() -> None:
    kept = [object() for _ in range(1000)]
    heap.settle()
    assert gc.get_freeze_count() >= len(kept)
    tracked_before = len(gc.get_objects(generation=2))
    heap.settle()  # settling again does not lose the frozen set or grow the collected one
    assert gc.get_freeze_count() >= len(kept)
    assert len(gc.get_objects(generation=2)) <= tracked_before


async def test_a_reload_frees_the_previous_knowledge_base_even_when_it_was_frozen() -> None:
    holder = KnowledgeHolder(
        cast(Matcher, CyclicMatcher()), load=lambda: cast(Matcher, CyclicMatcher())
    )
    old = weakref.ref(holder.matcher)
    heap.settle()  # as at startup: the first knowledge base is frozen
    assert await holder.reload() == []
    gc.collect()
    assert old() is None, "the old knowledge base stayed in memory after the reload"
    assert holder.matcher is not None
