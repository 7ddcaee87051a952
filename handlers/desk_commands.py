"""What CSO staff do at the desk: take a ticket, write to the stakeholder, note, request
documents, escalate, resolve, hand back to the bot, reopen, list the queue.

Staff work in a ticket's own thread of the staff group, or, without a group, in their private
chat after `/ambil N`. Staff messages enter the transcript as what they cause (the relayed
text, the status events), never as raw commands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.buttons import Action, action
from bot.knowledge import Entry
from bot.labels import CSO_KB_ANSWER, RESOLVED_BY_CSO
from bot.messages import Button, InboundKind, OutgoingFile, ThreadAction
from bot.queries import stakeholders, tickets
from bot.queries.staff import current as current_staff_session
from bot.queries.staff import session_of
from bot.roles import CSO
from bot.store.models import HANDED_OFF, Direction, Message, Ticket, TicketStatus
from bot.turn import Turn
from handlers import desk, escalation
from handlers.answers import answer_message

DOCUMENT_PICK = "pick"  # pick:<ticket id>:<index> — a CSO adds a document to the request
DOCUMENTS_SEND = "pick_send"  # pick_send:<ticket id>


@dataclass(frozen=True)
class Place:
    """Where a staff member is talking: which ticket, and whether inside its desk thread."""

    ticket: Ticket | None
    in_thread: bool


async def handle_staff(turn: Turn) -> None:
    """Commands, relays and button presses from a staff member."""
    turn.record_inbound = False  # staff messages enter the transcript as what they cause
    inbound = turn.inbound
    place = await where(turn)
    if inbound.kind is InboundKind.BUTTON:
        await _staff_button(turn, place)
        return
    if inbound.kind is InboundKind.COMMAND:
        handler = STAFF_COMMANDS.get(inbound.command or "")
        if handler is None:
            if not desk.is_desk_chat(turn):
                turn.say("desk_help")
            return
        await handler(turn, place, inbound.args)
        return
    if place.ticket is None:
        if inbound.is_private:
            turn.say("desk_help")
        return  # chatter in the group's general thread is for people, not for the bot
    await _relay_to_stakeholder(turn, place.ticket)


async def where(turn: Turn) -> Place:
    inbound = turn.inbound
    if desk.is_desk_chat(turn):
        if inbound.thread_id is None:
            return Place(None, False)
        return Place(
            await tickets.in_desk_thread(turn.session, inbound.chat_id, inbound.thread_id), True
        )
    staff_session = await current_staff_session(turn.session, inbound.channel, inbound.user_id)
    ticket = await tickets.get(turn.session, staff_session.ticket_id if staff_session else None)
    return Place(ticket, False)


def desk_reply(
    turn: Turn, place: Place, name: str, buttons: tuple[Button, ...] = (), /, **values: str | int
) -> None:
    """Answer the staff member where they are (the thread, or their private chat)."""
    if place.ticket is not None and place.in_thread:
        desk.post_text(turn, place.ticket, name, buttons, **values)
    else:
        turn.say(name, buttons, **values)


async def _relay_to_stakeholder(turn: Turn, ticket: Ticket) -> None:
    inbound = turn.inbound
    if ticket.status == TicketStatus.RESOLVED:
        desk_reply(turn, Place(ticket, desk.is_desk_chat(turn)), "desk_ticket_closed")
        return
    desk.take_if_free(turn, ticket, announce=False)
    ticket.first_answer_at = ticket.first_answer_at or turn.now
    turn.session.add(ticket)
    actor = f"cso:{desk.officer(turn)}"
    if inbound.kind is InboundKind.FILE and inbound.file is not None:
        file = await desk.file_for_ticket(turn, ticket, Direction.OUT)
        if file is None and inbound.platform_message_id is not None:
            source = (inbound.channel, inbound.chat_id, inbound.platform_message_id)
            file = OutgoingFile(None, inbound.file.name, source)
        caption = desk.file_label(inbound.file.name, inbound.text)
        desk.notify_stakeholder(turn, ticket, caption, actor=actor, file=file)
    else:
        text = turn.text("cso_message", text=inbound.text)
        desk.notify_stakeholder(turn, ticket, text, actor=actor, key="cso_message")


async def _need_ticket(turn: Turn, place: Place) -> Ticket | None:
    if place.ticket is None:
        desk_reply(turn, place, "desk_not_in_ticket")
    return place.ticket


async def _open_for(turn: Turn, place: Place, ticket: Ticket) -> bool:
    """Whether staff may act on the ticket now: it is with the CSOs and not a colleague's."""
    if ticket.status == TicketStatus.RESOLVED:
        desk_reply(turn, place, "desk_ticket_closed")
        return False
    if ticket.status not in HANDED_OFF:  # the bot still has it (asked, answered)
        desk_reply(
            turn,
            place,
            "desk_not_with_cso",
            ticket=ticket.number,
            status=turn.staff_status_label(ticket),
        )
        return False
    officer = desk.officer(turn)
    staff = turn.staff
    if ticket.assignee not in (None, officer) and staff is not None and staff.role == CSO:
        desk_reply(turn, place, "desk_already_taken", officer=ticket.assignee or "-")
        return False
    return True


