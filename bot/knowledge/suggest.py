"""Learning from the CSO desk: questions CSOs answered become candidate knowledge, never live
knowledge.

A ticket the bot could not answer and a CSO resolved says one of two things: the knowledge base
had the answer under a topic the matcher missed (the CSO sent it with /jawab), or it has no
answer at all (the CSO wrote one). The first gives candidate example questions for that topic;
the second, when the same question comes back, a candidate new entry. Both are printed as YAML
for a person to review and paste: the knowledge base changes only through that review.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import numpy as np
import yaml
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.knowledge.matcher import Decision, Matcher, char_wb_ngrams
from bot.knowledge.model import KnowledgeBase
from bot.labels import CSO_KB_ANSWER, reason_pattern
from bot.queries.erasure import ERASED
from bot.store.models import Ticket, TicketEvent, TicketStatus

_CSO_ANSWER = reason_pattern(CSO_KB_ANSWER)  # the event reason of /jawab <topic>
# Account, NIP, SPM and phone numbers are personal or case data, never example text.
_LONG_NUMBER = re.compile(r"\d{5,}")
CLUSTER_SIMILARITY = 0.45  # cosine of character n-grams: "the same question, worded anew"


@dataclass(frozen=True)
class Resolution:
    """A question handed to the desk and resolved there; `topic` is the entry the CSO answered
    with, None for an answer the CSO wrote."""

    question: str
    topic: str | None


@dataclass
class Suggestions:
    examples: dict[str, list[str]] = field(default_factory=dict)
    new_topics: list[list[str]] = field(default_factory=list)
    considered: int = 0

    @property
    def count(self) -> int:
        return sum(len(items) for items in self.examples.values()) + len(self.new_topics)


def mask(question: str) -> str:
    return " ".join(_LONG_NUMBER.sub("0000", question).split())


async def desk_resolutions(session: AsyncSession, since: datetime | None) -> list[Resolution]:
    """Resolved tickets that went through the desk, with what the CSO answered them with.
    Tickets closed for want of a confirmation (nobody said the answer helped), and questions
    erased at the stakeholder's request, are left out."""
    query = select(Ticket).where(Ticket.status == TicketStatus.RESOLVED)
    if since is not None:
        query = query.where(col(Ticket.resolved_at) >= since)
    tickets = {ticket.id: ticket for ticket in (await session.exec(query)).all()}
    if not tickets:
        return []
    history: dict[int, list[TicketEvent]] = {}
    events = await session.exec(
        select(TicketEvent)
        .where(col(TicketEvent.ticket_id).in_(list(tickets)))
        .order_by(col(TicketEvent.id))
    )
    for event in events.all():
        history.setdefault(event.ticket_id, []).append(event)
    found = []
    for ticket_id, ticket in tickets.items():
        trail = history.get(ticket_id or 0, [])
        if ticket.question.strip() in ("", ERASED) or not any(
            e.to_status == TicketStatus.QUEUED for e in trail
        ):
            continue  # answered by the bot alone: nothing to learn
        closing = next((e for e in reversed(trail) if e.to_status == TicketStatus.RESOLVED), None)
        if closing is None:
            continue
        by_cso = [
            answered["topic"]
            for e in trail
            if e.actor.startswith("cso:")
            and e.to_status == TicketStatus.ANSWERED
            and (answered := _CSO_ANSWER.fullmatch(e.reason)) is not None
        ]
        confirmed = closing.actor == "stakeholder" or closing.actor.startswith("cso:")
        if by_cso and confirmed:
            found.append(Resolution(ticket.question, by_cso[-1]))
        elif not by_cso and closing.actor.startswith("cso:"):
            found.append(Resolution(ticket.question, None))
    return found


