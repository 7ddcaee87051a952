"""The CSO desk: SOP steps 4–6 done by people. Hand-off, relay both ways, document requests,
escalation to the Kepala Seksi, resolution.

Staff work in a ticket's own thread of the staff group (a Telegram forum topic), or, without a
group, in their private chat after `/ambil N`. Everything here is channel-neutral: it addresses
"the ticket's desk thread" or "the stakeholder of the ticket", and the outbox resolves where that
is at delivery time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.config import format_local
from bot.files import file_into_ticket, problem
from bot.messages import Button, InboundKind, Outbound, ThreadAction
from bot.store.models import (
    HANDED_OFF,
    Attachment,
    Direction,
    Message,
    StaffSession,
    Stakeholder,
    Ticket,
    TicketStatus,
)
from bot.tickets import change_status, tickets_with_status
from bot.turn import Turn

DESK_CHANNEL = "telegram"  # the staff group lives on Telegram
DOCUMENTS_DONE = "docs:"  # docs:<ticket id> — the stakeholder says everything was sent
DOCUMENT_PICK = "pick:"  # pick:<ticket id>:<index> — a CSO adds a document to the request
DOCUMENTS_SEND = "picksend:"  # picksend:<ticket id>
DONE_WORDS = ("sudah semua", "sudah lengkap", "selesai kirim", "sdh semua", "udah semua")
SUMMARY_LENGTH = 60


@dataclass(frozen=True)
class Place:
    """Where a staff member is talking: which ticket, and whether inside its desk thread."""

    ticket: Ticket | None
    in_thread: bool


# ---- what the rest of the SOP calls -----------------------------------------------------------


def desk_group(turn: Turn) -> str | None:
    group = turn.config.desk.telegram_group_id
    return str(group) if group is not None else None


def is_desk_chat(turn: Turn) -> bool:
    return turn.inbound.chat_id == desk_group(turn)


async def hand_off(turn: Turn, ticket: Ticket, stakeholder: Stakeholder) -> None:
    """A ticket entered the CSO queue: open its thread with the card, or tell the CSOs privately."""
    card = await ticket_card(turn, ticket, stakeholder)
    group = desk_group(turn)
    if group is not None and ticket.desk_thread_id is None:
        title = f"{ticket.number} · {stakeholder.satker_code or stakeholder.organisation or '-'} · {summary(ticket)}"
        post_desk(turn, ticket, title[:128], action=ThreadAction.OPEN)
        post_desk(turn, ticket, card)
    elif group is not None:
        post_desk(turn, ticket, turn.text("desk_requeued", ticket=ticket.number))
    else:
        for member in turn.config.staff_with_role("cso"):
            account = member.account(DESK_CHANNEL)
            if account is not None:
                turn.send(
                    Outbound(
                        f"{card}\n\n{turn.text('desk_take_hint', id=ticket.id)}",
                        ticket_id=ticket.id,
                        stakeholder_id=ticket.stakeholder_id,
                        channel=DESK_CHANNEL,
                        chat_id=account,
                        internal=True,
                    )
                )


async def relay_from_stakeholder(turn: Turn, ticket: Ticket) -> None:
    """A message from the stakeholder while a CSO has the ticket: into its thread."""
    stakeholder = turn.stakeholder
    assert stakeholder is not None
    inbound = turn.inbound
    name = stakeholder.full_name or "Stakeholder"
    if inbound.kind is InboundKind.FILE and inbound.platform_message_id is not None:
        post_desk(turn, ticket, turn.text("desk_file_from_stakeholder", name=name), copy_of=(inbound.chat_id, inbound.platform_message_id))
    else:
        post_desk(turn, ticket, turn.text("desk_from_stakeholder", name=name, text=inbound.text))


def post_desk(
    turn: Turn,
    ticket: Ticket,
    text: str,
    *,
    action: ThreadAction | None = None,
    copy_of: tuple[str, str] | None = None,
    buttons: tuple[Button, ...] = (),
) -> None:
    """Post into the ticket's thread; without a staff group, to whoever has the ticket."""
    group = desk_group(turn)
    targets: list[str] = []
    if group is not None:
        targets = [group]
    elif ticket.assignee is not None:
        member = next((m for m in turn.config.staff if m.name == ticket.assignee), None)
        account = member.account(DESK_CHANNEL) if member is not None else None
        targets = [account] if account is not None else []
    for target in targets:
        turn.send(
            Outbound(
                text,
                buttons,
                ticket_id=ticket.id,
                stakeholder_id=ticket.stakeholder_id,
                channel=DESK_CHANNEL,
                chat_id=target,
                desk_ticket_id=ticket.id if group is not None else None,
                thread_action=action,
                copy_of=copy_of,
                internal=True,
            )
        )


