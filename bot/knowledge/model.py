"""What a loaded knowledge base is: immutable, so a reload swaps it whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

# In a ticket event's reason when an answer came from an entry marked verified: false ("provisional
# answer from unverified entry …", "unverified entry … sent as an answer"): reports count these.
UNVERIFIED_MARK = "unverified entry "


class Delivery(StrEnum):
    """How the bot may use an entry's answer: only a checked answer is presented as settled."""

    ANSWER = "answer"  # send it and ask whether it solved the question
    PROVISIONAL = "provisional"  # send it marked provisional; a CSO confirms or corrects it
    CSO_ONLY = "cso_only"  # never sent by the bot; the CSO sees it as a suggestion
    HANDOFF = "handoff"  # general guidance that cannot state the key fact: send, then hand off


@dataclass(frozen=True)
class Source:
    """Where a fact comes from: the regulation (number, year, article) and where it was read."""

    citation: str
    title: str | None = None
    article: str | None = None
    checked_at: str | None = None

    def render(self) -> str:
        text = self.citation
        if self.article:
            text += f" {self.article}"
        if self.title:
            text += f" tentang {self.title}"
        return text


@dataclass(frozen=True)
class Entry:
    """One answerable topic; `id` is stable forever (tickets and reports refer to it).

    `answer` is the direct answer a phone shows first; `details` (steps, documents, conditions)
    follow it or wait behind a button, so the key sentence is never the last one.
    """

    id: str
    title: str
    area: str
    section: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    answer: str
    details: str | None
    sources: tuple[Source, ...]
    documents: tuple[str, ...]
    verified: bool
    reviewed: date
    reviewed_by: str
    source: str
    verify: str | None = None
    delivery: Delivery | None = None

    def render_answer(self, office_values: dict[str, Any]) -> str:
        return self.answer.format(**office_values).strip()

    def render_details(self, office_values: dict[str, Any]) -> str:
        return (self.details or "").format(**office_values).strip()

    def render_legal_basis(self) -> str:
        """Each regulation (and article) once, though it may be listed once per place it was
        checked."""
        shown: dict[tuple[str, str | None], str] = {}
        for basis in self.sources:
            shown.setdefault((basis.citation, basis.article), basis.render())
        return "; ".join(shown.values())


@dataclass(frozen=True)
class OutOfScope:
    """A kind of question the KPPN does not handle, with the polite pointer elsewhere."""

    id: str
    title: str
    reply: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    source: str

    def render_reply(self, office_values: dict[str, Any]) -> str:
        return self.reply.format(**office_values).strip()


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    out_of_scope: tuple[OutOfScope, ...] = ()
    abbreviations: dict[str, str] = field(default_factory=dict)  # regional words included
    regional: dict[str, str] = field(default_factory=dict)
    phrases: dict[str, str] = field(default_factory=dict)
    fillers: tuple[str, ...] = ()

    def entry(self, entry_id: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.id == entry_id), None)

    def out_of_scope_topic(self, topic_id: str) -> OutOfScope | None:
        return next((topic for topic in self.out_of_scope if topic.id == topic_id), None)
