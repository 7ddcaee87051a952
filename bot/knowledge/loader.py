"""Reads knowledge/*.yaml and reports every problem as `file:line: entry <id>: problem`.

The knowledge base is maintained by office staff in a text editor; a mistake must point at the
line to fix, and every mistake must be reported at once rather than one per attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config import OFFICE_PLACEHOLDERS, placeholders_in
from bot.knowledge.model import Delivery, Entry, KnowledgeBase, OutOfScope, Source
from bot.yamlsource import YamlDocument, YamlSyntaxError, load_yaml

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
OUT_OF_SCOPE_FILE = "_out_of_scope.yaml"
LANGUAGE_FILE = "_language.yaml"
INTENTS_FILE = "_intents.yaml"  # conversational intents: read by bot/intents.py
MIN_QUESTIONS = 1


class KnowledgeError(Exception):
    """The knowledge base is invalid; `problems` holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Source(_Strict):
    citation: str = Field(min_length=3)
    title: str | None = None
    article: str | None = None
    checked_at: str | None = None


class _Entry(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=3, max_length=60)
    section: str
    questions: list[str] = Field(min_length=MIN_QUESTIONS)
    keywords: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1)
    details: str | None = None
    sources: list[_Source] = Field(min_length=1)
    documents: list[str] = Field(default_factory=list)
    verified: bool
    reviewed: date
    reviewed_by: str = Field(min_length=2)
    verify: str | None = None
    delivery: Delivery | None = None

    @field_validator("answer")
    @classmethod
    def _answer_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("answer is empty")
        _check_placeholders(value)
        return value

    @field_validator("details")
    @classmethod
    def _details_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            _check_placeholders(value)
        return value

    @model_validator(mode="after")
    def _unverified_says_what_to_check(self) -> _Entry:
        if not self.verified and not (self.verify or "").strip():
            raise ValueError(
                "verified: false needs `verify:` saying what an office must check before "
                "marking it verified"
            )
        return self

    @field_validator("questions", "keywords", "documents")
    @classmethod
    def _no_blank_items(cls, value: list[str]) -> list[str]:
        if any(not isinstance(item, str) or not item.strip() for item in value):
            raise ValueError("contains an empty item")
        return value


class _EntryFile(_Strict):
    area: str = Field(min_length=1)
    entries: list[dict[str, Any]] = Field(min_length=1)


class _OutOfScope(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=3)
    reply: str = Field(min_length=1)
    questions: list[str] = Field(min_length=MIN_QUESTIONS)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("reply")
    @classmethod
    def _reply_placeholders(cls, value: str) -> str:
        _check_placeholders(value)
        return value


class _OutOfScopeFile(_Strict):
    out_of_scope: list[dict[str, Any]] = Field(default_factory=list)


class _LanguageFile(_Strict):
    abbreviations: dict[str, str] = Field(default_factory=dict)
    regional: dict[str, str] = Field(default_factory=dict)
    phrases: dict[str, str] = Field(default_factory=dict)
    fillers: list[str] = Field(default_factory=list)


ItemModel = TypeVar("ItemModel", bound=BaseModel)


def _check_placeholders(text: str) -> None:
    try:
        unknown = placeholders_in(text) - OFFICE_PLACEHOLDERS
    except ValueError as exc:
        raise ValueError(
            f"bad placeholder braces ({exc}); write {{{{ or }}}} for a brace"
        ) from exc
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(OFFICE_PLACEHOLDERS)}"
        )