async def receive_file(turn: Turn, ticket: Ticket) -> None:
    """A photo or document from the stakeholder for a ticket with a CSO: check, file, relay."""
    stakeholder = turn.stakeholder
    incoming = turn.inbound.file
    assert stakeholder is not None and incoming is not None
    rules = turn.config.desk.documents
    types = ", ".join(t.upper() for t in rules.accepted_types)
    reason = incoming.error or problem(incoming.name, incoming.file_type, incoming.size, rules)
    if reason == "type":
        reply_to_stakeholder(turn, ticket, turn.text("document_rejected_type", name=incoming.name, types=types))
        return
    if reason == "too_large":
        size = f"{incoming.size / 1024 / 1024:.1f}".replace(".", ",")
        reply_to_stakeholder(
            turn, ticket, turn.text("document_too_large", name=incoming.name, size=size, max_mb=f"{rules.max_size_mb:g}")
        )
        return
    if reason is not None or incoming.stored is None or incoming.sha256 is None:
        reply_to_stakeholder(turn, ticket, turn.text("document_download_failed", name=incoming.name))
        return
    path = file_into_ticket(turn.data_dir, incoming.stored, ticket.number, incoming.name)
    turn.session.add(
        Attachment(
            ticket_id=ticket.id,
            direction=Direction.IN,
            file_name=path.rsplit("/", 1)[-1],
            file_type=incoming.file_type,
            size=incoming.size,
            sha256=incoming.sha256,
            path=path,
            created_at=turn.now,
        )
    )
    await turn.session.flush()
    turn.inbound_label = f"[berkas] {incoming.name}"
    await relay_from_stakeholder(turn, ticket)
    count = await attachment_count(turn, ticket)
    reply_to_stakeholder(turn, ticket, turn.text("document_received", name=incoming.name, count=count, ticket=ticket.number))


def says_documents_are_complete(text: str) -> bool:
    folded = " ".join(text.casefold().split())
    return any(word in folded for word in DONE_WORDS)


async def documents_complete(turn: Turn, ticket: Ticket) -> None:
    """The stakeholder says every requested document was sent: back to the CSO."""
    count = await attachment_count(turn, ticket)
    change_status(turn.session, ticket, TicketStatus.IN_PROGRESS, actor="stakeholder", reason="documents complete", at=turn.now)
    reply_to_stakeholder(turn, ticket, turn.text("documents_complete", count=count, ticket=ticket.number))
    post_desk(turn, ticket, turn.text("desk_documents_complete", count=count))


def reply_to_stakeholder(turn: Turn, ticket: Ticket, text: str, buttons: tuple[Button, ...] = ()) -> None:
    turn.reply(text, buttons, ticket_id=ticket.id)


async def attachment_count(turn: Turn, ticket: Ticket) -> int:
    query = select(Attachment).where(Attachment.ticket_id == ticket.id, Attachment.direction == Direction.IN)
    return len((await turn.session.exec(query)).all())


# ---- staff --------------------------------------------------------------------------------------


def is_staff_turn(turn: Turn) -> bool:
    """Staff talking to the desk: in the staff group, or privately to the bot."""
    return turn.staff is not None and (is_desk_chat(turn) or turn.inbound.is_private)


