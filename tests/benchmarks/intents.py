"""`make bench`: how well conversational intents are read, on the development set (tuned on) and
the held-out set (never tuned on)."""

from __future__ import annotations

from pathlib import Path

from bot.config import load_config
from bot.intent_evaluation import evaluate
from bot.intents import DEFAULT_INTENTS, Intent, load_intents
from bot.knowledge import Matcher
from bot.knowledge.loader import load_knowledge

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    config = load_config(ROOT / "config.yaml")
    knowledge = load_knowledge(ROOT / "knowledge", config.sections)
    reader = load_intents(DEFAULT_INTENTS, knowledge.abbreviations)
    matcher = Matcher(knowledge, config.matcher)
    for name in ("dev", "holdout"):
        scores = evaluate(ROOT / "tests" / "data" / f"intents_{name}.jsonl", reader, matcher)
        print(f"intents ({name}): {scores.right}/{scores.total} read right")
        for intent in Intent:
            precision, recall = scores.precision(intent), scores.recall(intent)
            if recall is None:
                continue
            shown = f"{precision:.0%}" if precision is not None else "-"
            print(f"  {intent.value:<9} precision {shown:>5}  recall {recall:.0%}")
        both = scores.share_right({Intent.CONFIRM, Intent.DENY})
        print(f"  confirmations and denials read right: {both:.1%} (target ≥ 95 %)")
        swallowed = scores.swallowed_questions()
        print(f"  real questions read as small talk: {swallowed:.1%} (target ≤ 1 %)")


if __name__ == "__main__":
    main()
