"""SOP steps 2–6: take the question, look for the answer in the knowledge base, answer at once
when it is known, otherwise hand the ticket to a CSO with an honest promise of what happens next."""

from __future__ import annotations

from sqlmodel import select

from bot.knowledge import Decision, Entry, Match
from bot.messages import Button
from bot.sla import start_clocks
from bot.store.models import HANDED_OFF, Ticket, TicketStatus
from bot.tickets import change_status, next_ticket_number
from bot.turn import Turn
from handlers import desk

AWAITING_QUESTION = "awaiting_question"
ANSWER_BUTTON = "answer:"  # answer:<ticket id>:yes|no
TOPIC_BUTTON = "topic:"  # topic:<ticket id>:<entry id>, or "-" for none of these
NONE_OF_THESE = "-"


async def handle_text(turn: Turn) -> None:
    """Free text from an identified stakeholder who is not in the middle of another step."""
    stakeholder = turn.stakeholder
    assert stakeholder is not None
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
    ticket = await open_ticket(turn, turn.inbound.text)
    turn.reply(turn.text("ticket_received", ticket=ticket.number), ticket_id=ticket.id)
    await _search_and_answer(turn, ticket, turn.inbound.text)


async def _to_the_cso(turn: Turn, ticket: Ticket) -> None:
    """A message about a ticket a CSO has: it goes into the ticket's desk thread."""
    turn.inbound_ticket_id = ticket.id
    if ticket.status == TicketStatus.AWAITING_DOCUMENTS and desk.says_documents_are_complete(turn.inbound.text):
        await desk.documents_complete(turn, ticket)
        return
    await desk.relay_from_stakeholder(turn, ticket)
    if ticket.assignee is None:  # nobody has answered yet: say where the message went
        status = turn.config.texts.status_labels.get(ticket.status, ticket.status)
        turn.reply(turn.text("attached_to_ticket", ticket=ticket.number, status=status), ticket_id=ticket.id)


async def handle_file(turn: Turn) -> None:
    """A photo or document: accepted only for a ticket a CSO is handling."""
    latest = await latest_open_ticket(turn)
    if latest is None or latest.status not in HANDED_OFF:
        turn.say("file_not_expected")
        return
    turn.inbound_ticket_id = latest.id
    await desk.receive_file(turn, latest)


async def handle_documents_done(turn: Turn) -> None:
    """The "Sudah semua" button under a document request."""
    ticket = await _own_ticket(turn, (turn.inbound.data or "").removeprefix(desk.DOCUMENTS_DONE))
    if ticket is None:
        turn.say("stale_button")
        return
    turn.inbound_ticket_id = ticket.id
    turn.inbound_label = turn.text("button_documents_done")
    if ticket.status != TicketStatus.AWAITING_DOCUMENTS:
        label = turn.config.texts.status_labels.get(ticket.status, ticket.status)
        turn.reply(turn.text("ticket_already_closed", ticket=ticket.number, status=label), ticket_id=ticket.id)
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
    change_status(turn.session, ticket, TicketStatus.ASKED, actor="stakeholder", reason="question received", at=turn.now)
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
            _answer(turn, ticket, entry, reason=f"knowledge base match {match.best.score:.0f}")
            return
    if match.decision is Decision.CLARIFY:
        buttons = []
        for candidate in match.candidates:
            entry = turn.matcher.knowledge.entry(candidate.id)
            if entry is not None:
                buttons.append(Button(entry.title, f"{TOPIC_BUTTON}{ticket.id}:{entry.id}"))
        buttons.append(Button(turn.text("button_none_of_these"), f"{TOPIC_BUTTON}{ticket.id}:{NONE_OF_THESE}"))
        turn.reply(turn.text("clarify"), buttons, ticket_id=ticket.id)
        return
    out_of_scope = (
        turn.matcher.knowledge.out_of_scope_topic(match.out_of_scope_id)
        if match.out_of_scope_id
        else None
    )
    if out_of_scope is not None:
        reply = out_of_scope.render_reply(turn.config.office_values())
        await _hand_off(turn, ticket, reason=f"out of scope: {out_of_scope.id}", text_name="handoff_out_of_scope", reply=reply)
    else:
        await _hand_off(turn, ticket, reason="no knowledge base answer")


def _remember_match(ticket: Ticket, match: Match) -> None:
    ticket.match_candidates = [{"id": c.id, "score": c.score} for c in match.candidates]
    if match.best is not None:
        ticket.match_score = match.best.score
    if match.out_of_scope_id:
        ticket.match_candidates = [{"id": match.out_of_scope_id, "out_of_scope": True}, *ticket.match_candidates]


