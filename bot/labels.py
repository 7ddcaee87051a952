"""What staff read about a ticket, in the office's words: status names, topic titles, who did
something, and why a status changed.

The database keeps stable codes (status values, topic ids, actors such as `cso:Andi`, English
reason codes such as `knowledge base match 54`); transcripts, reports, the dashboard, the desk and
`csobot tickets` show them through config.yaml `texts` (`staff_status_labels`, `event_reasons`,
`actor_*`, `topic_*`), which an office may reword like any stakeholder text. Stakeholders read
`status_labels` instead: those address them ("menunggu konfirmasi Bapak/Ibu").
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

from bot.config import Config
from bot.knowledge.model import KnowledgeBase

# Reason codes the code reads back (the desk card, `csobot kb suggest`), written through these.
RESOLVED_BY_CSO = "resolved by CSO"
CSO_KB_ANSWER = "knowledge base answer {topic}"  # /jawab <topic>
PROVISIONAL_ANSWER = "provisional answer from unverified entry {topic}"
GUIDANCE_ANSWER = "guidance from entry {topic}, a CSO confirms the specifics"
CSO_ONLY_ENTRY = "entry {topic} is for CSOs only"

# The reason codes csobot stores in ticket_event.reason, now or in earlier versions (rows keep
# them); `{topic}` is a knowledge-base or out-of-scope topic id, shown by its title.
REASON_CODES = (
    "question received",
    "knowledge base match {score}",
    "out of scope: {topic}",
    "no knowledge base answer",
    "stakeholder says the answer did not solve it",
    "no offered topic fits",
    "topic chosen by the stakeholder",
    "answer confirmed",
    "taken",
    "documents requested",
    "documents complete",
    "escalated: {reason}",
    "automatic escalation before the deadline",
    RESOLVED_BY_CSO,
    CSO_KB_ANSWER,
    PROVISIONAL_ANSWER,
    "unverified entry {topic} sent as an answer",
    GUIDANCE_ANSWER,
    CSO_ONLY_ENTRY,
    "reopened: {reason}",
    "consent withdrawn: personal data erased (UU 27/2022)",
)


def reason_pattern(code: str) -> re.Pattern[str]:
    """`knowledge base match {score}` → a regular expression matching `knowledge base match 54`."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(code):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P<{name}>.*?)")
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class StaffLabels:
    """Codes → staff-facing Indonesian. Without a knowledge base, topics show by their id."""

    config: Config
    knowledge: KnowledgeBase | None = None
    _patterns: tuple[tuple[re.Pattern[str], str], ...] = field(init=False, repr=False)
    _office: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        patterns = tuple(
            (reason_pattern(code), text)
            for code, text in self.config.texts.event_reasons.items()
            if "{" in code
        )
        object.__setattr__(self, "_patterns", patterns)
        object.__setattr__(self, "_office", self.config.office_values())

    def _text(self, text_name: str, /, **values: Any) -> str:
        return self.config.text(text_name, **values)

    def status(self, status: str | None) -> str:
        """A status as staff read it; no status (before the first event) is `status_new`."""
        if not status:
            return self._text("status_new")
        return self.config.texts.staff_status_labels.get(status, status)

    def topic(self, topic_id: str | None) -> str:
        """A ticket's topic by its title: a knowledge-base entry, or an out-of-scope topic
        (marked as such); no topic is `topic_none`, an id the knowledge base lacks shows as is."""
        if not topic_id or topic_id == "-":
            return self._text("topic_none")
        if self.knowledge is not None and self.knowledge.entry(topic_id) is None:
            outside = self.knowledge.out_of_scope_topic(topic_id)
            if outside is not None:
                return self._text("topic_out_of_scope", title=outside.title)
        return self.title(topic_id)

    def title(self, topic_id: str) -> str:
        """The title of a knowledge-base entry or out-of-scope topic; an unknown id as is."""
        if self.knowledge is not None:
            found = self.knowledge.entry(topic_id) or self.knowledge.out_of_scope_topic(topic_id)
            if found is not None:
                return found.title
        return topic_id

    def actor(self, actor: str, stakeholder_name: str | None) -> str:
        """`stakeholder` → their name (pengguna layanan), `bot` → csobot, `cso:Andi` → Andi (CSO)."""
        kind = actor_kind(actor)
        if kind == "stakeholder":
            name = stakeholder_name or self._text("actor_unnamed")
            return self._text("actor_stakeholder", name=name)
        if kind == "cso":
            return self._text("actor_cso", name=actor[4:])
        if kind == "bot":
            return self._text("actor_bot")
        return actor

    def reason(self, reason: str) -> str:
        """A stored reason code in the office's words; a reason nobody translated shows as is."""
        reasons = self.config.texts.event_reasons
        exact = reasons.get(reason)
        if exact is not None:
            return exact.format(**self._office)
        for pattern, text in self._patterns:
            found = pattern.fullmatch(reason)
            if found is None:
                continue
            values = dict(found.groupdict())
            if "topic" in values:
                values["topic"] = self.title(values["topic"])
            return text.format(**self._office, **values)
        return reason


def actor_kind(actor: str) -> str:
    """stakeholder | cso | bot | other: who an actor code names, for styling."""
    if actor == "stakeholder":
        return "stakeholder"
    if actor.startswith("cso:"):
        return "cso"
    return "bot" if actor == "bot" else "other"