async def handle_staff(turn: Turn) -> None:
    """Commands, relays and button presses from a staff member."""
    turn.record_inbound = False  # staff messages enter the transcript as what they cause
    inbound = turn.inbound
    place = await where(turn)
    if inbound.kind is InboundKind.BUTTON:
        await _staff_button(turn, place)
        return
    if inbound.kind is InboundKind.COMMAND:
        command = inbound.command or ""
        handler = STAFF_COMMANDS.get(command)
        if handler is None:
            if not is_desk_chat(turn):
                turn.reply(turn.text("desk_help"))
            return
        await handler(turn, place, argument(turn))
        return
    if place.ticket is None:
        if inbound.is_private:
            turn.reply(turn.text("desk_help"))
        return  # chatter in the group's general thread is for people, not for the bot
    await _relay_to_stakeholder(turn, place.ticket)


async def where(turn: Turn) -> Place:
    inbound = turn.inbound
    if is_desk_chat(turn):
        if inbound.thread_id is None:
            return Place(None, False)
        query = select(Ticket).where(Ticket.desk_chat_id == inbound.chat_id, Ticket.desk_thread_id == inbound.thread_id)
        return Place((await turn.session.exec(query)).first(), True)
    session = await turn.session.get(StaffSession, (inbound.channel, inbound.user_id))
    ticket = await turn.session.get(Ticket, session.ticket_id) if session and session.ticket_id else None
    return Place(ticket, False)


def argument(turn: Turn) -> str:
    text = turn.inbound.text.strip()
    return text.split(None, 1)[1].strip() if text.startswith("/") and " " in text else ""


def officer(turn: Turn) -> str:
    assert turn.staff is not None
    return turn.staff.name


def desk_reply(turn: Turn, place: Place, text: str, buttons: tuple[Button, ...] = ()) -> None:
    """Answer the staff member where they are (the thread, or their private chat)."""
    if place.ticket is not None and place.in_thread:
        post_desk(turn, place.ticket, text, buttons=buttons)
    else:
        turn.reply(text, buttons)


async def _relay_to_stakeholder(turn: Turn, ticket: Ticket) -> None:
    inbound = turn.inbound
    if ticket.status == TicketStatus.RESOLVED:
        desk_reply(turn, Place(ticket, is_desk_chat(turn)), turn.text("desk_ticket_closed"))
        return
    await _take_if_free(turn, ticket, announce=False)
    stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
    assert stakeholder is not None
    ticket.first_answer_at = ticket.first_answer_at or turn.now
    turn.session.add(ticket)
    actor = f"cso:{officer(turn)}"
    if inbound.kind is InboundKind.FILE and inbound.platform_message_id is not None:
        copy = (inbound.chat_id, inbound.platform_message_id)
        turn.send(_to_stakeholder(turn, ticket, stakeholder, f"[berkas] {inbound.text}".strip(), actor, copy_of=copy))
    else:
        text = turn.text("cso_message", text=inbound.text)
        turn.send(_to_stakeholder(turn, ticket, stakeholder, text, actor))


def _to_stakeholder(
    turn: Turn,
    ticket: Ticket,
    stakeholder: Stakeholder,
    text: str,
    actor: str = "bot",
    *,
    copy_of: tuple[str, str] | None = None,
    buttons: tuple[Button, ...] = (),
) -> Outbound:
    return Outbound(
        text,
        buttons,
        ticket_id=ticket.id,
        stakeholder_id=stakeholder.id,
        channel=stakeholder.channel,
        chat_id=stakeholder.chat_id,
        actor=actor,
        copy_of=copy_of,
    )


async def _notify_stakeholder(turn: Turn, ticket: Ticket, text: str, buttons: tuple[Button, ...] = ()) -> None:
    stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
    assert stakeholder is not None
    turn.send(_to_stakeholder(turn, ticket, stakeholder, text, buttons=buttons))


