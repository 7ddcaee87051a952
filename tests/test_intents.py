"""Conversational intents on labelled turns written by stakeholders' voices (tests/data): the
development set (tuned on) must meet the targets; the held-out set (never tuned on) must never
read a real question as small talk, and is guarded against getting worse than measured."""

from __future__ import annotations

import json

import pytest

from bot.config import load_config
from bot.intent_evaluation import evaluate
from bot.intents import DEFAULT_INTENTS, Context, Intent, IntentReader, load_intents
from bot.knowledge import Matcher
from bot.knowledge.loader import load_knowledge
from tests.conftest import ROOT

CONFIG = load_config(ROOT / "config.yaml")
KNOWLEDGE = load_knowledge(ROOT / "knowledge", CONFIG.sections)
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def reader() -> IntentReader:
    return load_intents(DEFAULT_INTENTS, KNOWLEDGE.abbreviations)


def test_the_development_set_meets_the_targets(reader: IntentReader) -> None:
    scores = evaluate(DATA / "intents_dev.jsonl", reader, Matcher(KNOWLEDGE, CONFIG.matcher))
    assert scores.total >= 200
    assert scores.share_right({Intent.CONFIRM, Intent.DENY}) >= 0.95, scores.wrong
    assert scores.swallowed_questions() <= 0.01, scores.wrong


def test_the_held_out_set_never_loses_a_question(reader: IntentReader) -> None:
    scores = evaluate(DATA / "intents_holdout.jsonl", reader, Matcher(KNOWLEDGE, CONFIG.matcher))
    assert scores.total >= 100
    assert scores.swallowed_questions() <= 0.01
    assert scores.share_right({Intent.CONFIRM, Intent.DENY}) >= 0.85  # measured 86 %


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("belum pak, masih bingung", Context.ANSWERED, Intent.DENY),
        ("ok makasih pak", Context.ANSWERED, Intent.CONFIRM),
        ("Ya, terjawab", Context.ANSWERED, Intent.CONFIRM),
        ("mau tanya dong", Context.IDLE, Intent.VAGUE),
        ("min mau nanya soal spm", Context.IDLE, Intent.VAGUE),
        ("selamat pagi", Context.IDLE, Intent.GREETING),
        ("halo", Context.IDLE, Intent.GREETING),
        ("pagi pak, kenapa SPM LS saya ditolak?", Context.IDLE, Intent.QUESTION),
        ("nanti saya kasih uang kopi biar cepat ya pak", Context.IDLE, Intent.GIFT),
        ("terima kasih pak, uangnya sudah masuk cepat sekali", Context.WITH_CSO, Intent.MORE),
        ("kapan biaya perjalanan dinas cair? berapa lama?", Context.IDLE, Intent.QUESTION),
    ],
)
def test_phrases_from_the_issue(
    reader: IntentReader, text: str, context: Context, expected: Intent
) -> None:
    assert reader.understand(text, context) == expected


def status_and_human(path: str, reader: IntentReader) -> dict[str, float]:
    """Share of each label read right: "status" and "human" exactly; "question" (a near-miss
    with the same words: "status SP2D saya", "nomor telepon KPPN") as anything but those two,
    since reading it as one would keep a real question from being answered."""
    right: dict[str, int] = {}
    total: dict[str, int] = {}
    for line in (DATA / path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        got = reader.understand(row["text"], Context(row["context"]))
        wanted = row["intent"]
        ok = got == wanted if wanted in ("status", "human") else got.value not in NEW_INTENTS
        total[wanted] = total.get(wanted, 0) + 1
        right[wanted] = right.get(wanted, 0) + ok
    return {label: right[label] / total[label] for label in total}


NEW_INTENTS = ("status", "human")


def test_asking_for_status_or_an_officer_on_the_development_set(reader: IntentReader) -> None:
    """Written blind by someone who never saw _intents.yaml, then tuned on (30 of each)."""
    shares = status_and_human("intents_status_human_dev.jsonl", reader)
    assert shares["question"] == 1.0  # no near-miss taken for a status or an officer request
    assert shares["status"] >= 0.73 and shares["human"] >= 0.93  # measured 22/30, 28/30


def test_asking_for_status_or_an_officer_on_the_held_out_set(reader: IntentReader) -> None:
    """Written blind at the same time and never tuned on; guarded against getting worse than
    measured (README "Between questions" gives the figures)."""
    shares = status_and_human("intents_status_human_holdout.jsonl", reader)
    assert shares["question"] == 1.0
    assert shares["status"] >= 0.3 and shares["human"] >= 0.53  # measured 9/30, 16/30
