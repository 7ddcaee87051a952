"""What a Kepala Seksi must look at in the knowledge base, and what `kb check` warns about.

Validation (loader.py) refuses what cannot work; this module finds what works but should not be
trusted as it stands: unverified or stale entries, sources nobody can check, answers that bury
the key sentence or send the stakeholder to the KPPN they are already talking to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from bot.config import Config
from bot.knowledge.loader import LANGUAGE_FILE
from bot.knowledge.model import Entry, KnowledgeBase
from bot.knowledge.normalise import plain

# "konfirmasikan ke KPPN", "silakan hubungi KPPN", "datang langsung ke KPPN": the stakeholder is
# talking to the KPPN already; the answer should say what the CSO will do instead.
_SENDS_TO_KPPN = re.compile(
    r"\b(konfirmasi\w*|hubungi|tanyakan|menanyakan|datang\w*|menghubungi)\s+"
    r"(\w+\s+){0,2}(ke\s+)?(kantor\s+)?kppn\b",
    re.IGNORECASE,
)


@dataclass
class ReviewItem:
    entry: Entry
    reasons: list[str] = field(default_factory=list)


def warnings(knowledge: KnowledgeBase, config: Config) -> list[str]:
    """One line per problem, `file:line: entry <id>: …`, for `csobot kb check`."""
    limit = config.knowledge.direct_answer_max
    values = config.office_values()
    lines = []
    for entry in knowledge.entries:
        where = f"{entry.source}: entry {entry.id}"
        answer = entry.render_answer(values)
        if len(answer) > limit:
            what = "the direct answer" if entry.details else "the answer has no direct first part:"
            lines.append(
                f"{where}: {what} is {len(answer)} characters (at most {limit}); move steps, "
                "documents and conditions to `details:`"
            )
        for part, text in (("answer", answer), ("details", entry.render_details(values))):
            found = _SENDS_TO_KPPN.search(text)
            if found:
                lines.append(
                    f"{where}: {part} sends the stakeholder to the KPPN they are talking to "
                    f"(«{found.group(0)}»); say what the CSO will do"
                )
        for source in entry.sources:
            if not source.checked_at:
                lines.append(
                    f"{where}: source {source.citation} does not say where it was checked"
                )
    lines.extend(_regional_clashes(knowledge))
    for entry_id in sorted(set(config.knowledge.delivery) - {e.id for e in knowledge.entries}):
        lines.append(f"config.yaml: knowledge.delivery names unknown entry {entry_id!r}")
    return lines


def _regional_clashes(knowledge: KnowledgeBase) -> list[str]:
    """A regional word that is also a word of an entry's keywords or title ("dak" is Palembang
    for "tidak" and the DAK of dak-fisik) would rewrite the official term out of every question."""
    lines = []
    for entry in knowledge.entries:
        for term in (*entry.keywords, entry.title):
            for word in sorted(set(plain(term).split()) & knowledge.regional.keys()):
                lines.append(
                    f"{LANGUAGE_FILE}: regional word {word!r} (read as "
                    f"{knowledge.regional[word]!r}) is a word of entry {entry.id}'s «{term}»; "
                    "remove it from `regional:`"
                )
    return lines


def needs_review(
    knowledge: KnowledgeBase, config: Config, today: date, max_age_days: int | None = None
) -> dict[str, list[ReviewItem]]:
    """Entries to review, by section (the Kepala Seksi who owns them): unverified, reviewed too
    long ago, or with sources that cannot be checked."""
    max_age = max_age_days if max_age_days is not None else config.knowledge.review_after_days
    by_section: dict[str, list[ReviewItem]] = {}
    for entry in knowledge.entries:
        item = ReviewItem(entry)
        if not entry.verified:
            item.reasons.append(f"unverified – to check: {' '.join((entry.verify or '').split())}")
        age = (today - entry.reviewed).days
        if age > max_age:
            item.reasons.append(f"last reviewed {age} days ago (more than {max_age})")
        for source in entry.sources:
            if not source.checked_at:
                item.reasons.append(f"source {source.citation}: where it was checked is missing")
            if not source.article:
                item.reasons.append(f"source {source.citation}: no article (Pasal) cited")
        if item.reasons:
            by_section.setdefault(entry.section, []).append(item)
    return by_section


def render_review(
    by_section: dict[str, list[ReviewItem]], config: Config, knowledge: KnowledgeBase
) -> str:
    if not by_section:
        return "Nothing to review: every entry is verified, recent and fully sourced."
    total = sum(len(items) for items in by_section.values())
    lines = [f"{total} of {len(knowledge.entries)} entries need review."]
    for section in sorted(by_section, key=lambda s: (-len(by_section[s]), s)):
        heads = [
            member.name
            for member in config.staff
            if member.role == "kepala_seksi" and member.section == section
        ]
        owner = f" – Kepala Seksi: {', '.join(heads)}" if heads else ""
        name = config.sections.get(section, section)
        lines.append("")
        lines.append(f"{name} ({section}){owner}: {len(by_section[section])}")
        for item in by_section[section]:
            entry = item.entry
            lines.append(
                f"  {entry.id} – {entry.title} (reviewed {entry.reviewed.isoformat()} by "
                f"{entry.reviewed_by}; {entry.source})"
            )
            lines.extend(f"    · {reason}" for reason in item.reasons)
    return "\n".join(lines)
