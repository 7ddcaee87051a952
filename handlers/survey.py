"""The satisfaction survey after Resolved: SKM elements scored 1–4, an optional comment, skippable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.addresses import ToStakeholder
from bot.buttons import Action, action
from bot.intents import Context, Intent
from bot.knowledge.normalise import Normaliser
from bot.messages import Button
from bot.queries import stakeholders, tickets
from bot.queries.survey import record_answer, surveyed_since
from bot.store.models import SurveyResponse, Ticket
from bot.turn import Turn
from handlers import desk

STEP = "survey"
COMMENT_STEP = "survey_comment"
SKM = "skm"  # skm:<ticket>:<element>:<score> | skm:<ticket>:skip
SKIP = "skip"
COMMENT = "comment"
# What leaves the survey at once to be handled as usual: a question, asking how far a ticket
# has got, asking for an officer.
MOVES_ON = (Intent.QUESTION, Intent.STATUS, Intent.HUMAN)
OFFERED_AT = "survey_offered_at"  # in the conversation: when the last survey was offered


async def start(turn: Turn, ticket: Ticket) -> None:
    """Ask the first question; the stakeholder's conversation remembers where the survey is.
    Nobody is asked twice within the configured period, and questions about officers only
    follow a ticket an officer worked on."""
    settings = turn.config.survey
    if not settings.enabled:
        return
    conversation = await stakeholders.conversation(turn.session, ticket.stakeholder_id)
    if conversation is None:
        return
    since = turn.now - timedelta(days=settings.min_days_between)
    if settings.min_days_between and (
        _offered_since(conversation.data, since)
        or await surveyed_since(turn.session, ticket.stakeholder_id, since)
    ):
        return
    elements = _elements_for(turn, ticket)
    conversation.step = STEP
    conversation.data = {
        **conversation.data,
        "survey": {"ticket": ticket.id, "index": 0, "elements": elements},
        OFFERED_AT: turn.now.isoformat(),
    }
    conversation.updated_at = turn.now
    turn.session.add(conversation)
    desk.tell_stakeholder(turn, ticket, "survey_intro", count=len(elements))
    _ask(turn, ticket, 0, elements)


def _offered_since(data: dict[str, Any], since: datetime) -> bool:
    """A survey offered and left unanswered also counts: asking again minutes later, after the
    next answer, is what the spacing is there to prevent."""
    offered = data.get(OFFERED_AT)
    if not isinstance(offered, str):
        return False
    try:
        return datetime.fromisoformat(offered) >= since
    except ValueError:
        return False


def _elements_for(turn: Turn, ticket: Ticket) -> list[str]:
    settings = turn.config.survey
    officer = ticket.assignee is not None
    return [e for e in settings.elements if officer or e not in settings.officer_elements]


def _state(turn: Turn) -> dict[str, Any]:
    data = turn.conversation.data.get("survey", {}) if turn.conversation is not None else {}
    return dict(data) if isinstance(data, dict) else {}


def _state_elements(turn: Turn) -> list[str]:
    listed = _state(turn).get("elements")
    return (
        [str(e) for e in listed] if isinstance(listed, list) else list(turn.config.survey.elements)
    )


def _skip(ticket: Ticket) -> Action:
    return action(SKM, ticket.id, SKIP)


def _ask(turn: Turn, ticket: Ticket, index: int, elements: list[str]) -> None:
    if index >= len(elements):
        if turn.config.survey.ask_comment:
            _set(turn, COMMENT_STEP, ticket, index, elements)
            desk.tell_stakeholder(
                turn, ticket, "survey_comment", (Button(turn.text("button_skip"), _skip(ticket)),)
            )
        else:
            _finish(turn, ticket, "survey_thanks")
        return
    element = elements[index]
    scale = turn.config.texts.survey_scale
    buttons = tuple(
        Button(f"{score} – {label}", action(SKM, ticket.id, element, score))
        for score, label in enumerate(scale, 1)
    )
    question = f"({index + 1}/{len(elements)}) {turn.config.survey.questions[element]}"
    turn.deliver(
        ToStakeholder(ticket.stakeholder_id),
        question,
        (*buttons, Button(turn.text("button_skip_survey"), _skip(ticket))),
        about=ticket,
        key="survey_question",
        values={"element": element, "index": index + 1, "count": len(elements)},
    )


def _set(turn: Turn, step: str, ticket: Ticket, index: int, elements: list[str]) -> None:
    if turn.conversation is not None:
        turn.set_step(step, survey={"ticket": ticket.id, "index": index, "elements": elements})


def _finish(turn: Turn, ticket: Ticket, name: str) -> None:
    if turn.conversation is not None:
        turn.set_step("idle")
    desk.tell_stakeholder(turn, ticket, name)


def in_survey(turn: Turn) -> bool:
    return turn.step in (STEP, COMMENT_STEP)


async def handle_button(turn: Turn, pressed: Action) -> None:
    state = _state(turn)
    ticket = await tickets.get(turn.session, pressed.int_arg(0))
    stakeholder = turn.stakeholder
    if (
        ticket is None
        or stakeholder is None
        or ticket.stakeholder_id != stakeholder.id
        or not in_survey(turn)
        or state.get("ticket") != ticket.id
    ):
        turn.say("stale_button")
        return
    turn.inbound_ticket_id = ticket.id
    if pressed.args[1:] == (SKIP,):
        turn.inbound_label = turn.text("button_skip_survey")
        _finish(turn, ticket, "survey_skipped" if turn.step == STEP else "survey_thanks")
        return
    index = int(state.get("index", 0))
    elements = _state_elements(turn)
    element, score = pressed.arg(1), pressed.int_arg(2)
    if (
        element is None
        or len(pressed.args) != 3
        or index >= len(elements)
        or element != elements[index]
        or score is None
        or not 1 <= score <= 4
    ):
        turn.say("stale_button")
        return
    turn.inbound_label = f"{element}: {score}"
    await _score(turn, ticket, index, elements, score)


async def _score(turn: Turn, ticket: Ticket, index: int, elements: list[str], score: int) -> None:
    assert ticket.id is not None
    await record_answer(
        turn.session,
        SurveyResponse(
            ticket_id=ticket.id, element=elements[index], score=score, created_at=turn.now
        ),
    )
    _set(turn, STEP, ticket, index + 1, elements)
    _ask(turn, ticket, index + 1, elements)


def typed_score(turn: Turn, text: str) -> int | None:
    """A score typed instead of pressed: "4", "sangat baik", "bagus sekali"… (config), read
    the way the conversation reads everything (abbreviations of knowledge/_language.yaml,
    letter repeats): "sgt baik" is "sangat baik", "mantaaap" is "mantap"."""
    intents = turn.knowledge.intents
    normalise = (
        intents.normalise
        if intents is not None
        else Normaliser(turn.matcher.knowledge.abbreviations, ())  # as intents would read it
    )
    words = normalise(text)
    if words.isdigit() and 1 <= int(words) <= 4:
        return int(words)
    for score, label in enumerate(turn.config.texts.survey_scale, 1):
        if words in (normalise(label), f"{score} {normalise(label)}"):
            return score
    best: tuple[int, int] | None = None  # (length of the phrase found, score)
    for score, phrases in turn.config.survey.typed_scores.items():
        for phrase in map(normalise, phrases):
            if f" {phrase} " in f" {words} " and (best is None or len(phrase) > best[0]):
                best = (len(phrase), score)
    if best is None or len(words.split()) > 6:  # a sentence is not a score
        return None
    return best[1]


async def handle_comment(turn: Turn) -> bool:
    """A text during the survey: a typed score, or the comment at its end. Anything else is
    asked about once; a question, or a second such text, leaves the survey and is handled as
    usual (False), so nothing the stakeholder wrote is lost."""
    state = _state(turn)
    ticket = await tickets.get(turn.session, int(state.get("ticket", 0)))
    if ticket is None or ticket.id is None or turn.stakeholder is None:
        turn.set_step("idle")
        return False
    if turn.step == STEP:
        index, elements = int(state.get("index", 0)), _state_elements(turn)
        score = typed_score(turn, turn.inbound.text)
        turn.inbound_ticket_id = ticket.id
        if score is not None and index < len(elements):
            await _score(turn, ticket, index, elements, score)
            return True
        reader = turn.knowledge.intents
        question = reader is not None and (
            reader.understand(turn.inbound.text, Context.IDLE) in MOVES_ON
        )
        if not question and not state.get("reasked"):
            turn.set_step(STEP, survey={**state, "reasked": True})
            turn.say_about(ticket, "survey_reask")
            return True
        turn.set_step("idle")
        turn.say_about(ticket, "survey_left")
        turn.inbound_ticket_id = None
        return False
    turn.inbound_ticket_id = ticket.id
    comment = SurveyResponse(
        ticket_id=ticket.id, element=COMMENT, comment=turn.inbound.text[:2000], created_at=turn.now
    )
    await record_answer(turn.session, comment)
    _finish(turn, ticket, "survey_thanks")
    return True