def suggest(
    matcher: Matcher, resolutions: Iterable[Resolution], min_cluster: int = 2
) -> Suggestions:
    """Candidate examples for the questions the matcher did not answer with the CSO's topic,
    and groups of unanswered questions asked at least `min_cluster` times."""
    result = Suggestions()
    known = {
        matcher.normalise(question)
        for entry in matcher.knowledge.entries
        for question in entry.questions
    }
    unanswered: list[str] = []
    for resolution in resolutions:
        result.considered += 1
        question = mask(resolution.question)
        if resolution.topic is None:
            unanswered.append(question)
            continue
        if matcher.knowledge.entry(resolution.topic) is None:
            continue  # the topic was renamed or removed since
        normalised = matcher.normalise(question)
        if not normalised or normalised in known:
            continue
        match = matcher.match(question)
        best = match.best.id if match.best else None
        if match.decision is Decision.ANSWER and best == resolution.topic:
            continue  # the matcher already answers it
        known.add(normalised)
        result.examples.setdefault(resolution.topic, []).append(question)
    result.new_topics = [
        group for group in _clusters(unanswered, matcher) if len(group) >= min_cluster
    ]
    return result


def _clusters(questions: list[str], matcher: Matcher) -> list[list[str]]:
    """Greedy single-link groups of questions that say the same thing, largest first."""
    texts = [matcher.normalise(q) or q.lower() for q in questions]
    if len(texts) < 2:
        return [[q] for q in questions]
    from sklearn.feature_extraction.text import TfidfVectorizer  # only when suggesting

    vectors = TfidfVectorizer(analyzer=char_wb_ngrams, sublinear_tf=True)  # the matcher's n-grams
    matrix = vectors.fit_transform(texts)
    similarity = (matrix @ matrix.T).toarray()
    group = list(range(len(texts)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(similarity, 1) >= CLUSTER_SIMILARITY), strict=True):
        group[root(int(i))] = root(int(j))
    members: dict[int, list[str]] = {}
    for index, question in enumerate(questions):
        members.setdefault(root(index), []).append(question)
    return sorted(members.values(), key=lambda g: (-len(g), g[0]))


def apply_examples(knowledge: KnowledgeBase, examples: dict[str, list[str]]) -> KnowledgeBase:
    """The knowledge base as it would be once the reviewed examples are pasted in."""
    entries = tuple(
        replace(entry, questions=entry.questions + tuple(examples.get(entry.id, ())))
        for entry in knowledge.entries
    )
    return replace(knowledge, entries=entries)


def render_yaml(suggestions: Suggestions, knowledge: KnowledgeBase, today: date) -> str:
    """YAML to review and paste: examples under each entry's `questions:`, new entries whole."""
    header = [
        f"# csobot kb suggest – from {suggestions.considered} tickets resolved at the CSO desk.",
        "# Nothing here is live. Review every line (remove names and case details), then paste",
        "# examples into the entry's `questions:` and complete new entries before adding them.",
        "# Long numbers (accounts, NIP, SPM numbers) are masked as 0000.",
    ]
    if not suggestions.count:
        return "\n".join([*header, "# No suggestions: the matcher already answers them."]) + "\n"
    parts = ["\n".join(header)]
    if suggestions.examples:
        lines = ["examples:"]
        for topic in sorted(suggestions.examples):
            entry = knowledge.entry(topic)
            assert entry is not None
            lines.append(f"  {topic}:  # {entry.title} – {entry.source}")
            lines.extend(f"    - {_scalar(question)}" for question in suggestions.examples[topic])
        parts.append("\n".join(lines))
    if suggestions.new_topics:
        drafts = [
            {
                "id": f"topik-baru-{number}",
                "title": "TODO judul topik",
                "section": "TODO",
                "questions": group,
                "keywords": [],
                "answer": "TODO jawaban langsung, paling banyak 300 karakter",
                "details": "TODO langkah, syarat dan dokumen",
                "sources": [{"citation": "TODO peraturan", "checked_at": "TODO"}],
                "documents": [],
                "verified": False,
                "verify": "TODO apa yang harus diperiksa",
                "reviewed": today.isoformat(),
                "reviewed_by": "TODO",
            }
            for number, group in enumerate(suggestions.new_topics, 1)
        ]
        text = yaml.safe_dump(
            {"new_entries": drafts}, allow_unicode=True, sort_keys=False, width=100
        )
        counts = ", ".join(str(len(group)) for group in suggestions.new_topics)
        parts.append(f"# unanswered questions asked more than once (times: {counts})\n{text}")
    return "\n\n".join(parts).rstrip("\n") + "\n"


def _scalar(text: str) -> str:
    return yaml.safe_dump(text, allow_unicode=True, width=1000).removesuffix("\n...\n").strip()
