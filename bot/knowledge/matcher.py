"""Ranks knowledge entries for a question and decides: answer, clarify, or hand off to a CSO.

A topic's score blends two views of the question:
- term coverage: how much of the question's *meaningful* vocabulary the topic knows, each term
  weighted by its rarity across topics (IDF), so "retur", "TUP" or "NTPN" decide and "bagaimana"
  barely counts; words no topic knows weigh as much as the rarest, so a question about something
  the knowledge base never covers cannot reach a confident score;
- phrasing similarity: the best rapidfuzz token-sort ratio against the topic's example questions.
A wrong confident answer about treasury rules is the worst failure, so "answer" needs both a high
score and a clear lead over the runner-up; anything less asks the stakeholder or a human.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from bot.config import MatcherConfig
from bot.knowledge.model import KnowledgeBase
from bot.knowledge.normalise import Normaliser

COVERAGE_WEIGHT = 0.6
PHRASING_WEIGHT = 0.4
TYPO_SIMILARITY = 85  # a question word this close to a known term counts as that term
MIN_TYPO_LENGTH = 5  # short words ("up", "spm") must match exactly


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


class Matcher:
    """Built once per knowledge base (a reload builds a new one), then shared read-only."""

    def __init__(self, knowledge: KnowledgeBase, thresholds: MatcherConfig) -> None:
        self.knowledge = knowledge
        self.thresholds = thresholds
        self.normalise = Normaliser(knowledge.abbreviations, knowledge.fillers)
        self._out_of_scope = {topic.id for topic in knowledge.out_of_scope}
        self._topic_ids: list[str] = []
        self._vocabulary: list[frozenset[str]] = []
        self._phrasings: list[str] = []
        self._phrasing_topic: list[int] = []
        topics = [*knowledge.entries, *knowledge.out_of_scope]
        for index, topic in enumerate(topics):
            texts = [*topic.questions, *topic.keywords]
            if topic.id not in self._out_of_scope:
                texts.append(topic.title)  # type: ignore[union-attr]
            normalised = [self.normalise(text) for text in texts]
            self._topic_ids.append(topic.id)
            self._vocabulary.append(frozenset(word for text in normalised for word in text.split()))
            for text in (self.normalise(question) for question in topic.questions):
                if text:
                    self._phrasings.append(text)
                    self._phrasing_topic.append(index)
        document_frequency = Counter(word for vocabulary in self._vocabulary for word in vocabulary)
        count = len(topics)
        self._idf = {word: math.log(1 + count / df) for word, df in document_frequency.items()}
        self._unknown_idf = math.log(1 + count)
        self._known_terms = list(self._idf)

    def _term(self, word: str) -> str | None:
        """The known term a question word stands for (exact, or a close typo of a long word)."""
        if word in self._idf:
            return word
        if len(word) < MIN_TYPO_LENGTH:
            return None
        found = process.extractOne(word, self._known_terms, scorer=fuzz.ratio, score_cutoff=TYPO_SIMILARITY)
        return found[0] if found is not None else None

    def scores(self, question: str) -> dict[str, float]:
        """Score (0–100) of every topic with any evidence, in-scope and out-of-scope alike."""
        normalised = self.normalise(question)
        words = list(dict.fromkeys(normalised.split()))
        if not words:
            return {}
        terms = [(word, self._term(word)) for word in words]
        weights = [self._idf[term] if term else self._unknown_idf for _, term in terms]
        total = sum(weights)
        coverage = [0.0] * len(self._topic_ids)
        for (_, term), weight in zip(terms, weights, strict=True):
            if term is None:
                continue
            for index, vocabulary in enumerate(self._vocabulary):
                if term in vocabulary:
                    coverage[index] += weight / total
        phrasing = [0.0] * len(self._topic_ids)
        for _, score, position in process.extract(
            normalised, self._phrasings, scorer=fuzz.token_sort_ratio, limit=None, score_cutoff=1
        ):
            topic = self._phrasing_topic[position]
            phrasing[topic] = max(phrasing[topic], score / 100)
        results = {}
        for index, topic_id in enumerate(self._topic_ids):
            if coverage[index] == 0:
                continue
            score = 100 * (COVERAGE_WEIGHT * coverage[index] + PHRASING_WEIGHT * phrasing[index])
            results[topic_id] = round(score, 2)
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