async def _remember(turn: Turn, ticket: Ticket | None) -> None:
    """The ticket a CSO working in a private chat is answering."""
    inbound = turn.inbound
    staff_session = await session_of(turn.session, inbound.channel, inbound.user_id, turn.now)
    staff_session.ticket_id = ticket.id if ticket is not None else None


async def take(turn: Turn, place: Place, argument: str) -> None:
    """/ambil (in a thread) or /ambil N (anywhere): this officer handles the ticket."""
    ticket = place.ticket
    if argument:
        number = argument.removeprefix("#")
        ticket = (
            await tickets.get(turn.session, int(number))
            if number.isascii() and number.isdigit()
            else await tickets.by_number(turn.session, argument)
        )
        if ticket is None:
            turn.say("desk_unknown_ticket", ticket=argument)
            return
        same = place.ticket is not None and place.ticket.id == ticket.id
        place = Place(ticket, place.in_thread and same)
    if ticket is None:
        desk_reply(turn, place, "desk_not_in_ticket")
        return
    if ticket.status == TicketStatus.RESOLVED and not place.in_thread:
        await _remember(turn, ticket)  # so that /buka can reopen it from this private chat
    if not await _open_for(turn, place, ticket):
        return
    if not desk.take_if_free(turn, ticket, announce=True):
        desk_reply(turn, place, "desk_already_taken", officer=ticket.assignee or "-")
        return
    if not place.in_thread:
        await _remember(turn, ticket)
        stakeholder = await stakeholders.get(turn.session, ticket.stakeholder_id)
        assert stakeholder is not None
        turn.reply(await desk.ticket_card(turn, ticket, stakeholder), key="desk_card")


async def note(turn: Turn, place: Place, argument: str) -> None:
    """/catatan <teks>: an internal note in the transcript, never shown to the stakeholder."""
    ticket = await _need_ticket(turn, place)
    if ticket is None:
        return
    if not argument:
        desk_reply(turn, place, "desk_need_text", command="/catatan")
        return
    turn.notes.append(
        Message(
            stakeholder_id=ticket.stakeholder_id,
            ticket_id=ticket.id,
            channel=turn.inbound.channel,
            chat_id=turn.inbound.chat_id,
            direction=Direction.OUT,
            actor=f"cso:{desk.officer(turn)}",
            kind="note",
            text=argument,
            internal=True,
            created_at=turn.now,
        )
    )
    desk_reply(turn, place, "desk_note_saved")


async def request_documents(turn: Turn, place: Place, argument: str) -> None:
    """/dokumen <daftar>: ask for these; /dokumen alone: pick from the topic's usual documents."""
    ticket = await _need_ticket(turn, place)
    if ticket is None or not await _open_for(turn, place, ticket):
        return
    if argument:
        parts = argument.replace("\n", ";").split(";")
        items = [item.strip(" -•") for item in parts if item.strip(" -•")]
        await _send_document_request(turn, place, ticket, items)
        return
    entry = _entry_of(turn, ticket)
    if entry is None or not entry.documents:
        desk_reply(turn, place, "desk_documents_usage")
        return
    buttons = tuple(
        Button(f"➕ {document}"[:60], action(DOCUMENT_PICK, ticket.id, index))
        for index, document in enumerate(entry.documents)
    ) + (Button(turn.text("button_send_request"), action(DOCUMENTS_SEND, ticket.id)),)
    inbound = turn.inbound
    staff_session = await session_of(turn.session, inbound.channel, inbound.user_id, turn.now)
    staff_session.picking_ticket_id, staff_session.picked = ticket.id, []
    desk_reply(turn, place, "desk_documents_menu", buttons, topic=entry.title)


