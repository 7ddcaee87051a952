"""Ranks knowledge entries for a question and decides: answer, clarify, or hand off to a CSO.

How a topic is scored (chosen by measurement on the labelled question sets; `make bench`):
- every example question, keyword and title of a topic is a TF-IDF vector of character n-grams
  (3–5 characters within words). Character n-grams survive what chat does to words: typos,
  affixes (ditolak / tolak / penolakan), run-together or split words, and they weigh rare,
  discriminative fragments ("retur", "ntpn", "tup") far above common ones ("bagaimana");
- the question is compared with each example (best match) and with the topic's centroid (the
  mean of its examples), and the two cosines are blended: the best example catches a close
  paraphrase, the centroid rewards questions that share vocabulary with many of the examples.
Word-level TF-IDF, Sastrawi stemming and an IDF-weighted term coverage were measured too and did
not improve on this (README, "Matcher measurements").

Similarity does not learn which fragments tell confusable topics apart ("dana belum masuk" versus
"sp2d belum terbit"), so when the knowledge base has up to RERANK_MAX_TOPICS topics a linear SVM is
trained on the same examples at load time (about 0.2 s for the shipped knowledge base) and ranks
the topics; its decision values, mapped linearly onto 0–100, become the topics' scores. The SVM
sees whole words and word pairs beside the character n-grams (each part L2-normalised, equal
weight): "dana desa" and "desa" + "dana" in other order weigh differently, which fragments cannot
tell. That lifted the second fresh tuning set from 85.6 to 91.1 % strict at the same wrong-answer
limit (README, "Matcher measurements"). Larger knowledge bases, where
per-topic weights would cost too much memory and training time, rank by similarity alone.

A wrong confident answer about treasury rules is the worst failure, so "answer" needs a high
confidence, a clear lead over the runner-up, and enough similarity to the topic's examples that the
question is about something the knowledge base knows; anything less offers topics, or hands over
to a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

import numpy as np
from scipy.sparse import csr_matrix, hstack

from bot.config import MatcherConfig
from bot.knowledge.model import Entry, KnowledgeBase, OutOfScope
from bot.knowledge.normalise import Normaliser

BEST_EXAMPLE_WEIGHT = 0.6  # the rest goes to the topic centroid
NGRAM_RANGE = (3, 5)
# N-grams found in more than this share of the examples carry almost no IDF weight but make up
# most of the work per question; ignoring them left accuracy unchanged and cut p99 by 40 %
# (`make bench`). Small knowledge bases keep them all (pruning there could drop key terms).
MAX_DOCUMENT_FREQUENCY = 0.2
PRUNE_FROM_EXAMPLES = 200
RERANK_MAX_TOPICS = 300
RERANK_C = 1.0
# SVM decision values (about -1.5…1.5) map linearly onto 0–100, 50 being the SVM's own boundary,
# so that a margin in config.yaml means the same lead wherever it is measured.
DECISION_SCALE = 100 / 3


def word_ngrams(text: str) -> list[str]:
    """Words and adjacent word pairs of normalised text (the re-ranker's second vocabulary)."""
    words = text.split()
    return [
        *words,
        *(f"{first} {second}" for first, second in pairwise(words)),
    ]


def char_wb_ngrams(text: str) -> list[str]:
    """Character n-grams within words, each word padded with a space (scikit-learn's `char_wb`).

    Ours rather than the vectorizer's analyzer so that a cached matcher answers questions without
    importing scikit-learn (about a second at the start of `csobot kb match`)."""
    low, high = NGRAM_RANGE
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for size in range(low, high + 1):
            if length <= size:
                grams.append(padded)  # a short word counts once, whole
                break
            grams.extend(padded[start : start + size] for start in range(length - size + 1))
    return grams


class Decision(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"


@dataclass(frozen=True)
class Candidate:
    id: str
    score: float


@dataclass(frozen=True)
class RankedTopic:
    id: str
    score: float  # what decisions compare: the re-ranker's confidence, or the similarity
    similarity: float  # how close the question is to this topic's examples, 0–100


@dataclass(frozen=True)
class Ranking:
    topics: tuple[RankedTopic, ...]


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
    """Built once per knowledge base (a reload builds a new one), then shared read-only.

    scikit-learn fits the vocabulary and IDF weights; questions are then scored through an
    inverted index (n-gram → examples), so a question touches only the rows that share one of its
    n-grams. The question's own vector is built here rather than by `TfidfVectorizer.transform`,
    whose per-call validation alone costs more than the whole scoring (`make bench`).
    """

    def __init__(self, knowledge: KnowledgeBase, thresholds: MatcherConfig) -> None:
        # Building needs scikit-learn; answering from a cached matcher does not.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize
        from sklearn.svm import LinearSVC

        self.knowledge = knowledge
        self.thresholds = thresholds
        self.normalise = Normaliser(knowledge.abbreviations, knowledge.fillers, knowledge.phrases)
        self._out_of_scope = {topic.id for topic in knowledge.out_of_scope}
        topics: list[Entry | OutOfScope] = [*knowledge.entries, *knowledge.out_of_scope]
        self._topic_ids = [topic.id for topic in topics]
        examples: list[str] = []
        starts: list[int] = []
        for topic in topics:
            texts = [*topic.questions, *topic.keywords]
            if topic.id not in self._out_of_scope:
                texts.append(topic.title)
            normalised = [text for text in (self.normalise(t) for t in texts) if text]
            starts.append(len(examples))
            examples.extend(normalised or [topic.id.replace("-", " ")])
        self._starts = np.array(starts)
        vectorizer = TfidfVectorizer(
            analyzer=char_wb_ngrams,
            sublinear_tf=True,
            dtype=np.float32,
            max_df=MAX_DOCUMENT_FREQUENCY if len(examples) >= PRUNE_FROM_EXAMPLES else 1.0,
        )
        matrix = vectorizer.fit_transform(examples)
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._idf = vectorizer.idf_.astype(np.float32)
        # Rows are grouped by topic; the centroid of a group is the mean of its rows.
        sizes = np.diff(np.append(self._starts, len(examples)))
        owner = np.repeat(np.arange(len(topics)), sizes)
        membership = csr_matrix(
            (1.0 / sizes[owner], (owner, np.arange(len(examples)))),
            shape=(len(topics), len(examples)),
        )
        centroids = normalize(membership @ matrix).astype(np.float32)
        self._example_index: csr_matrix = matrix.T.tocsr()  # n-gram → examples
        self._centroid_index: csr_matrix = centroids.T.tocsr()  # n-gram → topics
        self._weights: np.ndarray | None = None  # n-gram → per-topic SVM weight
        self._word_weights: np.ndarray | None = None  # word or word pair → per-topic SVM weight
        self._intercepts: np.ndarray | None = None
        self._word_vocabulary: dict[str, int] = {}
        self._word_idf = np.empty(0, dtype=np.float32)
        if 3 <= len(topics) <= RERANK_MAX_TOPICS:
            words = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, dtype=np.float32)
            word_matrix = words.fit_transform(examples)
            self._word_vocabulary = words.vocabulary_
            self._word_idf = words.idf_.astype(np.float32)
            model = LinearSVC(C=RERANK_C).fit(hstack([matrix, word_matrix]).tocsr(), owner)
            coefficients = model.coef_.T
            self._weights = np.ascontiguousarray(coefficients[: matrix.shape[1]], np.float32)
            self._word_weights = np.ascontiguousarray(coefficients[matrix.shape[1] :], np.float32)
            self._intercepts = model.intercept_.astype(np.float32)

    @property
    def reranks(self) -> bool:
        return self._weights is not None

    def _vector(self, normalised: str) -> tuple[np.ndarray, np.ndarray]:
        """The question's character n-gram TF-IDF vector as (columns, weights)."""
        return _tfidf(char_wb_ngrams(normalised), self._vocabulary, self._idf)

    def _similarity(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        per_example = self._example_index[columns].T @ weights
        best_example = np.maximum.reduceat(per_example, self._starts)
        centroid = self._centroid_index[columns].T @ weights
        return 100 * (BEST_EXAMPLE_WEIGHT * best_example + (1 - BEST_EXAMPLE_WEIGHT) * centroid)

    def _confidence(self, columns: np.ndarray, weights: np.ndarray, normalised: str) -> np.ndarray:
        assert self._weights is not None and self._word_weights is not None
        assert self._intercepts is not None
        decision = weights @ self._weights[columns] + self._intercepts
        word_columns, word_weights = _tfidf(
            word_ngrams(normalised), self._word_vocabulary, self._word_idf
        )
        if len(word_columns):
            decision += word_weights @ self._word_weights[word_columns]
        return np.clip(50 + DECISION_SCALE * decision, 0, 100)

    def rank(self, question: str, limit: int = 5) -> Ranking:
        """The `limit` best topics (in-scope and out-of-scope alike), best first."""
        normalised = self.normalise(question)
        columns, weights = self._vector(normalised) if normalised else (np.empty(0), np.empty(0))
        if not len(columns):
            return Ranking(())
        similarity = self._similarity(columns, weights)
        score = self._confidence(columns, weights, normalised) if self.reranks else similarity
        limit = min(limit, len(score))
        top = np.argpartition(-score, limit - 1)[:limit]
        ranked = sorted(
            (
                RankedTopic(
                    self._topic_ids[i], round(float(score[i]), 2), round(float(similarity[i]), 2)
                )
                for i in top
                if similarity[i] > 0
            ),
            key=lambda topic: (-topic.score, topic.id),
        )
        return Ranking(tuple(ranked))

    def ranked(self, question: str, limit: int = 5) -> list[tuple[str, float]]:
        """(topic id, score) of the `limit` best topics, best first."""
        return [(topic.id, topic.score) for topic in self.rank(question, limit).topics]

    def match(self, question: str) -> Match:
        return self.decide(question, self.rank(question, self.candidates_needed))

    def sure_topic(self, question: str) -> str | None:
        """The topic the matcher is sure `question` is about, by the stricter of the answer and
        new-topic bars: what may turn a message sent while a CSO has the ticket into a new question."""
        match = self.match(question)
        if match.decision is not Decision.ANSWER or match.best is None:
            return None
        bar = self.thresholds.new_topic_score
        return match.best.id if bar is None or match.best.score >= bar else None

    @property
    def candidates_needed(self) -> int:
        """How many ranked topics `decide` may look at (enough to see past out-of-scope ones)."""
        return self.thresholds.max_candidates + len(self._out_of_scope) + 1

    def decide(
        self, question: str, ranking: Ranking, thresholds: MatcherConfig | None = None
    ) -> Match:
        """Turn a ranking into a decision; separate from ranking so thresholds can be calibrated."""
        settings = thresholds or self.thresholds
        limit = settings.max_candidates
        topics = ranking.topics
        in_scope = [Candidate(t.id, t.score) for t in topics if t.id not in self._out_of_scope]
        if not topics:
            return Match(question, Decision.HANDOFF, ())
        top = topics[0]
        known = top.similarity >= settings.min_similarity
        if top.id in self._out_of_scope:
            if known and top.score >= settings.clarify_score:
                return Match(question, Decision.HANDOFF, tuple(in_scope[:limit]), top.id)
        elif known:
            runner_up = topics[1].score if len(topics) > 1 else 0.0
            if (
                top.score >= settings.answer_score
                and top.score - runner_up >= settings.answer_margin
            ):
                return Match(question, Decision.ANSWER, tuple(in_scope[:limit]))
            if top.score >= settings.clarify_score:
                options = [
                    in_scope[0],
                    *(c for c in in_scope[1:limit] if c.score >= settings.option_score),
                ]
                return Match(question, Decision.CLARIFY, tuple(options))
        offer = settings.offer_score
        if offer is not None and top.id not in self._out_of_scope and top.score >= offer:
            # Unsure, but the right topic is often among the best guesses already: offer them
            # (the stakeholder can still choose a CSO) rather than hand off without a word.
            return Match(question, Decision.CLARIFY, tuple(in_scope[:limit]))
        return Match(question, Decision.HANDOFF, tuple(in_scope[:limit]))


def _tfidf(
    grams: list[str], vocabulary: dict[str, int], idf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A question's TF-IDF vector (sublinear tf, L2-normalised, as scikit-learn builds the
    examples') as (columns, weights); unknown grams are dropped."""
    counts: dict[int, int] = {}
    for gram in grams:
        column = vocabulary.get(gram)
        if column is not None:
            counts[column] = counts.get(column, 0) + 1
    if not counts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
    weights = (
        1 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    ) * idf[columns]
    return columns, weights / np.linalg.norm(weights)
