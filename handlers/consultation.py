"""SOP steps 2–6: take the question, look for the answer in the knowledge base, answer at once
when it is known, otherwise hand the ticket to a CSO with an honest promise of what happens next."""

from __future__ import annotations

from bot.buttons import Action, action
from bot.calendar import calendar_for
from bot.config import format_local
from bot.knowledge import Decision, Delivery, Entry, Match
from bot.labels import CSO_ONLY_ENTRY, GUIDANCE_ANSWER, PROVISIONAL_ANSWER
from bot.messages import Button
from bot.queries import tickets
from bot.sla import start_clocks
from bot.store.models import HANDED_OFF, Ticket, TicketStatus
from bot.tickets import next_ticket_number
from bot.turn import Turn
from handlers import desk
from handlers.answers import (
    ANSWER,
    answer_buttons,
    answer_message,
    delivery_for,
    details_message,
    handed_off_message,
)

AWAITING_QUESTION = "awaiting_question"
TOPIC = "topic"  # topic:<ticket id>:<entry id>, or "-" for none of these
NONE_OF_THESE = "-"
OFFICER_ASKED_FOR = "stakeholder asked for an officer"


async def handle_text(turn: Turn) -> None:
    """Free text from an identified stakeholder who is not in the middle of another step."""
    latest = await latest_open_ticket(turn)
    if turn.step != AWAITING_QUESTION and latest is not None:
        if latest.status in HANDED_OFF:
            await _to_the_cso(turn, latest)
            return
        if latest.status == TicketStatus.ASKED:
            # They were offered topics and wrote instead: a rephrasing of the same question.
            turn.inbound_ticket_id = latest.id
            await _search_and_answer(turn, latest, turn.inbound.text)
            return
    await ask(turn, turn.inbound.text)


async def ask(turn: Turn, question: str, intro: str | None = None, **values: str) -> Ticket:
    """A new ticket for `question`, answered from the knowledge base or handed to a CSO;
    `intro` names a text said first (e.g. why it became a new ticket)."""
    ticket = await open_ticket(turn, question)
    name = intro or "ticket_received"
    turn.say_about(ticket, name, **values)
    await _search_and_answer(turn, ticket, question)
    return ticket


async def resolve_confirmed(turn: Turn, ticket: Ticket) -> None:
    """The stakeholder says the answer solved it (the button, or typed)."""
    turn.move(ticket, TicketStatus.RESOLVED, actor="stakeholder", reason="answer confirmed")
    turn.say_about(ticket, "resolved")


async def hand_off_denied(turn: Turn, ticket: Ticket) -> None:
    """The stakeholder says the answer did not solve it: to a CSO."""
    await _hand_off(turn, ticket, reason="stakeholder says the answer did not solve it")


async def to_an_officer(turn: Turn, question: str, ticket: Ticket | None = None) -> Ticket:
    """They asked to be served by a person: the question (a new ticket, or the one whose topics
    were offered) goes to the CSO queue at once, without an answer from the knowledge base."""
    if ticket is None:
        ticket = await open_ticket(turn, question)
    turn.inbound_ticket_id = ticket.id
    await _hand_off(turn, ticket, reason=OFFICER_ASKED_FOR)
    if ticket.question != question:
        desk.relay_from_stakeholder(turn, ticket)
    return ticket


async def file_messages(turn: Turn, texts: list[str], ticket: Ticket) -> None:
    """Messages written before the ticket they belong to existed (a question kept during
    identification, or waiting for "new, or more for the ticket?") join its transcript."""
    stakeholder = turn.stakeholder
    if stakeholder is None or stakeholder.id is None or ticket.id is None:
        return
    for text in texts:
        await tickets.file_earlier_message(turn.session, stakeholder.id, text, ticket.id)


async def _to_the_cso(turn: Turn, ticket: Ticket) -> None:
    """A message about a ticket a CSO has: it goes into the ticket's desk thread."""
    turn.inbound_ticket_id = ticket.id
    if ticket.status == TicketStatus.AWAITING_DOCUMENTS and desk.says_documents_are_complete(
        turn.inbound.text
    ):
        await desk.documents_complete(turn, ticket)
        return
    desk.relay_from_stakeholder(turn, ticket)
    if ticket.assignee is None:  # nobody has answered yet: say where the message went
        turn.say_about(ticket, "attached_to_ticket", status=turn.status_label(ticket))


async def handle_file(turn: Turn) -> None:
    """A photo or document: accepted only for a ticket a CSO is handling."""
    latest = await latest_open_ticket(turn)
    if latest is None or latest.status not in HANDED_OFF:
        turn.say("file_not_expected")
        return
    turn.inbound_ticket_id = latest.id
    await desk.receive_file(turn, latest)


