"""Measures how well conversational intents are read, on labelled turns (tests/data/intents_*.jsonl):
precision and recall per intent, confirmations and denials read right, and real questions
swallowed as small talk. Used by `make bench` and the tests."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.intents import Context, Intent, IntentReader
from bot.knowledge import Matcher

SMALL_TALK = frozenset({Intent.GREETING, Intent.VAGUE, Intent.THANKS, Intent.ACK})


@dataclass
class Scores:
    total: int = 0
    right: int = 0
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, got)
    wrong: list[tuple[str, str, str, str]] = field(default_factory=list)

    def precision(self, intent: str) -> float | None:
        predicted = sum(n for (_, got), n in self.pairs.items() if got == intent)
        return self.pairs[(intent, intent)] / predicted if predicted else None

    def recall(self, intent: str) -> float | None:
        expected = sum(n for (want, _), n in self.pairs.items() if want == intent)
        return self.pairs[(intent, intent)] / expected if expected else None

    def share_right(self, intents: set[str]) -> float:
        expected = sum(n for (want, _), n in self.pairs.items() if want in intents)
        right = sum(self.pairs[(i, i)] for i in intents)
        return right / expected if expected else 1.0

    def swallowed_questions(self) -> float:
        """Real questions read as small talk (a greeting, thanks…): the worst mistake, because
        the question then gets a pleasantry instead of an answer."""
        questions = sum(n for (want, _), n in self.pairs.items() if want == Intent.QUESTION)
        swallowed = sum(
            n
            for (want, got), n in self.pairs.items()
            if want == Intent.QUESTION and got in SMALL_TALK
        )
        return swallowed / questions if questions else 0.0


def evaluate(path: Path, reader: IntentReader, matcher: Matcher | None = None) -> Scores:
    """Each labelled turn read in its context. For turns while a CSO has a ticket, the ticket's
    topic is what the matcher makes of the turn's note ("open ticket about rejected SPM")."""
    scores = Scores()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        context = Context(row["context"])
        other = False
        if context is Context.WITH_CSO and matcher is not None and row.get("note"):
            other = other_topic(matcher, row["text"], str(row["note"]))
        got = reader.understand(row["text"], context, other_topic=other)
        scores.total += 1
        scores.pairs[(row["intent"], got.value)] += 1
        if got == row["intent"]:
            scores.right += 1
        else:
            scores.wrong.append((row["context"], row["intent"], got.value, row["text"]))
    return scores


def other_topic(matcher: Matcher, text: str, ticket_text: str) -> bool:
    """Whether the matcher is sure `text` is about a topic the ticket's question is not."""
    topic = matcher.sure_topic(text)
    if topic is None:
        return False
    ticket = matcher.match(ticket_text)
    return topic not in {candidate.id for candidate in ticket.candidates}