def _entry_of(turn: Turn, ticket: Ticket) -> Entry | None:
    """The topic the bot answered, else its best candidate: whose usual documents to offer."""
    candidates = [c["id"] for c in ticket.match_candidates if not c.get("out_of_scope")]
    return turn.matcher.knowledge.entry(ticket.topic_id or (candidates[0] if candidates else ""))


async def _send_document_request(
    turn: Turn, place: Place, ticket: Ticket, items: list[str]
) -> None:
    if not items:
        desk_reply(turn, place, "desk_documents_usage")
        return
    desk.take_if_free(turn, ticket, announce=False)
    ticket.requested_documents = items
    turn.session.add(ticket)
    if ticket.status != TicketStatus.AWAITING_DOCUMENTS:
        turn.move(
            ticket,
            TicketStatus.AWAITING_DOCUMENTS,
            actor=f"cso:{desk.officer(turn)}",
            reason="documents requested",
        )
    rules = turn.config.desk.documents
    checklist = "\n".join(f"{n}. {item}" for n, item in enumerate(items, 1))
    desk.tell_stakeholder(
        turn,
        ticket,
        "documents_requested",
        (desk.documents_done_button(turn, ticket),),
        ticket=ticket.number,
        documents=checklist,
        types=", ".join(t.upper() for t in rules.accepted_types),
        max_mb=f"{rules.max_size_mb:g}",
    )
    desk_reply(turn, place, "desk_documents_sent", documents=checklist)


async def _staff_button(turn: Turn, place: Place) -> None:
    pressed: Action | None = turn.inbound.action
    if pressed is None or pressed.name not in (DOCUMENT_PICK, DOCUMENTS_SEND):
        desk_reply(turn, place, "stale_button")
        return
    ticket = await tickets.get(turn.session, pressed.int_arg(0))
    if ticket is None:
        desk_reply(turn, place, "stale_button")
        return
    place = Place(ticket, place.in_thread)
    entry = _entry_of(turn, ticket)
    documents = list(entry.documents) if entry is not None else []
    inbound = turn.inbound
    staff_session = await session_of(turn.session, inbound.channel, inbound.user_id, turn.now)
    picking = staff_session.picking_ticket_id == ticket.id
    chosen = list(staff_session.picked) if picking else []
    if pressed.name == DOCUMENT_PICK:
        index = pressed.int_arg(1)
        if index is None or index >= len(documents):
            desk_reply(turn, place, "stale_button")
            return
        if index not in chosen:
            chosen.append(index)
        staff_session.picking_ticket_id, staff_session.picked = ticket.id, chosen
        desk_reply(
            turn, place, "desk_document_picked", document=documents[index], count=len(chosen)
        )
        return
    staff_session.picking_ticket_id, staff_session.picked = None, []
    await _send_document_request(
        turn, place, ticket, [documents[i] for i in chosen if i < len(documents)]
    )


async def escalate(turn: Turn, place: Place, argument: str) -> None:
    """/eskalasi [alasan]: to the Kepala Seksi of the section owning the topic, personally."""
    ticket = await _need_ticket(turn, place)
    if ticket is None or not await _open_for(turn, place, ticket):
        return
    section = escalation.section_of(turn, ticket)
    if escalation.head_of(turn, section) is None:
        desk_reply(turn, place, "desk_no_head", section=section or "-")
        return
    desk.take_if_free(turn, ticket, announce=False)
    officer = desk.officer(turn)
    reason = argument or "-"
    head = await escalation.escalate(
        turn, ticket, by=officer, actor=f"cso:{officer}", reason=reason
    )
    assert head is not None
    section_name = turn.config.sections.get(section or "", section or "-")
    desk_reply(
        turn,
        place,
        "desk_escalated",
        head=head.name,
        section=section_name,
        officer=officer,
        reason=reason,
    )


