"""What a message means where the conversation is: a confirmation, a denial, thanks, a greeting,
a vague opener, an acknowledgement, an offer of money — or a question.

The phrases are data (knowledge/_intents.yaml), compared after the matcher's own normalisation
(abbreviations expanded), so "sdh jls pak mksh" reads as "sudah jelas pak makasih". A message is
small talk only when nothing is left in it but such phrases and forms of address: whatever else
it says makes it a question (or, under an answer, a denial with details), so a real question is
never swallowed as small talk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz

from bot.knowledge.loader import KnowledgeError
from bot.knowledge.normalise import Normaliser
from bot.yamlsource import YamlSyntaxError, load_yaml

INTENTS_FILE = "_intents.yaml"
DEFAULT_INTENTS = Path(__file__).resolve().parent.parent / "knowledge" / INTENTS_FILE
MAX_PHRASE_WORDS = 8
TYPO_MIN_LENGTH = 5  # words this long may carry a typo ("trimakasih", "mengeri")
TYPO_SCORE = 85
_DOUBLED_END = re.compile(r"([a-z])\1+$")  # "pagii", "sipp", "okee"
SUBSTANTIVE = 3  # a left-over word of at least this many letters carries meaning
TICKET_NUMBER = re.compile(r"\b[A-Za-z]{2,10}-\d{8}-\d{3,5}\b")  # KNS-20261208-0001


class Context(StrEnum):
    ANSWERED = "answered"  # the bot answered and asked "sudah terjawab?"
    IDLE = "idle"  # nothing in progress
    WITH_CSO = "with_cso"  # a ticket is with a CSO


class Intent(StrEnum):
    CONFIRM = "confirm"
    DENY = "deny"
    THANKS = "thanks"
    GREETING = "greeting"
    VAGUE = "vague"
    ACK = "ack"
    GIFT = "gift"
    STATUS = "status"  # how far their ticket (their earlier question) has got
    HUMAN = "human"  # to be served by an officer instead of the bot
    DETAILS = "details"  # the rest of the answer ("Selengkapnya"), typed
    QUESTION = "question"
    MORE = "more"  # more about the ticket a CSO has


class IntentsError(KnowledgeError):
    """_intents.yaml is unusable (reported like any knowledge-base problem)."""

    def __init__(self, problem: str) -> None:
        super().__init__([problem])


class _IntentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: list[str] = Field(default_factory=list)
    intents: dict[Intent, list[str]]
    new_question: list[str] = Field(default_factory=list)
    question_words: list[str] = Field(default_factory=list)
    gift: dict[str, list[str] | list[list[list[str]]]] = Field(default_factory=dict)
    human: dict[str, list[str] | list[list[list[str]]]] = Field(default_factory=dict)
    status_words: list[str] = Field(default_factory=list)
    status_markers: dict[str, list[str] | list[list[list[str]]]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """What a message is made of: the intents of its phrases (in order of appearance), the
    words nothing accounts for, and whether it offers something for service."""

    phrases: tuple[frozenset[Intent], ...]  # the intents each phrase found may mean
    rest: tuple[str, ...]
    gift: bool = False
    new_question_marker: bool = False
    first: Intent | None = None  # the intent of its opening phrase (greetings, fillers aside)
    asks: bool = False  # a question mark or a question word
    human: bool = False  # asks for an officer, wherever in the message
    about_status: bool = False  # nothing left but words that ask how far a ticket has got
    status_marker: bool = False  # "pertanyaan saya soal retur … sudah dijawab belum"

    @property
    def intents(self) -> frozenset[Intent]:
        return frozenset(intent for phrase in self.phrases for intent in phrase)

    def only(self, intent: Intent) -> bool:
        """Whether some phrase means `intent` and nothing else ("bntr" is only waiting)."""
        return any(phrase == {intent} for phrase in self.phrases)

    @property
    def substantive(self) -> bool:
        """Whether the left-over words say something (a question, details)."""
        return any(len(word) >= SUBSTANTIVE and not word.isdigit() for word in self.rest)


@dataclass(frozen=True)
class Markers:
    """Found anywhere in a message: one of `phrases`, or a word from each group of one of
    `combinations` (an offer of money: "kasih" + "biar cepat"; a person asked for: "petugas" +
    "telpon")."""

    phrases: tuple[str, ...] = ()
    combinations: tuple[tuple[frozenset[str], ...], ...] = ()

    def found_in(self, joined: str) -> bool:
        return any(f" {phrase} " in joined for phrase in self.phrases) or any(
            all(any(_has(joined, option) for option in group) for group in combination)
            for combination in self.combinations
        )


@dataclass
class IntentReader:
    """Reads messages with the phrases of _intents.yaml and the matcher's abbreviations."""

    phrases: dict[tuple[str, ...], frozenset[Intent]]
    address: frozenset[str]
    new_question: frozenset[tuple[str, ...]]
    gift: Markers
    question_words: frozenset[str]
    normalise: Normaliser
    human: Markers = Markers()
    status: Markers = Markers()
    status_words: frozenset[str] = frozenset()

    def read(self, text: str) -> Reading:
        text = TICKET_NUMBER.sub(" tiket ", text)  # "KNS-20261208-0003 gmn?": about a ticket
        words = [_DOUBLED_END.sub(r"\1", word) for word in self.normalise(text).split()]
        joined = f" {' '.join(words)} "
        gift = self.gift.found_in(joined)
        found: list[frozenset[Intent]] = []
        first: Intent | None = None
        rest: list[str] = []
        i = 0
        while i < len(words):
            length, intents = self._phrase_at(words, i)
            if length:
                opening = not any(len(w) >= SUBSTANTIVE for w in rest)
                if first is None and opening and intents - {Intent.GREETING, Intent.ACK}:
                    first = _primary(intents)  # greetings and fillers ("hmm belum") do not decide
                found.append(intents)
                i += length
                continue
            if words[i] not in self.address:
                rest.append(words[i])
            i += 1
        marker = any(self._marker_at(words, j) for j in range(len(words)))
        asks = "?" in text or any(word in self.question_words for word in words)
        human = self.human.found_in(joined)
        about_status = all(
            len(word) < SUBSTANTIVE
            or word.isdigit()
            or word in self.question_words
            or word in self.status_words
            for word in rest
        )
        status = self.status.found_in(joined)
        return Reading(
            tuple(found), tuple(rest), gift, marker, first, asks, human, about_status, status
        )

    def _phrase_at(self, words: list[str], start: int) -> tuple[int, frozenset[Intent]]:
        for length in range(min(MAX_PHRASE_WORDS, len(words) - start), 0, -1):
            candidate = tuple(words[start : start + length])
            intents = self.phrases.get(candidate)
            if intents is not None:
                return length, intents
            if length == 1 and len(candidate[0]) >= TYPO_MIN_LENGTH:
                intents = self._close(candidate[0])
                if intents:
                    return 1, intents
        return 0, frozenset()

    def _close(self, word: str) -> frozenset[Intent]:
        """Intents of a one-word phrase this word is a typo of ("trimaksih", "pahm")."""
        best: frozenset[Intent] = frozenset()
        best_score: float = TYPO_SCORE
        for phrase, intents in self.phrases.items():
            if len(phrase) != 1 or len(phrase[0]) < TYPO_MIN_LENGTH:
                continue
            score = fuzz.ratio(word, phrase[0])
            if score >= best_score:
                best, best_score = intents, score
        return best

    def _marker_at(self, words: list[str], start: int) -> bool:
        return any(
            tuple(words[start : start + len(marker)]) == marker for marker in self.new_question
        )

    def understand(self, text: str, context: Context, *, other_topic: bool = False) -> Intent:
        """The intent of `text` in `context` (see the module docstring); `other_topic`: the
        matcher is confident the text is about another topic than the CSO's ticket."""
        return decide(self.read(text), context, other_topic=other_topic)