async def _take_if_free(turn: Turn, ticket: Ticket, *, announce: bool) -> bool:
    """Assign a waiting ticket to this officer; False when a colleague already has it."""
    name = officer(turn)
    if ticket.assignee is not None and ticket.assignee != name:
        return False
    if ticket.assignee is None:
        ticket.assignee = name
        turn.session.add(ticket)
        if announce or ticket.status == TicketStatus.QUEUED:
            post_desk(turn, ticket, turn.text("desk_taken", officer=name))
            await _notify_stakeholder(turn, ticket, turn.text("ticket_taken", ticket=ticket.number, officer=name))
    if ticket.status == TicketStatus.QUEUED:
        change_status(turn.session, ticket, TicketStatus.IN_PROGRESS, actor=f"cso:{name}", reason="taken", at=turn.now)
    return True


async def _need_ticket(turn: Turn, place: Place) -> Ticket | None:
    if place.ticket is None:
        desk_reply(turn, place, turn.text("desk_not_in_ticket"))
    return place.ticket


async def take(turn: Turn, place: Place, argument: str) -> None:
    """/ambil (in a thread) or /ambil N (anywhere): this officer handles the ticket."""
    ticket = place.ticket
    if argument:
        number = argument.removeprefix("#")
        ticket = await turn.session.get(Ticket, int(number)) if number.isdigit() else None
        if ticket is None:
            query = select(Ticket).where(Ticket.number == argument.upper())
            ticket = (await turn.session.exec(query)).first()
        if ticket is None:
            turn.reply(turn.text("desk_unknown_ticket", ticket=argument))
            return
        place = Place(ticket, place.in_thread and place.ticket is not None and place.ticket.id == ticket.id)
    if ticket is None:
        desk_reply(turn, place, turn.text("desk_not_in_ticket"))
        return
    if ticket.status == TicketStatus.RESOLVED:
        desk_reply(turn, place, turn.text("desk_ticket_closed"))
        return
    if not await _take_if_free(turn, ticket, announce=True):
        desk_reply(turn, place, turn.text("desk_already_taken", officer=ticket.assignee))
        return
    if not place.in_thread:
        await _remember(turn, ticket)
        stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
        assert stakeholder is not None
        turn.reply(await ticket_card(turn, ticket, stakeholder))


async def _staff_session(turn: Turn) -> StaffSession:
    key = (turn.inbound.channel, turn.inbound.user_id)
    session = await turn.session.get(StaffSession, key)
    if session is None:
        session = StaffSession(channel=key[0], user_id=key[1], updated_at=turn.now)
    session.updated_at = turn.now
    return session


async def _remember(turn: Turn, ticket: Ticket | None) -> None:
    """The ticket a CSO working in a private chat is answering."""
    session = await _staff_session(turn)
    session.ticket_id = ticket.id if ticket is not None else None
    turn.session.add(session)


async def note(turn: Turn, place: Place, argument: str) -> None:
    """/catatan <teks>: an internal note in the transcript, never shown to the stakeholder."""
    ticket = await _need_ticket(turn, place)
    if ticket is None:
        return
    if not argument:
        desk_reply(turn, place, turn.text("desk_need_text", command="/catatan"))
        return
    turn.notes.append(
        Message(
            stakeholder_id=ticket.stakeholder_id,
            ticket_id=ticket.id,
            channel=turn.inbound.channel,
            chat_id=turn.inbound.chat_id,
            direction=Direction.OUT,
            actor=f"cso:{officer(turn)}",
            kind="note",
            text=argument,
            internal=True,
            created_at=turn.now,
        )
    )
    desk_reply(turn, place, turn.text("desk_note_saved"))


async def request_documents(turn: Turn, place: Place, argument: str) -> None:
    """/dokumen <daftar>: ask for these; /dokumen alone: pick from the topic's usual documents."""
    ticket = await _need_ticket(turn, place)
    if ticket is None or not await _open_for(turn, place, ticket):
        return
    if argument:
        items = [item.strip(" -•") for item in argument.replace("\n", ";").split(";") if item.strip(" -•")]
        await _send_document_request(turn, place, ticket, items)
        return
    entry = turn.matcher.knowledge.entry(ticket.topic_id or _best_candidate(ticket) or "")
    if entry is None or not entry.documents:
        desk_reply(turn, place, turn.text("desk_documents_usage"))
        return
    buttons = tuple(
        Button(f"➕ {document}"[:60], f"{DOCUMENT_PICK}{ticket.id}:{index}") for index, document in enumerate(entry.documents)
    ) + (Button(turn.text("button_send_request"), f"{DOCUMENTS_SEND}{ticket.id}"),)
    session = await _staff_session(turn)
    session.picking_ticket_id, session.picked = ticket.id, []
    turn.session.add(session)
    desk_reply(turn, place, turn.text("desk_documents_menu", topic=entry.title), buttons)


