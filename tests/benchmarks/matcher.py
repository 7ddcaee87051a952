"""`make bench`: the matcher's accuracy against the naive baseline, and its speed as the knowledge
base grows. Prints figures; asserts nothing (performance goals live here, not in timed tests)."""

from __future__ import annotations

import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bot.config import load_config
from bot.knowledge import Matcher, load_knowledge
from bot.knowledge.cache import cached_matcher
from bot.knowledge.evaluation import NONE, BaselineMatcher, evaluate, read_labelled
from bot.knowledge.suggest import Resolution, apply_examples, suggest

ROOT = Path(__file__).resolve().parents[2]
# dev and holdout were used to choose the method and calibrate config.yaml's thresholds; unseen was
# written separately and used for nothing but this report.
SETS = {
    "development set (tests/data/kb_dev.jsonl; used for choices)": ROOT
    / "tests"
    / "data"
    / "kb_dev.jsonl",
    "held-out set (tests/data/kb_holdout.jsonl; used for calibration)": ROOT
    / "tests"
    / "data"
    / "kb_holdout.jsonl",
    "unseen set (tests/data/kb_unseen.jsonl; never used for any choice)": ROOT
    / "tests"
    / "data"
    / "kb_unseen.jsonl",
    # Both written from the topic list alone by writers who never read the entries, in the voices
    # of stakeholders in Java, Kalimantan and Sulawesi/Papua; fresh-dev is for tuning and for the
    # desk simulation below, fresh is never tuned on.
    "fresh tuning set (tests/data/kb_fresh_dev.jsonl; tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh_dev.jsonl",
    "fresh set (tests/data/kb_fresh.jsonl; never tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh.jsonl",
    # A second pair by two more writers, again from the topic list alone (30 November 2026):
    # fresh-dev-2 for tuning (the regional vocabulary and examples were judged on it), fresh-2
    # never tuned on.
    "second fresh tuning set (tests/data/kb_fresh_dev2.jsonl; tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh_dev2.jsonl",
    "second fresh set (tests/data/kb_fresh2.jsonl; never tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh2.jsonl",
    # A tuning set by another writer on 7 December (hard cases: situations in the stakeholder's
    # own words, stories, a third very short); calibrated on and played once as the desk.
    "third fresh tuning set (tests/data/kb_fresh_dev3.jsonl; tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh_dev3.jsonl",
    # A third writer, evenly over the regions, a third of the questions short; written after
    # the calibration rule (wrong answers limited per tuning set) was chosen, to check it.
    "third fresh set (tests/data/kb_fresh3.jsonl; never tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh3.jsonl",
    # Two more writers (7 December 2026), from the topic list alone, asked for questions a KPPN
    # officer would file under one topic: fresh-4 in the voices of Kalimantan, Sulawesi, Maluku
    # and Papua; fresh-5 of Java, NTT/NTB, suppliers and village officials. Measured, never tuned.
    "fourth fresh set (tests/data/kb_fresh4.jsonl; never tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh4.jsonl",
    "fifth fresh set (tests/data/kb_fresh5.jsonl; never tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh5.jsonl",
    # A sixth writer the same day, asked for the hardest realistic cases (situations in their
    # own words, a third very short), evenly over the regions; measured, never tuned.
    "sixth fresh set (tests/data/kb_fresh6.jsonl; never tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh6.jsonl",
    # A seventh writer (7 December 2026, after 1,050 more examples and a recalibration), evenly
    # over Java, Kalimantan, Sulawesi and Eastern Indonesia, 45 out of scope; never tuned on, but
    # the kinds of out-of-scope questions it saw through shaped the brief of the out-of-scope
    # examples added afterwards (README "Matcher measurements").
    "seventh fresh set (tests/data/kb_fresh7.jsonl; never tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh7.jsonl",
    # An eighth writer the same day, over six regions, 60 varied out-of-scope questions; measured
    # once, after the last change of the day.
    "eighth fresh set (tests/data/kb_fresh8.jsonl; never tuned on)": ROOT
    / "tests"
    / "data"
    / "kb_fresh8.jsonl",
}
NEVER_TUNED = (
    "kb_fresh",
    "kb_fresh2",
    "kb_fresh3",
    "kb_fresh4",
    "kb_fresh5",
    "kb_fresh6",
    "kb_fresh7",
    "kb_fresh8",
)
TARGETS = "targets on the fresh sets: strict ≥ 90 %, top-3 ≥ 97 %, wrong ≤ 2 %, out-of-scope rejection ≥ 90 %"
SIZES = (45, 1_000, 10_000)
QUESTIONS_PER_SIZE = 400