def _primary(intents: frozenset[Intent]) -> Intent:
    for intent in (Intent.DENY, Intent.CONFIRM, Intent.THANKS, Intent.VAGUE, Intent.ACK):
        if intent in intents:
            return intent
    return next(iter(sorted(intents)))


def decide(reading: Reading, context: Context, *, other_topic: bool = False) -> Intent:
    """Where the conversation is decides between readings of the same words: "belum" answers
    "sudah terjawab?", "pagi pak" is a greeting only when nothing else is said."""
    found = reading.intents
    if reading.gift:
        return Intent.GIFT
    if reading.human:  # with their problem or without: a person is asked for
        return Intent.HUMAN
    if reading.first is not Intent.DENY and (
        reading.status_marker or (Intent.STATUS in found and reading.about_status)
    ):
        return Intent.STATUS  # "tiket saya sampai mana pak?", whatever else it mentions
    if context is Context.ANSWERED:
        if Intent.DETAILS in found and not reading.substantive:
            return Intent.DETAILS  # "lengkapnya dong pak"
        if reading.first is Intent.DENY or (Intent.DENY in found and not reading.substantive):
            return Intent.DENY
        if reading.substantive and (
            reading.asks or reading.new_question_marker or reading.first is None
        ):
            return Intent.QUESTION
        if reading.only(Intent.ACK) and not reading.only(Intent.CONFIRM):
            return Intent.ACK  # "ok bntr": still reading
        if reading.first is Intent.CONFIRM:
            return Intent.CONFIRM
        if Intent.THANKS in found and not reading.only(Intent.CONFIRM):
            return Intent.THANKS
        if Intent.CONFIRM in found:
            return Intent.CONFIRM
        if Intent.THANKS in found:
            return Intent.THANKS
        return Intent.QUESTION if reading.substantive else Intent.ACK
    if reading.substantive:
        if context is Context.WITH_CSO:
            new = reading.new_question_marker or other_topic
            return Intent.QUESTION if new else Intent.MORE
        if Intent.VAGUE in found and len([w for w in reading.rest if len(w) >= 3]) <= 2:
            return Intent.VAGUE  # "min mau nanya soal spm": the question itself is still to come
        return Intent.QUESTION
    if context is Context.WITH_CSO and Intent.VAGUE in found:
        return Intent.MORE
    for intent in (Intent.VAGUE, Intent.THANKS, Intent.GREETING):
        if intent in found:
            return intent
    return Intent.ACK


