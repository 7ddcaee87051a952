"""Ranks knowledge entries for a question and decides: answer, clarify, or hand off to a CSO.

A wrong confident answer about treasury rules is the worst failure, so "answer" needs both a high
score and a clear lead over the runner-up; anything less asks the stakeholder or a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from bot.config import MatcherConfig
from bot.knowledge.model import KnowledgeBase
from bot.knowledge.normalise import Normaliser

FUZZY_WEIGHT = 0.7
KEYWORD_WEIGHT = 0.3


class Decision(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"


@dataclass(frozen=True)
class Candidate:
    id: str
    score: float


@dataclass(frozen=True)
class Match:
    question: str
    decision: Decision
    candidates: tuple[Candidate, ...]
    out_of_scope_id: str | None = None

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class _Phrasing:
    topic_id: str
    text: str


class Matcher:
    """Built once per knowledge base (a reload builds a new one), then shared read-only."""

    def __init__(self, knowledge: KnowledgeBase, thresholds: MatcherConfig) -> None:
        self.knowledge = knowledge
        self.thresholds = thresholds
        self.normalise = Normaliser(knowledge.abbreviations, knowledge.fillers)
        self._phrasings: list[_Phrasing] = []
        self._keywords: dict[str, tuple[str, ...]] = {}
        topics = [*knowledge.entries, *knowledge.out_of_scope]
        for topic in topics:
            for text in (topic.title, *topic.questions) if topic in knowledge.entries else topic.questions:
                normalised = self.normalise(text)
                if normalised:
                    self._phrasings.append(_Phrasing(topic.id, normalised))
            self._keywords[topic.id] = tuple(
                keyword for keyword in (self.normalise(k) for k in topic.keywords) if keyword
            )
        self._choices = [phrasing.text for phrasing in self._phrasings]
        self._out_of_scope = {topic.id for topic in knowledge.out_of_scope}

    def scores(self, question: str) -> dict[str, float]:
        """Score (0–100) of every topic, in-scope and out-of-scope alike."""
        normalised = self.normalise(question)
        if not normalised:
            return {}
        fuzzy: dict[str, float] = {}
        for _, score, index in process.extract(
            normalised, self._choices, scorer=fuzz.WRatio, limit=None, score_cutoff=1
        ):
            topic = self._phrasings[index].topic_id
            fuzzy[topic] = max(fuzzy.get(topic, 0.0), float(score))
        padded = f" {normalised} "
        results = {}
        for topic, keywords in self._keywords.items():
            keyword_hit = 100.0 if any(f" {keyword} " in padded for keyword in keywords) else 0.0
            combined = FUZZY_WEIGHT * fuzzy.get(topic, 0.0) + KEYWORD_WEIGHT * keyword_hit
            if combined > 0:
                results[topic] = round(combined, 2)
        return results

    def match(self, question: str) -> Match:
        ranked = sorted(self.scores(question).items(), key=lambda item: (-item[1], item[0]))
        in_scope = [Candidate(topic, score) for topic, score in ranked if topic not in self._out_of_scope]
        limit = self.thresholds.max_candidates
        if not ranked:
            return Match(question, Decision.HANDOFF, ())
        top_topic, top_score = ranked[0]
        if top_topic in self._out_of_scope and top_score >= self.thresholds.clarify_score:
            return Match(question, Decision.HANDOFF, tuple(in_scope[:limit]), top_topic)
        if not in_scope:
            return Match(question, Decision.HANDOFF, ())
        best = in_scope[0]
        runner_up = in_scope[1].score if len(in_scope) > 1 else 0.0
        if best.score >= self.thresholds.answer_score and best.score - runner_up >= self.thresholds.answer_margin:
            return Match(question, Decision.ANSWER, tuple(in_scope[:limit]))
        if best.score >= self.thresholds.clarify_score:
            options = tuple(c for c in in_scope[:limit] if c.score >= self.thresholds.clarify_score)
            return Match(question, Decision.CLARIFY, options)
        return Match(question, Decision.HANDOFF, tuple(in_scope[:limit]))
