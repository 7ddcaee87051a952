"""Measures a matcher on labelled questions: the figures `csobot kb eval` and `make bench` print.

Definitions (issue "Knowledge base of regulations…"):
- strict accuracy: decision "answer" with the right id, over in-scope questions;
- top-3 accuracy: the right id among the candidates of an "answer" or "clarify", over in-scope;
- wrong-answer rate: "answer" with a wrong id, or any "answer" to an out-of-scope question,
  over all questions;
- out-of-scope rejection: "handoff" for questions labelled "none", over those questions.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
from rapidfuzz import fuzz, process

from bot.config import MatcherConfig
from bot.knowledge.matcher import Candidate, Decision, Match, Matcher
from bot.knowledge.model import KnowledgeBase

NONE = "none"


@dataclass(frozen=True)
class Labelled:
    question: str
    label: str


@dataclass
class Report:
    total: int = 0
    in_scope: int = 0
    out_of_scope: int = 0
    strict: int = 0
    top3: int = 0
    wrong: int = 0
    rejected: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)

    def rate(self, part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else 0.0

    @property
    def strict_accuracy(self) -> float:
        return self.rate(self.strict, self.in_scope)

    @property
    def top3_accuracy(self) -> float:
        return self.rate(self.top3, self.in_scope)

    @property
    def wrong_answer_rate(self) -> float:
        return self.rate(self.wrong, self.total)

    @property
    def rejection_rate(self) -> float:
        return self.rate(self.rejected, self.out_of_scope)

    def lines(self, worst: int = 10) -> list[str]:
        lines = [
            f"questions: {self.total} ({self.in_scope} in scope, {self.out_of_scope} out of scope)",
            f"strict accuracy:        {self.strict_accuracy:5.1f} %",
            f"top-3 accuracy:         {self.top3_accuracy:5.1f} %",
            f"wrong-answer rate:      {self.wrong_answer_rate:5.1f} %",
            f"out-of-scope rejection: {self.rejection_rate:5.1f} %",
            "decisions: " + ", ".join(f"{name} {self.decisions[name]}" for name in Decision),
        ]
        if self.confusions:
            lines.append("worst-confused topics (expected → ranked first: count):")
            for (expected, got), count in self.confusions.most_common(worst):
                lines.append(f"  {expected} → {got}: {count}")
        return lines


def read_labelled(path: Path) -> list[Labelled]:
    """Lines `{"q": …, "label": <id or "none">}`; raises ValueError naming the bad line."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            items.append(Labelled(str(data["q"]), str(data["label"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f'{path}:{number}: expected {{"q": …, "label": …}} ({exc})') from exc
    return items


def evaluate(match: Callable[[str], Match], items: Iterable[Labelled]) -> Report:
    report = Report()
    for item in items:
        result = match(item.question)
        report.total += 1
        report.decisions[result.decision.value] += 1
        ids = [candidate.id for candidate in result.candidates]
        best = ids[0] if ids else None
        answered = result.decision is Decision.ANSWER
        if item.label == NONE:
            report.out_of_scope += 1
            report.rejected += result.decision is Decision.HANDOFF
            report.wrong += answered
            continue
        report.in_scope += 1
        report.strict += answered and best == item.label
        report.wrong += answered and best != item.label
        report.top3 += result.decision is not Decision.HANDOFF and item.label in ids[:3]
        if best != item.label:
            report.confusions[(item.label, best or "-")] += 1
    return report


class BaselineMatcher:
    """The naive baseline the issue compares against: rapidfuzz WRatio of the raw question
    against every phrasing, the best phrasing wins, one cutoff, no clarification."""

    def __init__(self, knowledge: KnowledgeBase, cutoff: float) -> None:
        self.cutoff = cutoff
        self._phrasings = [q for entry in knowledge.entries for q in entry.questions]
        self._owners = [entry.id for entry in knowledge.entries for _ in entry.questions]

    def match(self, question: str) -> Match:
        found = process.extractOne(question, self._phrasings, scorer=fuzz.WRatio)
        if found is None:
            return Match(question, Decision.HANDOFF, ())
        _, score, index = found
        candidate = (Candidate(self._owners[index], float(score)),)
        decision = Decision.ANSWER if score >= self.cutoff else Decision.HANDOFF
        return Match(question, decision, candidate)


class CandidateJson(TypedDict):
    id: str
    score: float


class MatchJson(TypedDict):
    """One line of `csobot kb match`, keys in the printed order."""

    question: str
    decision: str
    id: str | None
    score: float
    candidates: list[CandidateJson]


def match_json(result: Match) -> MatchJson:
    """The line `csobot kb match` prints for one question."""
    candidates: list[CandidateJson] = [
        {"id": c.id, "score": round(c.score, 2)} for c in result.candidates[:3]
    ]
    return {
        "question": result.question,
        "decision": result.decision.value,
        "id": candidates[0]["id"] if candidates else None,
        "score": candidates[0]["score"] if candidates else 0.0,
        "candidates": candidates,
    }


