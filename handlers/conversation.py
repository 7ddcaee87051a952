"""What a stakeholder types between questions, read where the conversation is (bot/intents.py):
a typed "belum"/"sudah jelas" under an answer works like its button, small talk gets a short
polite reply instead of a ticket, an offer of money gets the no-gratification reply, and a new
question while a CSO has a ticket is not silently added to it. Anything else is a question."""

from __future__ import annotations

from bot.addresses import ToStaffRole
from bot.buttons import Action, action
from bot.intents import Context, Intent, Reading, decide
from bot.messages import Button
from bot.roles import SUPERVISOR
from bot.store.models import HANDED_OFF, Ticket, TicketEvent, TicketStatus
from bot.turn import Turn
from handlers import consultation, desk, identification, ticket_status
from handlers.answers import MORE, answer_buttons, more_button

WHICH = "which"  # which:<ticket id>:new|more — a new question, or more for the open ticket
PENDING = "pending_text"  # the message waiting for that choice
SMALL_TALK = {
    Intent.GREETING: "smalltalk_greeting",
    Intent.VAGUE: "smalltalk_vague",
    Intent.THANKS: "smalltalk_thanks",
    Intent.ACK: "smalltalk_ack",
}
GIFT_REASON = "gratification offered"


async def handle_text(turn: Turn) -> None:
    reader = turn.knowledge.intents
    if reader is None or turn.step == consultation.AWAITING_QUESTION:
        await consultation.handle_text(turn)
        return
    text = turn.inbound.text
    latest = await consultation.latest_open_ticket(turn)
    waiting = _take_waiting_question(turn)
    if waiting is not None:
        latest = await _settle_waiting_question(turn, latest, waiting)
        if not reader.read(text).substantive:  # "makasih pak", "ok": said in the reply above
            turn.inbound_ticket_id = latest.id if latest is not None else None
            return
    if latest is not None and latest.status == TicketStatus.ANSWERED:
        reading = reader.read(text)
        await _under_an_answer(turn, latest, decide(reading, Context.ANSWERED), reading)
    elif latest is not None and latest.status in HANDED_OFF:
        other = _other_topic(turn, latest, text)
        intent = reader.understand(text, Context.WITH_CSO, other_topic=other)
        await _with_cso(turn, latest, intent, other)
    else:
        intent = reader.understand(text, Context.IDLE)
        if intent is Intent.GIFT:
            _refuse_gift(turn, latest)
        elif intent is Intent.STATUS:
            await ticket_status.show(turn)
        elif intent is Intent.HUMAN:  # the topics offered, if any, are not what they want
            asked = latest if latest is not None and latest.status == TicketStatus.ASKED else None
            await consultation.to_an_officer(turn, text, asked)
        elif intent in SMALL_TALK and latest is not None and latest.status == TicketStatus.ASKED:
            consultation.offer_topics_again(turn, latest)
        elif intent in SMALL_TALK:
            name = turn.stakeholder.full_name if turn.stakeholder else None
            turn.say(SMALL_TALK[intent], name=identification.polite_name(name))
        else:
            await consultation.handle_text(turn)


async def _under_an_answer(turn: Turn, ticket: Ticket, intent: Intent, reading: Reading) -> None:
    """A typed reply to "sudah terjawab?" works like the buttons."""
    turn.inbound_ticket_id = ticket.id
    if intent in (Intent.CONFIRM, Intent.THANKS):
        await consultation.resolve_confirmed(turn, ticket)
    elif intent is Intent.DENY:
        await consultation.hand_off_denied(turn, ticket)
        if reading.substantive:
            desk.relay_from_stakeholder(turn, ticket)  # what is still unclear, for the CSO
        else:
            turn.say_about(ticket, "ask_what_is_unclear")
    elif intent is Intent.GIFT:
        _refuse_gift(turn, ticket)
    elif intent is Intent.HUMAN:  # the answer is not enough: to an officer, with what they said
        await consultation.hand_off_denied(turn, ticket)
        desk.relay_from_stakeholder(turn, ticket)
    elif intent is Intent.STATUS:
        await ticket_status.show(turn)
    elif intent in (Intent.ACK, Intent.DETAILS):
        entry = turn.matcher.knowledge.entry(ticket.topic_id or "")
        more = more_button(turn, ticket, entry) if entry is not None else ()
        if intent is Intent.DETAILS and entry is not None and more:  # "lengkapnya dong pak"
            await consultation.handle_more(turn, action(MORE, ticket.id, entry.id))
            return
        # Still reading (or the details were in the answer already): its buttons again.
        turn.say_about(ticket, "answer_confirm_prompt", answer_buttons(turn, ticket) + more)
    else:
        turn.inbound_ticket_id = None
        await consultation.handle_text(turn)  # a new question: a new ticket