def accuracy() -> None:
    config = load_config(ROOT / "config.yaml")
    knowledge = load_knowledge(ROOT / "knowledge", config.sections)
    matcher = Matcher(knowledge, config.matcher)
    development = read_labelled(next(iter(SETS.values())))
    # The baseline gets its single cutoff tuned on the development set, in its favour.
    cutoff = max(
        range(50, 101, 2),
        key=lambda c: evaluate(BaselineMatcher(knowledge, c).match, development).strict,
    )
    baseline = BaselineMatcher(knowledge, cutoff)
    for name, path in SETS.items():
        items = read_labelled(path)
        ours = evaluate(matcher.match, items)
        naive = evaluate(baseline.match, items)
        print(f"\n== {name}")
        print("\n".join("  " + line for line in ours.lines(worst=5)))
        print(
            f"  naive baseline (WRatio, cutoff {cutoff}): strict {naive.strict_accuracy:.1f} %, "
            f"top-3 {naive.top3_accuracy:.1f} %, wrong {naive.wrong_answer_rate:.1f} %, "
            f"out-of-scope rejection {naive.rejection_rate:.1f} %"
        )
        print(
            f"  csobot − baseline, strict accuracy: {ours.strict_accuracy - naive.strict_accuracy:+.1f} points"
        )
    pooled = [
        item
        for name in NEVER_TUNED
        for item in read_labelled(ROOT / "tests" / "data" / f"{name}.jsonl")
    ]
    print(f"\n== the {len(NEVER_TUNED)} never-tuned fresh sets together ({len(pooled)} questions)")
    print("\n".join("  " + line for line in evaluate(matcher.match, pooled).lines()[:6]))