async def handle_documents_done(turn: Turn, pressed: Action) -> None:
    """The "Sudah semua" button under a document request."""
    ticket = await own_ticket(turn, pressed.int_arg(0))
    if ticket is None:
        turn.say("stale_button")
        return
    turn.inbound_ticket_id = ticket.id
    turn.inbound_label = turn.text("button_documents_done")
    if ticket.status != TicketStatus.AWAITING_DOCUMENTS:
        turn.say_about(ticket, "ticket_already_closed", status=turn.status_label(ticket))
        return
    await desk.documents_complete(turn, ticket)


async def open_ticket(turn: Turn, question: str) -> Ticket:
    stakeholder = turn.stakeholder
    assert stakeholder is not None and stakeholder.id is not None
    office = turn.config.current_office
    ticket = Ticket(
        number=await next_ticket_number(
            turn.session, turn.config.service.ticket_prefix, turn.now, office.timezone
        ),
        office=turn.config.office,
        stakeholder_id=stakeholder.id,
        channel=turn.inbound.channel,
        status="",
        question=question,
        opened_at=turn.now,
        updated_at=turn.now,
    )
    start_clocks(turn.config, ticket, turn.now)
    turn.session.add(ticket)
    await turn.session.flush()
    turn.move(ticket, TicketStatus.ASKED, actor="stakeholder", reason="question received")
    turn.inbound_ticket_id = ticket.id
    if turn.step == AWAITING_QUESTION:
        turn.set_step("idle")
    return ticket


async def _search_and_answer(turn: Turn, ticket: Ticket, question: str) -> None:
    turn.typing()
    match = turn.matcher.match(question)
    _remember_match(ticket, match)
    if match.decision is Decision.ANSWER and match.best is not None:
        entry = turn.matcher.knowledge.entry(match.best.id)
        if entry is not None:
            await _answer(
                turn, ticket, entry, reason=f"knowledge base match {match.best.score:.0f}"
            )
            return
    if match.decision is Decision.CLARIFY:
        buttons = _topic_buttons(turn, ticket, [candidate.id for candidate in match.candidates])
        turn.reply(turn.text("clarify"), buttons, ticket_id=ticket.id, key="clarify")
        return
    out_of_scope = (
        turn.matcher.knowledge.out_of_scope_topic(match.out_of_scope_id)
        if match.out_of_scope_id
        else None
    )
    if out_of_scope is not None:
        reply = out_of_scope.render_reply(turn.config.office_values())
        await _hand_off(
            turn,
            ticket,
            reason=f"out of scope: {out_of_scope.id}",
            text_name="handoff_out_of_scope",
            reply=reply,
        )
    else:
        await _hand_off(turn, ticket, reason="no knowledge base answer")


def _topic_buttons(turn: Turn, ticket: Ticket, entry_ids: list[str]) -> tuple[Button, ...]:
    buttons = []
    for entry_id in entry_ids:
        entry = turn.matcher.knowledge.entry(entry_id)
        if entry is not None:
            buttons.append(Button(entry.title, action(TOPIC, ticket.id, entry.id)))
    buttons.append(
        Button(turn.text("button_none_of_these"), action(TOPIC, ticket.id, NONE_OF_THESE))
    )
    return tuple(buttons)


def offer_topics_again(turn: Turn, ticket: Ticket) -> None:
    """Small talk while topics are offered ("ok", "makasih mbak", a thumbs-up) is not a new
    wording of the question to search again, nor a "none of these": the same choice, again."""
    offered = [
        str(candidate["id"])
        for candidate in ticket.match_candidates
        if candidate.get("id") and not candidate.get("out_of_scope")
    ]
    turn.inbound_ticket_id = ticket.id
    buttons = _topic_buttons(turn, ticket, offered)
    turn.say_about(ticket, "clarify_again", buttons, none=turn.text("button_none_of_these"))


def _remember_match(ticket: Ticket, match: Match) -> None:
    ticket.match_candidates = [{"id": c.id, "score": c.score} for c in match.candidates]
    if match.best is not None:
        ticket.match_score = match.best.score
    if match.out_of_scope_id:
        ticket.match_candidates = [
            {"id": match.out_of_scope_id, "out_of_scope": True},
            *ticket.match_candidates,
        ]


async def _answer(turn: Turn, ticket: Ticket, entry: Entry, *, reason: str) -> None:
    """Send the entry's answer as its delivery allows: settled only when it was reviewed."""
    ticket.topic_id = entry.id
    delivery = delivery_for(turn.config, entry)
    if delivery is Delivery.ANSWER:
        if not entry.verified:  # the office chose to send unverified entries as answers
            reason = f"unverified entry {entry.id} sent as an answer"
        ticket.first_answer_at = ticket.first_answer_at or turn.now
        turn.move(ticket, TicketStatus.ANSWERED, actor="bot", reason=reason)
        text, buttons = answer_message(turn, ticket, entry)
        turn.reply(text, buttons, ticket_id=ticket.id, key="kb_answer", values={"topic": entry.id})
        return
    if delivery is Delivery.CSO_ONLY:
        await _hand_off(turn, ticket, reason=CSO_ONLY_ENTRY.format(topic=entry.id))
        return
    # Provisional, or guidance that cannot state the key fact: the message itself says a CSO
    # takes over, so no "sudah terjawab?" is asked.
    reason = (PROVISIONAL_ANSWER if delivery is Delivery.PROVISIONAL else GUIDANCE_ANSWER).format(
        topic=entry.id
    )
    text, buttons = handed_off_message(turn, ticket, entry, delivery)
    key = f"kb_{delivery.value}"
    turn.reply(text, buttons, ticket_id=ticket.id, key=key, values={"topic": entry.id})
    await _hand_off(turn, ticket, reason=reason, text_name=None)