async def _with_cso(turn: Turn, ticket: Ticket, intent: Intent, other_topic: bool) -> None:
    if intent is Intent.GIFT:
        turn.inbound_ticket_id = ticket.id
        _refuse_gift(turn, ticket)
        return
    if intent in (Intent.HUMAN, Intent.STATUS):  # the officer who has it reads it too
        turn.inbound_ticket_id = ticket.id
        desk.relay_from_stakeholder(turn, ticket)
        if intent is Intent.HUMAN:
            turn.say_about(ticket, "human_with_cso", status=turn.status_label(ticket))
        else:
            await ticket_status.show(turn)
        return
    if intent is not Intent.QUESTION:
        await consultation.handle_text(turn)  # more for the CSO's ticket
        return
    if other_topic:
        await consultation.ask(turn, turn.inbound.text, "new_ticket_while_cso", old=ticket.number)
        return
    # Phrased as a new question, but the topic is not clear: ask.
    turn.set_step("idle", **{PENDING: turn.inbound.text})
    turn.say(
        "which_question",
        [
            Button(turn.text("button_new_question"), action(WHICH, ticket.id, "new")),
            Button(
                turn.text("button_more_for_ticket", ticket=ticket.number),
                action(WHICH, ticket.id, "more"),
            ),
        ],
        ticket=ticket.number,
    )


def _take_waiting_question(turn: Turn) -> str | None:
    """The question still waiting for "new, or more for the ticket?", now taken off the
    conversation (the stakeholder wrote something else instead of choosing)."""
    if turn.conversation is None:
        return None
    text = str(turn.conversation.data.get(PENDING) or "")
    if not text:
        return None
    turn.set_step(turn.step, **{PENDING: None})
    return text


async def ask_waiting_question(turn: Turn) -> bool:
    """/baru typed in answer to "new, or more for the ticket?": the waiting question is the new
    question. False when no question was waiting."""
    question = _take_waiting_question(turn)
    if question is None:
        return False
    turn.set_step("idle")
    await consultation.file_messages(turn, [question], await consultation.ask(turn, question))
    return True


def drop_waiting_question(turn: Turn) -> bool:
    """/batal instead of choosing: the question stays in the transcript only."""
    return _take_waiting_question(turn) is not None


async def _settle_waiting_question(
    turn: Turn, latest: Ticket | None, question: str
) -> Ticket | None:
    """A question is never dropped because its sender did not press a button: it goes to the
    CSO who has their ticket (a person reads it, and can still open a ticket for it), or, when
    that ticket has been closed meanwhile, it is asked as a new one. Returns the latest open
    ticket afterwards."""
    if latest is not None and latest.status in HANDED_OFF:
        await consultation.file_messages(turn, [question], latest)
        desk.relay_text(turn, latest, question)
        turn.say_about(latest, "waiting_question_added", text=_excerpt(question))
        return latest
    ticket = await consultation.ask(turn, question)
    await consultation.file_messages(turn, [question], ticket)
    return ticket


def _excerpt(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def handle_which(turn: Turn, pressed: Action) -> None:
    """The answer to "a new question, or more for ticket KNS-…?"."""
    assert turn.conversation is not None
    text = str(turn.conversation.data.get(PENDING) or "")
    ticket = await consultation.own_ticket(turn, pressed.int_arg(0))
    if not text or ticket is None or pressed.arg(1) not in ("new", "more"):
        turn.say("stale_button")
        return
    turn.set_step("idle", **{PENDING: None})
    if pressed.arg(1) == "new":
        turn.inbound_label = turn.text("button_new_question")
        asked = await consultation.ask(turn, text, "new_ticket_while_cso", old=ticket.number)
        await consultation.file_messages(turn, [text], asked)
        return
    turn.inbound_label = turn.text("button_more_for_ticket", ticket=ticket.number)
    turn.inbound_ticket_id = ticket.id
    if ticket.status not in HANDED_OFF:  # closed meanwhile: the question is asked on its own
        turn.say_about(ticket, "ticket_already_closed", status=turn.status_label(ticket))
        turn.inbound_ticket_id = None
        await consultation.file_messages(turn, [text], await consultation.ask(turn, text))
        return
    await consultation.file_messages(turn, [text], ticket)
    desk.relay_text(turn, ticket, text)
    turn.say_about(ticket, "added_to_ticket")


def _other_topic(turn: Turn, ticket: Ticket, text: str) -> bool:
    """The matcher is sure the message is about a topic the ticket is not about."""
    topic = turn.matcher.sure_topic(text)
    if topic is None:
        return False
    floor = turn.config.matcher.clarify_score  # weaker candidates say nothing of the topic
    known = {ticket.topic_id}
    known |= {str(c.get("id")) for c in ticket.match_candidates if c.get("score", 0) >= floor}
    return topic not in known


def _refuse_gift(turn: Turn, ticket: Ticket | None) -> None:
    """The service is free and officers accept nothing: say so with the complaint channels,
    and mark the ticket for the supervisor. Nothing is promised."""
    turn.say("gift_refused")
    if ticket is None or ticket.id is None:
        return
    turn.inbound_ticket_id = ticket.id
    turn.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=turn.now,
            actor="stakeholder",
            from_status=ticket.status,
            to_status=ticket.status,
            reason=GIFT_REASON,
        )
    )
    turn.tell(
        ToStaffRole(SUPERVISOR),
        "desk_gift_offered",
        about=ticket,
        internal=True,
        ticket=ticket.number,
        text=turn.inbound.text[:300],
    )