def synthetic_knowledge(
    directory: Path, size: int, real: list[dict[str, Any]], seed: int = 7
) -> None:
    """`size` entries made from the real ones: each copies a real entry's examples, swaps some words
    for random words of the knowledge base's vocabulary and adds a word of its own."""
    rng = random.Random(seed)
    vocabulary = sorted({w for e in real for q in e["questions"] for w in str(q).lower().split()})
    entries = []
    for number in range(size):
        source = real[number % len(real)]
        tag = f"kode{number:05d}"
        questions = []
        for question in source["questions"]:
            words = str(question).split()
            for _ in range(max(1, len(words) // 4)):
                words[rng.randrange(len(words))] = rng.choice(vocabulary)
            questions.append(" ".join(words) + f" {tag}")
        entries.append(
            {
                **source,
                "id": f"{source['id']}-{number:05d}",
                "questions": questions,
                "keywords": [*source["keywords"], tag],
            }
        )
    for chunk in range(0, size, 500):
        (directory / f"synthetic-{chunk:05d}.yaml").write_text(
            yaml.safe_dump(
                {"area": "Sintetis", "entries": entries[chunk : chunk + 500]}, allow_unicode=True
            ),
            encoding="utf-8",
        )


def speed() -> None:
    config = load_config(ROOT / "config.yaml")
    real: list[dict[str, Any]] = []  # entries as read from the YAML files
    for path in sorted((ROOT / "knowledge").glob("[!_]*.yaml")):
        real.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["entries"])
    questions = [item.question for item in read_labelled(next(iter(SETS.values())))]
    print(
        f"\n== speed (one core; {platform.processor() or platform.machine()}, Python {platform.python_version()})"
    )
    print(
        f"  {'entries':>8} {'cold load':>10} {'cached':>8} {'p50':>9} {'p99':>9} {'max':>9}  ranking"
    )
    for size in SIZES:
        with tempfile.TemporaryDirectory() as folder:
            directory = Path(folder)
            if size == len(real):
                for path in (ROOT / "knowledge").glob("[!_]*.yaml"):
                    (directory / path.name).write_text(
                        path.read_text(encoding="utf-8"), encoding="utf-8"
                    )
            else:
                synthetic_knowledge(directory, size, real)
            cache = directory / "cache"

            def build(folder: Path = directory) -> Matcher:
                return Matcher(load_knowledge(folder, config.sections), config.matcher)

            started = time.perf_counter()
            cached_matcher(directory, config.sections, cache, build)
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            matcher = cached_matcher(directory, config.sections, cache, build)
            warm = time.perf_counter() - started
        timings = []
        for question in (questions * 2)[:QUESTIONS_PER_SIZE]:
            started = time.perf_counter()
            matcher.match(question)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p99 = timings[int(len(timings) * 0.99) - 1]
        ranking = "SVM re-ranked" if matcher.reranks else "similarity"
        print(
            f"  {size:>8} {loaded:>9.2f}s {warm:>7.2f}s {statistics.median(timings):>7.2f}ms "
            f"{p99:>7.2f}ms {timings[-1]:>7.2f}ms  {ranking}"
        )
    print("  targets: p99 ≤ 2 ms at 1,000 entries, ≤ 20 ms at 10,000; loading 1,000 entries ≤ 1 s")
    print("  cold load: parse, validate, index (and train the re-ranker) after a change;")
    print("  cached: every later start or reload of unchanged files (bot/knowledge/cache.py)")


def content() -> None:
    """What a stakeholder reads: how long the direct answer is, how much is still unverified."""
    config = load_config(ROOT / "config.yaml")
    knowledge = load_knowledge(ROOT / "knowledge", config.sections)
    values = config.office_values()
    direct = sorted(len(entry.render_answer(values)) for entry in knowledge.entries)
    whole = sorted(
        len(entry.render_answer(values)) + len(entry.render_details(values))
        for entry in knowledge.entries
    )
    behind = sum(
        len(entry.details or "") > config.knowledge.inline_details_max
        for entry in knowledge.entries
    )
    unverified = sum(not entry.verified for entry in knowledge.entries)

    def percentiles(values: list[int]) -> str:
        return ", ".join(
            f"p{p} {values[min(len(values) - 1, len(values) * p // 100)]}" for p in (50, 90, 100)
        )

    print("\n== answers (characters, rendered for the shipped office)")
    print(f"  direct answer: {percentiles(direct)}  (limit {config.knowledge.direct_answer_max})")
    print(f"  answer + details: {percentiles(whole)}; details behind Selengkapnya: {behind}")
    print(
        f"  unverified entries: {unverified} of {len(knowledge.entries)} "
        f"({100 * unverified / len(knowledge.entries):.0f} %), sent as "
        f"{config.knowledge.unverified} (config knowledge.unverified)"
    )


def learning() -> None:
    """The desk teaching the matcher: the held-out set played as tickets CSOs resolved (its
    label is the topic the CSO sent with /jawab, "none" a free answer), `kb suggest` run on them,
    every suggested example accepted as a reviewer would, then the never-tuned sets measured.
    (Both fresh tuning sets went through this loop once and their accepted suggestions are in
    knowledge/, so they are no longer fair desks.)"""
    config = load_config(ROOT / "config.yaml")
    knowledge = load_knowledge(ROOT / "knowledge", config.sections)
    matcher = Matcher(knowledge, config.matcher)
    desk = read_labelled(ROOT / "tests" / "data" / "kb_holdout.jsonl")
    found = suggest(
        matcher, [Resolution(i.question, None if i.label == NONE else i.label) for i in desk]
    )
    learned = Matcher(apply_examples(knowledge, found.examples), config.matcher)
    examples = sum(len(items) for items in found.examples.values())
    print(
        f"\n== learning from the desk ({len(desk)} resolved tickets → {examples} suggested "
        f"examples for {len(found.examples)} entries, {len(found.new_topics)} candidate new entries)"
    )
    for name in (*NEVER_TUNED, "kb_unseen"):
        items = read_labelled(ROOT / "tests" / "data" / f"{name}.jsonl")
        before, after = evaluate(matcher.match, items), evaluate(learned.match, items)
        print(
            f"  {name + '.jsonl':<17} strict {before.strict_accuracy:5.1f} → "
            f"{after.strict_accuracy:5.1f} %, top-3 {before.top3_accuracy:5.1f} → "
            f"{after.top3_accuracy:5.1f} %, wrong {before.wrong_answer_rate:4.1f} → "
            f"{after.wrong_answer_rate:4.1f} %, rejection {before.rejection_rate:5.1f} → "
            f"{after.rejection_rate:5.1f} %"
        )


if __name__ == "__main__":
    accuracy()
    print(f"\n  {TARGETS}")
    content()
    learning()
    speed()