async def resolve(turn: Turn, place: Place, argument: str) -> None:
    """/selesai <jawaban>: the stakeholder gets the answer and Resolved; the thread is closed."""
    ticket = await _need_ticket(turn, place)
    if ticket is None or not await _open_for(turn, place, ticket):
        return
    if not argument:
        desk_reply(turn, place, "desk_need_text", command="/selesai")
        return
    desk.take_if_free(turn, ticket, announce=False)
    officer = desk.officer(turn)
    ticket.first_answer_at = ticket.first_answer_at or turn.now
    turn.move(ticket, TicketStatus.RESOLVED, actor=f"cso:{officer}", reason=RESOLVED_BY_CSO)
    text = turn.text("resolved_by_cso", ticket=ticket.number, answer=argument)
    desk.notify_stakeholder(turn, ticket, text, actor=f"cso:{officer}", key="resolved_by_cso")
    desk_reply(turn, place, "desk_resolved", officer=officer, answer=argument)
    if desk.has_group(turn):
        desk.post(turn, ticket, ticket.number, thread_action=ThreadAction.CLOSE)
    if not place.in_thread:
        await _remember(turn, None)


async def answer_from_knowledge(turn: Turn, place: Place, argument: str) -> None:
    """/jawab <id-topik>: hand back to the bot, which sends that knowledge-base answer."""
    ticket = await _need_ticket(turn, place)
    if ticket is None or not await _open_for(turn, place, ticket):
        return
    entry = turn.matcher.knowledge.entry(argument.strip())
    if entry is None:
        desk_reply(turn, place, "desk_unknown_topic", topic=argument or "-")
        return
    desk.take_if_free(turn, ticket, announce=False)
    ticket.topic_id = entry.id
    ticket.first_answer_at = ticket.first_answer_at or turn.now
    turn.move(
        ticket,
        TicketStatus.ANSWERED,
        actor=f"cso:{desk.officer(turn)}",
        reason=CSO_KB_ANSWER.format(topic=entry.id),
    )
    text, buttons = answer_message(turn, ticket, entry)
    desk.notify_stakeholder(turn, ticket, text, buttons, key="kb_answer")
    desk_reply(turn, place, "desk_handed_to_bot", topic=entry.id)


async def reopen(turn: Turn, place: Place, argument: str) -> None:
    """/buka: a resolved ticket goes back to the queue, and its thread is reopened."""
    ticket = await _need_ticket(turn, place)
    if ticket is None:
        return
    if ticket.status != TicketStatus.RESOLVED:
        desk_reply(turn, place, "desk_not_resolved")
        return
    officer = desk.officer(turn)
    turn.move(
        ticket,
        TicketStatus.QUEUED,
        actor=f"cso:{officer}",
        reason=f"reopened: {argument or '-'}"[:200],
    )
    ticket.resolved_at = None
    ticket.assignee = None
    turn.session.add(ticket)
    if desk.has_group(turn):
        desk.post(turn, ticket, ticket.number, thread_action=ThreadAction.REOPEN)
    desk_reply(turn, place, "desk_reopened", officer=officer)
    desk.tell_stakeholder(turn, ticket, "reopened_notice", ticket=ticket.number)


async def queue(turn: Turn, place: Place, argument: str) -> None:
    """/antrian: open tickets, oldest first, with who has them."""
    waiting = await tickets.with_status(
        turn.session, {s.value for s in HANDED_OFF}, turn.config.office
    )
    if not waiting:
        turn.say("desk_queue_empty")
        return
    zone = ZoneInfo(turn.config.current_office.timezone)
    lines = [turn.text("desk_queue_header", count=len(waiting))]
    for ticket in waiting:
        hours = int((turn.now - ticket.opened_at).total_seconds() // 3600)
        lines.append(
            turn.text(
                "desk_queue_line",
                id=ticket.id,
                ticket=ticket.number,
                status=turn.staff_status_label(ticket),
                opened=ticket.opened_at.astimezone(zone).strftime("%d-%m %H.%M"),
                age=f"{hours // 24} hr {hours % 24} j" if hours >= 24 else f"{hours} j",
                deadline=turn.deadline_text(ticket),
                officer=ticket.assignee or "-",
                summary=desk.summary(ticket),
            )
        )
    turn.reply("\n\n".join(lines), key="desk_queue")  # a split keeps each ticket whole


async def help_(turn: Turn, place: Place, argument: str) -> None:
    desk_reply(turn, place, "desk_help")


STAFF_COMMANDS: dict[str, Callable[[Turn, Place, str], Awaitable[None]]] = {
    "ambil": take,
    "catatan": note,
    "dokumen": request_documents,
    "eskalasi": escalate,
    "selesai": resolve,
    "jawab": answer_from_knowledge,
    "buka": reopen,
    "antrian": queue,
    "bantuan": help_,
    "help": help_,
}