def _has(joined: str, option: str) -> bool:
    """A word (or phrase) of a gift group, also with -nya ("biayanya"); "terima kasih" is not
    "kasih"."""
    text = joined.replace(" terima kasih ", " ")
    return f" {option} " in text or f" {option}nya " in text


def load_intents(path: Path, abbreviations: dict[str, str]) -> IntentReader:
    """Read _intents.yaml; raise IntentsError naming the file and what is wrong."""
    try:
        document = load_yaml(path)
    except YamlSyntaxError as exc:
        raise IntentsError(str(exc)) from exc
    except OSError as exc:
        raise IntentsError(f"{path}: {exc}") from exc
    try:
        data = _IntentsFile.model_validate(document.data or {})
    except ValueError as exc:
        raise IntentsError(f"{path}: {exc}") from exc
    normalise = Normaliser(abbreviations, ())
    phrases: dict[tuple[str, ...], set[Intent]] = {}
    for intent, listed in data.intents.items():
        for phrase in listed:
            words = tuple(normalise(phrase).split())
            if words:
                phrases.setdefault(words, set()).add(intent)

    def markers(listed: dict[str, list[str] | list[list[list[str]]]]) -> Markers:
        def plain(text: str) -> str:
            return " ".join(normalise(text).split())

        return Markers(
            tuple(plain(p) for p in listed.get("phrases", []) if isinstance(p, str) and plain(p)),
            tuple(
                tuple(frozenset(plain(option) for option in group) for group in combination)
                for combination in listed.get("combinations", [])
                if isinstance(combination, list)
            ),
        )

    return IntentReader(
        phrases={words: frozenset(found) for words, found in phrases.items()},
        address=frozenset(normalise(word) for word in data.address if normalise(word)),
        new_question=frozenset(
            tuple(normalise(p).split()) for p in data.new_question if normalise(p)
        ),
        gift=markers(data.gift),
        question_words=frozenset(normalise(word) for word in data.question_words),
        normalise=normalise,
        status_words=frozenset(
            word for phrase in data.status_words for word in normalise(phrase).split()
        ),
        human=markers(data.human),
        status=markers(data.status_markers),
    )
