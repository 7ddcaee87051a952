"""The satisfaction survey after Resolved: SKM elements scored 1–4, an optional comment, skippable."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.messages import Button, Outbound
from bot.store.models import Conversation, Stakeholder, SurveyResponse, Ticket
from bot.turn import Turn

STEP = "survey"
COMMENT_STEP = "survey_comment"
BUTTON = "skm:"  # skm:<ticket>:<element>:<score> | skm:<ticket>:skip
COMMENT = "comment"


async def start(turn: Turn, ticket: Ticket) -> None:
    """Ask the first question; the stakeholder's conversation remembers where the survey is."""
    settings = turn.config.survey
    if not settings.enabled:
        return
    stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
    conversation = await turn.session.get(Conversation, ticket.stakeholder_id)
    if stakeholder is None or conversation is None:
        return
    conversation.step = STEP
    conversation.data = {**conversation.data, "survey": {"ticket": ticket.id, "index": 0}}
    conversation.updated_at = turn.now
    turn.session.add(conversation)
    intro = turn.text("survey_intro", count=len(settings.elements))
    _send(turn, stakeholder, ticket, intro)
    _ask(turn, stakeholder, ticket, 0)


def _send(turn: Turn, stakeholder: Stakeholder, ticket: Ticket, text: str, buttons: tuple[Button, ...] = ()) -> None:
    turn.send(Outbound(text, buttons, ticket_id=ticket.id, stakeholder_id=stakeholder.id, channel=stakeholder.channel, chat_id=stakeholder.chat_id))


def _ask(turn: Turn, stakeholder: Stakeholder, ticket: Ticket, index: int) -> None:
    elements = turn.config.survey.elements
    if index >= len(elements):
        if turn.config.survey.ask_comment:
            _set(turn, COMMENT_STEP, ticket, index)
            _send(turn, stakeholder, ticket, turn.text("survey_comment"), (Button(turn.text("button_skip"), f"{BUTTON}{ticket.id}:skip"),))
        else:
            _finish(turn, stakeholder, ticket, "survey_thanks")
        return
    element = elements[index]
    scale = turn.config.texts.survey_scale
    buttons = tuple(Button(f"{score} – {label}", f"{BUTTON}{ticket.id}:{element}:{score}") for score, label in enumerate(scale, 1))
    question = f"({index + 1}/{len(elements)}) {turn.config.survey.questions[element]}"
    _send(turn, stakeholder, ticket, question, (*buttons, Button(turn.text("button_skip_survey"), f"{BUTTON}{ticket.id}:skip")))


def _set(turn: Turn, step: str, ticket: Ticket, index: int) -> None:
    if turn.conversation is not None:
        turn.set_step(step, survey={"ticket": ticket.id, "index": index})


def _finish(turn: Turn, stakeholder: Stakeholder, ticket: Ticket, text: str) -> None:
    if turn.conversation is not None:
        turn.set_step("idle")
    _send(turn, stakeholder, ticket, turn.text(text))


def in_survey(turn: Turn) -> bool:
    return turn.step in (STEP, COMMENT_STEP)


async def handle_button(turn: Turn) -> None:
    parts = (turn.inbound.data or "").removeprefix(BUTTON).split(":")
    state = turn.conversation.data.get("survey", {}) if turn.conversation is not None else {}
    ticket = await turn.session.get(Ticket, int(parts[0])) if parts[0].isdigit() else None
    stakeholder = turn.stakeholder
    if ticket is None or stakeholder is None or ticket.stakeholder_id != stakeholder.id or not in_survey(turn) or state.get("ticket") != ticket.id:
        turn.say("stale_button")
        return
    turn.inbound_ticket_id = ticket.id
    if parts[1:] == ["skip"]:
        turn.inbound_label = turn.text("button_skip_survey")
        _finish(turn, stakeholder, ticket, "survey_skipped" if turn.step == STEP else "survey_thanks")
        return
    index = int(state.get("index", 0))
    elements = turn.config.survey.elements
    if len(parts) != 3 or index >= len(elements) or parts[1] != elements[index] or not parts[2].isdigit() or not 1 <= int(parts[2]) <= 4:
        turn.say("stale_button")
        return
    turn.inbound_label = f"{parts[1]}: {parts[2]}"
    await _store(turn, SurveyResponse(ticket_id=ticket.id, element=parts[1], score=int(parts[2]), created_at=turn.now))  # type: ignore[arg-type]
    _set(turn, STEP, ticket, index + 1)
    _ask(turn, stakeholder, ticket, index + 1)


async def handle_comment(turn: Turn) -> bool:
    """A text during the survey: the comment at its end; otherwise the survey is left behind."""
    state = turn.conversation.data.get("survey", {}) if turn.conversation is not None else {}
    ticket = await turn.session.get(Ticket, int(state.get("ticket", 0)))
    if turn.step != COMMENT_STEP or ticket is None or turn.stakeholder is None:
        turn.set_step("idle")  # they moved on to something else
        return False
    turn.inbound_ticket_id = ticket.id
    await _store(turn, SurveyResponse(ticket_id=ticket.id, element=COMMENT, comment=turn.inbound.text[:2000], created_at=turn.now))  # type: ignore[arg-type]
    _finish(turn, turn.stakeholder, ticket, "survey_thanks")
    return True


async def _store(turn: Turn, response: SurveyResponse) -> None:
    try:
        async with turn.session.begin_nested():
            turn.session.add(response)
    except IntegrityError:
        pass  # answered already (a button pressed twice): the first answer stands