def _answer(turn: Turn, ticket: Ticket, entry: Entry, *, reason: str) -> None:
    ticket.topic_id = entry.id
    ticket.first_answer_at = ticket.first_answer_at or turn.now
    change_status(turn.session, ticket, TicketStatus.ANSWERED, actor="bot", reason=reason, at=turn.now)
    text, buttons = answer_message(turn, ticket, entry)
    turn.reply(text, buttons, ticket_id=ticket.id)


def answer_message(turn: Turn, ticket: Ticket, entry: Entry) -> tuple[str, tuple[Button, ...]]:
    """A knowledge-base answer with its legal basis, and the buttons asking whether it solved it."""
    text = turn.text(
        "kb_answer",
        ticket=ticket.number,
        title=entry.title,
        answer=entry.render_answer(turn.config.office_values()),
        legal_basis=entry.render_legal_basis(),
    )
    buttons = (
        Button(turn.text("button_answered"), f"{ANSWER_BUTTON}{ticket.id}:yes"),
        Button(turn.text("button_not_answered"), f"{ANSWER_BUTTON}{ticket.id}:no"),
    )
    return text, buttons


async def _hand_off(turn: Turn, ticket: Ticket, *, reason: str, text_name: str = "handoff", **values: str) -> None:
    change_status(turn.session, ticket, TicketStatus.QUEUED, actor="bot", reason=reason, at=turn.now)
    ticket.section = ticket.section or _section(turn, ticket)
    turn.reply(turn.text(text_name, ticket=ticket.number, deadline=turn.deadline_text(ticket), **values), ticket_id=ticket.id)
    assert turn.stakeholder is not None
    await desk.hand_off(turn, ticket, turn.stakeholder)


def _section(turn: Turn, ticket: Ticket) -> str | None:
    """The section that owns the topic: the answered one, else the best candidate."""
    for topic in [ticket.topic_id, *(c["id"] for c in ticket.match_candidates)]:
        entry = turn.matcher.knowledge.entry(topic) if topic else None
        if entry is not None:
            return entry.section
    return None


async def handle_button(turn: Turn) -> None:
    """"Ya, terjawab" / "Belum" under an answer, or a topic chosen from a clarification."""
    data = turn.inbound.data or ""
    prefix = ANSWER_BUTTON if data.startswith(ANSWER_BUTTON) else TOPIC_BUTTON
    ticket_part, _, choice = data.removeprefix(prefix).partition(":")
    ticket = await _own_ticket(turn, ticket_part)
    if ticket is None or not choice:
        turn.say("stale_button")
        return
    turn.inbound_ticket_id = ticket.id
    expected = TicketStatus.ANSWERED if prefix == ANSWER_BUTTON else TicketStatus.ASKED
    if ticket.status != expected:
        label = turn.config.texts.status_labels.get(ticket.status, ticket.status)
        turn.reply(turn.text("ticket_already_closed", ticket=ticket.number, status=label), ticket_id=ticket.id)
        return
    if prefix == ANSWER_BUTTON:
        if choice == "yes":
            turn.inbound_label = turn.text("button_answered")
            change_status(turn.session, ticket, TicketStatus.RESOLVED, actor="stakeholder", reason="answer confirmed", at=turn.now)
            turn.reply(turn.text("resolved", ticket=ticket.number), ticket_id=ticket.id)
        else:
            turn.inbound_label = turn.text("button_not_answered")
            await _hand_off(turn, ticket, reason="stakeholder says the answer did not solve it")
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
    _answer(turn, ticket, entry, reason="topic chosen by the stakeholder")


async def _own_ticket(turn: Turn, ticket_part: str) -> Ticket | None:
    """The ticket a button names, only if it belongs to whoever pressed it (data can be forged)."""
    if not ticket_part.isdigit() or turn.stakeholder is None:
        return None
    ticket = await turn.session.get(Ticket, int(ticket_part))
    if ticket is None or ticket.stakeholder_id != turn.stakeholder.id:
        return None
    return ticket


async def latest_open_ticket(turn: Turn) -> Ticket | None:
    assert turn.stakeholder is not None
    query = (
        select(Ticket)
        .where(Ticket.stakeholder_id == turn.stakeholder.id, Ticket.status != TicketStatus.RESOLVED)
        .order_by(Ticket.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    return (await turn.session.exec(query)).one_or_none()


async def open_tickets(turn: Turn) -> list[Ticket]:
    assert turn.stakeholder is not None
    query = (
        select(Ticket)
        .where(Ticket.stakeholder_id == turn.stakeholder.id, Ticket.status != TicketStatus.RESOLVED)
        .order_by(Ticket.id)  # type: ignore[arg-type]
    )
    return list((await turn.session.exec(query)).all())