@dataclass(frozen=True)
class Calibration:
    thresholds: MatcherConfig
    report: Report


def calibrate(
    matcher: Matcher,
    sets: Sequence[Sequence[Labelled]],
    *,
    max_wrong: float = 1.0,
    min_rejection: float = 92.0,
) -> Calibration | None:
    """The thresholds with the best strict plus top-3 accuracy whose wrong-answer rate stays at or
    below `max_wrong` % on every one of `sets` and whose out-of-scope rejection over them all
    stays at or above `min_rejection` %; ties go to the better strict accuracy, then to the more
    cautious setting. None when no setting meets both limits.

    The wrong-answer limit holds per set, not for the sets pooled: pooled, easy sets lend their
    margin to the hardest one (the second fresh tuning set ran at 1.9 % wrong under a pooled
    1 %), and the hardest set is the one that looks like stakeholders the matcher has not met.
    Every question is ranked once; the grid is searched with numpy over what `Matcher.decide`
    looks at, and the winner is checked by `evaluate` itself."""
    items = [item for group in sets for item in group]
    group_of = np.repeat(np.arange(len(sets)), [len(group) for group in sets])
    group_sizes = np.maximum(np.bincount(group_of, minlength=len(sets)), 1)
    limit = matcher.thresholds.max_candidates
    rankings = [matcher.rank(item.question, matcher.candidates_needed) for item in items]
    out_of_scope = {topic.id for topic in matcher.knowledge.out_of_scope}
    count = len(items)
    top_score, runner_up, top_similarity, label_score = (np.zeros(count) for _ in range(4))
    top_out_of_scope, top_right, is_none, empty = (np.zeros(count, dtype=bool) for _ in range(4))
    label_position = np.full(count, -1)
    for index, (item, ranking) in enumerate(zip(items, rankings, strict=True)):
        topics = ranking.topics
        is_none[index] = item.label == NONE
        if not topics:
            empty[index] = True
            continue
        top_score[index] = topics[0].score
        runner_up[index] = topics[1].score if len(topics) > 1 else 0.0
        top_similarity[index] = topics[0].similarity
        top_out_of_scope[index] = topics[0].id in out_of_scope
        top_right[index] = topics[0].id == item.label
        in_scope = [topic for topic in topics if topic.id not in out_of_scope][:limit]
        for position, topic in enumerate(in_scope):
            if topic.id == item.label:
                label_position[index], label_score[index] = position, topic.score
    # An unsure best guess is still offered at offer_score (kept as configured, not searched).
    offer = matcher.thresholds.offer_score
    offering = (
        ~empty & ~top_out_of_scope & (top_score >= offer)
        if offer is not None
        else np.zeros(count, dtype=bool)
    )
    in_scope_count = max(int((~is_none).sum()), 1)
    none_count = max(int(is_none.sum()), 1)
    best: tuple[tuple[float, ...], MatcherConfig] | None = None
    for min_similarity in range(0, 41, 4):
        known = ~empty & (top_similarity >= min_similarity)
        for clarify in range(20, 81, 4):
            for answer in range(clarify, 90, 3):
                for margin in range(0, 61, 2):
                    answered = (
                        known
                        & ~top_out_of_scope
                        & (top_score >= answer)
                        & (top_score - runner_up >= margin)
                    )
                    wrong_by_set = np.bincount(
                        group_of, weights=answered & (is_none | ~top_right), minlength=len(sets)
                    )
                    if (wrong_by_set * 100 / group_sizes).max() > max_wrong:
                        continue
                    clarified = known & ~top_out_of_scope & ~answered & (top_score >= clarify)
                    guessed = offering & ~answered & ~clarified
                    rejected = (
                        (is_none & ~answered & ~clarified & ~guessed).sum() * 100 / none_count
                    )
                    if rejected < min_rejection:
                        continue
                    strict = (answered & top_right & ~is_none).sum() / in_scope_count
                    for option in (clarify - 12, clarify - 6, clarify):
                        offered = (label_position == 0) | (
                            (label_position > 0) & (clarified & (label_score >= option) | answered)
                        )
                        top3 = (
                            ((answered | clarified) & offered | guessed & (label_position >= 0))
                            & ~is_none
                        ).sum() / in_scope_count
                        key = (strict + top3, strict, answer, margin, min_similarity)
                        if best is None or key > best[0]:
                            update = {
                                "answer_score": answer,
                                "answer_margin": margin,
                                "clarify_score": clarify,
                                "option_score": option,
                                "min_similarity": min_similarity,
                            }
                            best = (key, matcher.thresholds.model_copy(update=update))
    if best is None:
        return None
    thresholds = best[1]
    ranking_of = {item.question: ranking for item, ranking in zip(items, rankings, strict=True)}
    report = evaluate(
        lambda question: matcher.decide(question, ranking_of[question], thresholds), items
    )
    return Calibration(thresholds, report)