async def _send_document_request(turn: Turn, place: Place, ticket: Ticket, items: list[str]) -> None:
    if not items:
        desk_reply(turn, place, turn.text("desk_documents_usage"))
        return
    await _take_if_free(turn, ticket, announce=False)
    ticket.requested_documents = items
    turn.session.add(ticket)
    if ticket.status != TicketStatus.AWAITING_DOCUMENTS:
        change_status(turn.session, ticket, TicketStatus.AWAITING_DOCUMENTS, actor=f"cso:{officer(turn)}", reason="documents requested", at=turn.now)
    rules = turn.config.desk.documents
    checklist = "\n".join(f"{n}. {item}" for n, item in enumerate(items, 1))
    text = turn.text(
        "documents_requested",
        ticket=ticket.number,
        documents=checklist,
        types=", ".join(t.upper() for t in rules.accepted_types),
        max_mb=f"{rules.max_size_mb:g}",
    )
    await _notify_stakeholder(turn, ticket, text, (Button(turn.text("button_documents_done"), f"{DOCUMENTS_DONE}{ticket.id}"),))
    desk_reply(turn, place, turn.text("desk_documents_sent", documents=checklist))


def _best_candidate(ticket: Ticket) -> str | None:
    return next((c["id"] for c in ticket.match_candidates if not c.get("out_of_scope")), None)


async def _staff_button(turn: Turn, place: Place) -> None:
    data = turn.inbound.data or ""
    prefix = DOCUMENT_PICK if data.startswith(DOCUMENT_PICK) else DOCUMENTS_SEND if data.startswith(DOCUMENTS_SEND) else ""
    ticket_part, _, index_part = data.removeprefix(prefix).partition(":")
    ticket = await turn.session.get(Ticket, int(ticket_part)) if prefix and ticket_part.isdigit() else None
    if ticket is None:
        desk_reply(turn, place, turn.text("stale_button"))
        return
    place = Place(ticket, place.in_thread)
    entry = turn.matcher.knowledge.entry(ticket.topic_id or _best_candidate(ticket) or "")
    documents = list(entry.documents) if entry is not None else []
    session = await _staff_session(turn)
    chosen = list(session.picked) if session.picking_ticket_id == ticket.id else []
    if prefix == DOCUMENT_PICK:
        if not index_part.isdigit() or int(index_part) >= len(documents):
            desk_reply(turn, place, turn.text("stale_button"))
            return
        if int(index_part) not in chosen:
            chosen.append(int(index_part))
        session.picking_ticket_id, session.picked = ticket.id, chosen
        turn.session.add(session)
        desk_reply(turn, place, turn.text("desk_document_picked", document=documents[int(index_part)], count=len(chosen)))
        return
    session.picking_ticket_id, session.picked = None, []
    turn.session.add(session)
    await _send_document_request(turn, place, ticket, [documents[i] for i in chosen if i < len(documents)])


async def _open_for(turn: Turn, place: Place, ticket: Ticket) -> bool:
    if ticket.status == TicketStatus.RESOLVED:
        desk_reply(turn, place, turn.text("desk_ticket_closed"))
        return False
    if ticket.assignee is not None and ticket.assignee != officer(turn) and turn.staff is not None and turn.staff.role == "cso":
        desk_reply(turn, place, turn.text("desk_already_taken", officer=ticket.assignee))
        return False
    return True


