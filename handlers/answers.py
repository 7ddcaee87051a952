"""A knowledge-base answer as the stakeholder reads it: the same from the bot and from a CSO's
/jawab, with the buttons asking whether it solved the question."""

from __future__ import annotations

from bot.buttons import action
from bot.knowledge import Entry
from bot.messages import Button
from bot.store.models import Ticket
from bot.turn import Turn

ANSWER = "answer"  # answer:<ticket id>:yes|no


def answer_message(turn: Turn, ticket: Ticket, entry: Entry) -> tuple[str, tuple[Button, ...]]:
    text = turn.text(
        "kb_answer",
        ticket=ticket.number,
        title=entry.title,
        answer=entry.render_answer(turn.config.office_values()),
        legal_basis=entry.render_legal_basis(),
    )
    return text, answer_buttons(turn, ticket)


def answer_buttons(turn: Turn, ticket: Ticket) -> tuple[Button, ...]:
    """ "Ya, terjawab" / "Belum" for the ticket's answer."""
    return (
        Button(turn.text("button_answered"), action(ANSWER, ticket.id, "yes")),
        Button(turn.text("button_not_answered"), action(ANSWER, ticket.id, "no")),
    )
