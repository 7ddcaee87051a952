"""A knowledge-base answer as the stakeholder reads it: the same from the bot and from a CSO's
/jawab. The direct answer comes first; long details wait behind "Selengkapnya", so the key
sentence is what a phone shows without scrolling."""

from __future__ import annotations

from bot.buttons import action
from bot.config import Config
from bot.knowledge import Delivery, Entry
from bot.messages import Button
from bot.store.models import Ticket
from bot.turn import Turn

ANSWER = "answer"  # answer:<ticket id>:yes|no
MORE = "more"  # more:<ticket id>:<entry id>


def delivery_for(config: Config, entry: Entry) -> Delivery:
    """The office's choice for this entry, else the entry's own, else by its verification."""
    chosen = config.knowledge.delivery.get(entry.id)
    if chosen is not None:
        return Delivery(chosen)
    if entry.delivery is not None:
        return entry.delivery
    return Delivery.ANSWER if entry.verified else Delivery(config.knowledge.unverified)


def details_inline(config: Config, entry: Entry) -> bool:
    return len(entry.details or "") <= config.knowledge.inline_details_max


def _body(turn: Turn, entry: Entry) -> str:
    """The direct answer, followed by the details when they are short enough to come along."""
    values = turn.config.office_values()
    answer = entry.render_answer(values)
    if entry.details and details_inline(turn.config, entry):
        return f"{answer}\n\n{entry.render_details(values)}"
    return answer


def more_button(turn: Turn, ticket: Ticket, entry: Entry) -> tuple[Button, ...]:
    if not entry.details or details_inline(turn.config, entry):
        return ()
    return (Button(turn.text("button_more"), action(MORE, ticket.id, entry.id)),)


def answer_message(turn: Turn, ticket: Ticket, entry: Entry) -> tuple[str, tuple[Button, ...]]:
    text = turn.text(
        "kb_answer",
        ticket=ticket.number,
        title=entry.title,
        answer=_body(turn, entry),
        legal_basis=entry.render_legal_basis(),
    )
    return text, answer_buttons(turn, ticket) + more_button(turn, ticket, entry)


def handed_off_message(
    turn: Turn, ticket: Ticket, entry: Entry, delivery: Delivery
) -> tuple[str, tuple[Button, ...]]:
    """A provisional answer, or guidance that cannot state the key fact: sent, and the ticket
    goes to a CSO, so no "sudah terjawab?" is asked."""
    text = turn.text(
        "kb_provisional" if delivery is Delivery.PROVISIONAL else "kb_guidance",
        ticket=ticket.number,
        title=entry.title,
        answer=_body(turn, entry),
        legal_basis=entry.render_legal_basis(),
        deadline=turn.deadline_text(ticket),
    )
    return text, more_button(turn, ticket, entry)


def details_message(turn: Turn, entry: Entry) -> str:
    return turn.text(
        "kb_details",
        title=entry.title,
        details=entry.render_details(turn.config.office_values()),
        legal_basis=entry.render_legal_basis(),
    )


def answer_buttons(turn: Turn, ticket: Ticket) -> tuple[Button, ...]:
    """ "Ya, terjawab" / "Belum" for the ticket's answer."""
    return (
        Button(turn.text("button_answered"), action(ANSWER, ticket.id, "yes")),
        Button(turn.text("button_not_answered"), action(ANSWER, ticket.id, "no")),
    )