async def escalate(turn: Turn, place: Place, argument: str) -> None:
    """/eskalasi [alasan]: to the Kepala Seksi of the section owning the topic, personally."""
    ticket = await _need_ticket(turn, place)
    if ticket is None or not await _open_for(turn, place, ticket):
        return
    section = ticket.section or _section_of(turn, ticket)
    heads = turn.config.staff_with_role("kepala_seksi", section)
    if section is None or not heads:
        desk_reply(turn, place, turn.text("desk_no_head", section=section or "-"))
        return
    await _take_if_free(turn, ticket, announce=False)
    head = heads[0]
    reason = argument or "-"
    ticket.section = section
    ticket.escalated_to = head.name
    turn.session.add(ticket)
    if ticket.status != TicketStatus.ESCALATED:
        change_status(turn.session, ticket, TicketStatus.ESCALATED, actor=f"cso:{officer(turn)}", reason=f"escalated: {reason}"[:200], at=turn.now)
    stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
    assert stakeholder is not None
    card = await ticket_card(turn, ticket, stakeholder)
    section_name = turn.config.sections.get(section, section)
    account = head.account(DESK_CHANNEL)
    if account is not None:
        turn.send(
            Outbound(
                turn.text("escalation_to_head", ticket=ticket.number, officer=officer(turn), reason=reason, card=card, link=thread_link(ticket)),
                ticket_id=ticket.id,
                stakeholder_id=ticket.stakeholder_id,
                channel=DESK_CHANNEL,
                chat_id=account,
                internal=True,
            )
        )
    desk_reply(turn, place, turn.text("desk_escalated", head=head.name, section=section_name, officer=officer(turn), reason=reason))
    await _notify_stakeholder(turn, ticket, turn.text("escalated_notice", ticket=ticket.number))


def _section_of(turn: Turn, ticket: Ticket) -> str | None:
    entry = turn.matcher.knowledge.entry(ticket.topic_id or _best_candidate(ticket) or "")
    return entry.section if entry is not None else None


def thread_link(ticket: Ticket) -> str:
    """A t.me link to the ticket's topic (supergroup ids are -100 followed by the internal id)."""
    chat, thread = ticket.desk_chat_id, ticket.desk_thread_id
    if not chat or not thread or not chat.startswith("-100"):
        return ""
    return f"https://t.me/c/{chat[4:]}/{thread}"


async def resolve(turn: Turn, place: Place, argument: str) -> None:
    """/selesai <jawaban>: the stakeholder gets the answer and Resolved; the thread is closed."""
    ticket = await _need_ticket(turn, place)
    if ticket is None or not await _open_for(turn, place, ticket):
        return
    if not argument:
        desk_reply(turn, place, turn.text("desk_need_text", command="/selesai"))
        return
    await _take_if_free(turn, ticket, announce=False)
    ticket.first_answer_at = ticket.first_answer_at or turn.now
    change_status(turn.session, ticket, TicketStatus.RESOLVED, actor=f"cso:{officer(turn)}", reason="resolved by CSO", at=turn.now)
    stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
    assert stakeholder is not None
    turn.send(_to_stakeholder(turn, ticket, stakeholder, turn.text("resolved_by_cso", ticket=ticket.number, answer=argument), f"cso:{officer(turn)}"))
    desk_reply(turn, place, turn.text("desk_resolved", officer=officer(turn), answer=argument))
    if desk_group(turn) is not None:
        post_desk(turn, ticket, ticket.number, action=ThreadAction.CLOSE)
    if not place.in_thread:
        await _remember(turn, None)


async def answer_from_knowledge(turn: Turn, place: Place, argument: str) -> None:
    """/jawab <id-topik>: hand back to the bot, which sends that knowledge-base answer."""
    ticket = await _need_ticket(turn, place)
    if ticket is None or not await _open_for(turn, place, ticket):
        return
    entry = turn.matcher.knowledge.entry(argument.strip())
    if entry is None:
        desk_reply(turn, place, turn.text("desk_unknown_topic", topic=argument or "-"))
        return
    from handlers.consultation import answer_message  # consultation imports this module

    await _take_if_free(turn, ticket, announce=False)
    ticket.topic_id = entry.id
    ticket.first_answer_at = ticket.first_answer_at or turn.now
    change_status(
        turn.session, ticket, TicketStatus.ANSWERED, actor=f"cso:{officer(turn)}", reason=f"knowledge base answer {entry.id}", at=turn.now
    )
    text, buttons = answer_message(turn, ticket, entry)
    await _notify_stakeholder(turn, ticket, text, buttons)
    desk_reply(turn, place, turn.text("desk_handed_to_bot", topic=entry.id))