class _Problems:
    """Collects problems with their file and line."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(
        self, document: YamlDocument, location: list[str | int], what: str, entry: str = ""
    ) -> None:
        line = document.line_of(location)
        where = f"{document.path}:{line}" if line else str(document.path)
        prefix = f"entry {entry}: " if entry else ""
        self.lines.append(f"{where}: {prefix}{what}")

    def add_validation(
        self,
        document: YamlDocument,
        base: list[str | int],
        error: ValidationError,
        entry: str = "",
    ) -> None:
        for item in error.errors():
            loc = [part for part in item["loc"]]
            key = ".".join(str(part) for part in loc)
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown key"
            self.add(document, base + loc, f"{key}: {message}" if key else message, entry)


def load_knowledge(directory: Path, sections: Iterable[str] | None = None) -> KnowledgeBase:
    """Load every knowledge file in `directory`; raise KnowledgeError listing all problems."""
    problems = _Problems()
    known_sections = set(sections) if sections is not None else None
    if not directory.is_dir():
        raise KnowledgeError([f"{directory}: knowledge directory not found"])
    entries: list[Entry] = []
    out_of_scope: list[OutOfScope] = []
    abbreviations: dict[str, str] = {}
    regional: dict[str, str] = {}
    phrases: dict[str, str] = {}
    fillers: list[str] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            document = load_yaml(path)
        except YamlSyntaxError as exc:
            problems.lines.append(str(exc))
            continue
        if path.name == LANGUAGE_FILE:
            language = _load_language(document, problems)
            if language is not None:
                abbreviations.update(language.abbreviations)
                regional.update(language.regional)
                phrases.update(language.phrases)
                fillers.extend(language.fillers)
        elif path.name == OUT_OF_SCOPE_FILE:
            out_of_scope.extend(_load_out_of_scope(document, problems, seen))
        elif path.name == INTENTS_FILE:
            continue
        elif path.name.startswith("_"):
            problems.add(
                document,
                [],
                f"unknown special file (expected {OUT_OF_SCOPE_FILE}, {LANGUAGE_FILE} or "
                f"{INTENTS_FILE})",
            )
        else:
            entries.extend(_load_entries(document, problems, seen, known_sections))
    if not entries and not problems.lines:
        problems.lines.append(f"{directory}: no knowledge entries found (*.yaml)")
    if problems.lines:
        raise KnowledgeError(problems.lines)
    return KnowledgeBase(
        entries=tuple(entries),
        out_of_scope=tuple(out_of_scope),
        # A regional word is read like an abbreviation; a chat abbreviation wins a clash.
        abbreviations={
            key.lower(): value.lower() for key, value in {**regional, **abbreviations}.items()
        },
        regional={key.lower(): value.lower() for key, value in regional.items()},
        phrases={key.lower(): value.lower() for key, value in phrases.items()},
        fillers=tuple(filler.lower() for filler in fillers),
    )


def _claim_id(
    document: YamlDocument,
    problems: _Problems,
    seen: dict[str, str],
    location: list[str | int],
    entry_id: str,
) -> bool:
    line = document.line_of(location)
    here = f"{document.path}:{line}"
    if entry_id in seen:
        problems.add(
            document, location, f"duplicate id (first defined at {seen[entry_id]})", entry_id
        )
        return False
    seen[entry_id] = here
    return True


def _valid_items(
    document: YamlDocument,
    problems: _Problems,
    seen: dict[str, str],
    key: str,
    model: type[ItemModel],
    items: list[dict[str, Any]],
) -> Iterator[tuple[list[str | int], ItemModel]]:
    """Each item of `key` that validates and has an id nobody claimed; the rest become problems."""
    for index, raw in enumerate(items):
        base: list[str | int] = [key, index]
        item_id = str(raw.get("id", f"#{index + 1}")) if isinstance(raw, dict) else f"#{index + 1}"
        try:
            item = model.model_validate(raw)
        except ValidationError as exc:
            problems.add_validation(document, base, exc, item_id)
            continue
        if _claim_id(document, problems, seen, base + ["id"], item.id):  # type: ignore[attr-defined]
            yield base, item


def _load_entries(
    document: YamlDocument, problems: _Problems, seen: dict[str, str], sections: set[str] | None
) -> list[Entry]:
    try:
        parsed = _EntryFile.model_validate(document.data)
    except ValidationError as exc:
        problems.add_validation(document, [], exc)
        return []
    entries = []
    for base, item in _valid_items(document, problems, seen, "entries", _Entry, parsed.entries):
        if sections is not None and item.section not in sections:
            problems.add(
                document,
                base + ["section"],
                f"section: unknown section {item.section!r}; config.yaml has {sorted(sections)}",
                item.id,
            )
            continue
        entries.append(
            Entry(
                id=item.id,
                title=item.title,
                area=parsed.area,
                section=item.section,
                questions=tuple(item.questions),
                keywords=tuple(keyword.lower() for keyword in item.keywords),
                answer=item.answer,
                details=item.details,
                sources=tuple(Source(**basis.model_dump()) for basis in item.sources),
                documents=tuple(item.documents),
                verified=item.verified,
                reviewed=item.reviewed,
                reviewed_by=item.reviewed_by,
                verify=item.verify,
                delivery=item.delivery,
                source=f"{document.path}:{document.line_of(base)}",
            )
        )
    return entries


def _load_out_of_scope(
    document: YamlDocument, problems: _Problems, seen: dict[str, str]
) -> list[OutOfScope]:
    try:
        parsed = _OutOfScopeFile.model_validate(document.data)
    except ValidationError as exc:
        problems.add_validation(document, [], exc)
        return []
    return [
        OutOfScope(
            id=item.id,
            title=item.title,
            reply=item.reply,
            questions=tuple(item.questions),
            keywords=tuple(keyword.lower() for keyword in item.keywords),
            source=f"{document.path}:{document.line_of(base)}",
        )
        for base, item in _valid_items(
            document, problems, seen, "out_of_scope", _OutOfScope, parsed.out_of_scope
        )
    ]


def _load_language(document: YamlDocument, problems: _Problems) -> _LanguageFile | None:
    try:
        return _LanguageFile.model_validate(document.data or {})
    except ValidationError as exc:
        problems.add_validation(document, [], exc)
        return None
