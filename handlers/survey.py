"""The satisfaction survey after Resolved: SKM elements scored 1–4, an optional comment, skippable."""

from __future__ import annotations

from bot.addresses import ToStakeholder
from bot.buttons import Action, action
from bot.messages import Button
from bot.queries import stakeholders, tickets
from bot.queries.survey import record_answer
from bot.store.models import SurveyResponse, Ticket
from bot.turn import Turn
from handlers import desk

STEP = "survey"
COMMENT_STEP = "survey_comment"
SKM = "skm"  # skm:<ticket>:<element>:<score> | skm:<ticket>:skip
SKIP = "skip"
COMMENT = "comment"


async def start(turn: Turn, ticket: Ticket) -> None:
    """Ask the first question; the stakeholder's conversation remembers where the survey is."""
    settings = turn.config.survey
    if not settings.enabled:
        return
    conversation = await stakeholders.conversation(turn.session, ticket.stakeholder_id)
    if conversation is None:
        return
    conversation.step = STEP
    conversation.data = {**conversation.data, "survey": {"ticket": ticket.id, "index": 0}}
    conversation.updated_at = turn.now
    turn.session.add(conversation)
    desk.tell_stakeholder(turn, ticket, "survey_intro", count=len(settings.elements))
    _ask(turn, ticket, 0)


def _skip(ticket: Ticket) -> Action:
    return action(SKM, ticket.id, SKIP)


def _ask(turn: Turn, ticket: Ticket, index: int) -> None:
    elements = turn.config.survey.elements
    if index >= len(elements):
        if turn.config.survey.ask_comment:
            _set(turn, COMMENT_STEP, ticket, index)
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


def _set(turn: Turn, step: str, ticket: Ticket, index: int) -> None:
    if turn.conversation is not None:
        turn.set_step(step, survey={"ticket": ticket.id, "index": index})


def _finish(turn: Turn, ticket: Ticket, name: str) -> None:
    if turn.conversation is not None:
        turn.set_step("idle")
    desk.tell_stakeholder(turn, ticket, name)


def in_survey(turn: Turn) -> bool:
    return turn.step in (STEP, COMMENT_STEP)


async def handle_button(turn: Turn, pressed: Action) -> None:
    state = turn.conversation.data.get("survey", {}) if turn.conversation is not None else {}
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
    elements = turn.config.survey.elements
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
    assert ticket.id is not None
    await record_answer(
        turn.session,
        SurveyResponse(ticket_id=ticket.id, element=element, score=score, created_at=turn.now),
    )
    _set(turn, STEP, ticket, index + 1)
    _ask(turn, ticket, index + 1)


async def handle_comment(turn: Turn) -> bool:
    """A text during the survey: the comment at its end; otherwise the survey is left behind."""
    state = turn.conversation.data.get("survey", {}) if turn.conversation is not None else {}
    ticket = await tickets.get(turn.session, int(state.get("ticket", 0)))
    if (
        turn.step != COMMENT_STEP
        or ticket is None
        or ticket.id is None
        or turn.stakeholder is None
    ):
        turn.set_step("idle")  # they moved on to something else
        return False
    turn.inbound_ticket_id = ticket.id
    comment = SurveyResponse(
        ticket_id=ticket.id, element=COMMENT, comment=turn.inbound.text[:2000], created_at=turn.now
    )
    await record_answer(turn.session, comment)
    _finish(turn, ticket, "survey_thanks")
    return True