async def reopen(turn: Turn, place: Place, argument: str) -> None:
    """/buka: a resolved ticket goes back to the queue, and its thread is reopened."""
    ticket = await _need_ticket(turn, place)
    if ticket is None:
        return
    if ticket.status != TicketStatus.RESOLVED:
        desk_reply(turn, place, turn.text("desk_not_resolved"))
        return
    change_status(turn.session, ticket, TicketStatus.QUEUED, actor=f"cso:{officer(turn)}", reason=f"reopened: {argument or '-'}"[:200], at=turn.now)
    ticket.resolved_at = None
    ticket.assignee = None
    turn.session.add(ticket)
    if desk_group(turn) is not None:
        post_desk(turn, ticket, ticket.number, action=ThreadAction.REOPEN)
    desk_reply(turn, place, turn.text("desk_reopened", officer=officer(turn)))
    await _notify_stakeholder(turn, ticket, turn.text("reopened_notice", ticket=ticket.number))


async def queue(turn: Turn, place: Place, argument: str) -> None:
    """/antrian: open tickets, oldest first, with who has them."""
    tickets = await tickets_with_status(turn.session, {s.value for s in HANDED_OFF}, turn.config.office)
    if not tickets:
        turn.reply(turn.text("desk_queue_empty"))
        return
    zone = ZoneInfo(turn.config.current_office.timezone)
    lines = [turn.text("desk_queue_header", count=len(tickets))]
    for ticket in tickets:
        age = turn.now - ticket.opened_at
        hours = int(age.total_seconds() // 3600)
        lines.append(
            turn.text(
                "desk_queue_line",
                id=ticket.id,
                ticket=ticket.number,
                status=turn.config.texts.status_labels.get(ticket.status, ticket.status),
                opened=ticket.opened_at.astimezone(zone).strftime("%d-%m %H.%M"),
                age=f"{hours // 24} hr {hours % 24} j" if hours >= 24 else f"{hours} j",
                deadline=turn.deadline_text(ticket),
                officer=ticket.assignee or "-",
                summary=summary(ticket),
            )
        )
    turn.reply("\n".join(lines))


async def help_(turn: Turn, place: Place, argument: str) -> None:
    desk_reply(turn, place, turn.text("desk_help"))


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


def summary(ticket: Ticket) -> str:
    text = " ".join(ticket.question.split())
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


async def ticket_card(turn: Turn, ticket: Ticket, stakeholder: Stakeholder) -> str:
    """What a CSO needs at a glance: who asks, what, what the bot tried, and by when."""
    zone = ZoneInfo(turn.config.current_office.timezone)
    role = turn.config.role(stakeholder.role)
    tried = ", ".join(
        f"{c['id']} ({c['score']:.0f})" if "score" in c else f"{c['id']} (di luar layanan)"
        for c in ticket.match_candidates
    ) or "-"
    return turn.text(
        "desk_card",
        ticket=ticket.number,
        status=turn.config.texts.status_labels.get(ticket.status, ticket.status),
        name=stakeholder.full_name or "-",
        role=role.label if role is not None else "-",
        satker=" ".join(filter(None, [stakeholder.satker_code, stakeholder.organisation])) or "-",
        phone=stakeholder.phone or "-",
        opened=ticket.opened_at.astimezone(zone).strftime("%d-%m-%Y %H.%M"),
        deadline=turn.deadline_text(ticket),
        service_due=format_local(ticket.service_due_at, turn.config.current_office.timezone) if ticket.service_due_at else "-",
        question=ticket.question,
        tried=tried,
    )