async def _hand_off(
    turn: Turn, ticket: Ticket, *, reason: str, text_name: str | None = "handoff", **values: str
) -> None:
    """To the CSO queue, telling the stakeholder with `text_name` (None: they were told)."""
    turn.move(ticket, TicketStatus.QUEUED, actor="bot", reason=reason)
    ticket.section = ticket.section or _section(turn, ticket)
    if text_name is not None:
        turn.say_about(ticket, text_name, deadline=turn.deadline_text(ticket), **values)
    calendar = calendar_for(turn.config)
    if not calendar.is_working_time(turn.now):
        # Officers read it when the office opens: say when, in the office's calendar.
        opens = format_local(
            calendar.next_working_start(turn.now), turn.config.current_office.timezone
        )
        turn.say_about(ticket, "outside_service_hours", opens=opens)
    assert turn.stakeholder is not None
    await desk.hand_off(turn, ticket, turn.stakeholder)


def _section(turn: Turn, ticket: Ticket) -> str | None:
    """The section that owns the topic: the answered one, else the best candidate."""
    for topic in [ticket.topic_id, *(c["id"] for c in ticket.match_candidates)]:
        entry = turn.matcher.knowledge.entry(topic) if topic else None
        if entry is not None:
            return entry.section
    return None


async def handle_button(turn: Turn, pressed: Action) -> None:
    """ "Ya, terjawab" / "Belum" under an answer, or a topic chosen from a clarification."""
    ticket = await own_ticket(turn, pressed.int_arg(0))
    choice = pressed.arg(1)
    if ticket is None or not choice:
        turn.say("stale_button")
        return
    turn.inbound_ticket_id = ticket.id
    expected = TicketStatus.ANSWERED if pressed.name == ANSWER else TicketStatus.ASKED
    if ticket.status != expected:
        turn.say_about(ticket, "ticket_already_closed", status=turn.status_label(ticket))
        return
    if pressed.name == ANSWER:
        if choice == "yes":
            turn.inbound_label = turn.text("button_answered")
            await resolve_confirmed(turn, ticket)
        else:
            turn.inbound_label = turn.text("button_not_answered")
            await hand_off_denied(turn, ticket)
            turn.say_about(ticket, "ask_what_is_unclear")
        return
    if choice == NONE_OF_THESE:
        turn.inbound_label = turn.text("button_none_of_these")
        await _hand_off(turn, ticket, reason="no offered topic fits")
        return
    entry = turn.matcher.knowledge.entry(choice)
    if entry is None:
        turn.say("stale_button")
        return
    turn.inbound_label = entry.title
    await _answer(turn, ticket, entry, reason="topic chosen by the stakeholder")


async def own_ticket(turn: Turn, ticket_id: int | None) -> Ticket | None:
    """The ticket a button names, only if it belongs to whoever pressed it (data can be forged)."""
    if turn.stakeholder is None:
        return None
    ticket = await tickets.get(turn.session, ticket_id)
    if ticket is None or ticket.stakeholder_id != turn.stakeholder.id:
        return None
    return ticket


async def latest_open_ticket(turn: Turn) -> Ticket | None:
    assert turn.stakeholder is not None and turn.stakeholder.id is not None
    return await tickets.latest_open(turn.session, turn.stakeholder.id)


async def handle_more(turn: Turn, pressed: Action) -> None:
    """ "Selengkapnya": the details of an answer; still under its "sudah terjawab?" buttons
    while the ticket waits for that confirmation."""
    ticket = await own_ticket(turn, pressed.int_arg(0))
    entry = turn.matcher.knowledge.entry(pressed.arg(1) or "")
    if ticket is None or entry is None or not entry.details:
        turn.say("stale_button")
        return
    turn.inbound_ticket_id = ticket.id
    turn.inbound_label = turn.text("button_more")
    awaiting = ticket.status == TicketStatus.ANSWERED and ticket.topic_id == entry.id
    turn.reply(
        details_message(turn, entry),
        answer_buttons(turn, ticket) if awaiting else (),
        ticket_id=ticket.id,
        key="kb_details",
        values={"topic": entry.id},
    )
