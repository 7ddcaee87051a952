"""The CSO desk as the rest of the SOP sees it: hand a ticket to the CSOs, relay the
stakeholder's messages and files into the ticket's desk thread, and tell the stakeholder what
staff did. The staff commands themselves are in desk_commands.py.

Everything here addresses "the ticket's desk thread", "the stakeholder of the ticket" or "the
CSOs"; where that is (a Telegram topic, a private chat) is decided when the message is queued
and delivered, never here.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.addresses import ToDesk, ToStaffRole, ToStakeholder
from bot.buttons import action
from bot.config import format_local
from bot.files import file_into_ticket, problem
from bot.knowledge import Delivery
from bot.messages import Button, InboundKind, OutgoingFile, ThreadAction
from bot.queries import tickets
from bot.roles import CSO
from bot.store.models import Attachment, Direction, Stakeholder, Ticket, TicketStatus
from bot.turn import Turn
from bot.window import ServiceWindow
from handlers.answers import delivery_for

DOCUMENTS_DONE = "docs_done"  # docs_done:<ticket id> — the stakeholder says everything was sent
DONE_WORDS = ("sudah semua", "sudah lengkap", "selesai kirim", "sdh semua", "udah semua")
SUMMARY_LENGTH = 60


def has_group(turn: Turn) -> bool:
    return turn.config.desk.group_id is not None


def is_desk_chat(turn: Turn) -> bool:
    """The inbound comes from the staff group (any of its threads)."""
    return has_group(turn) and turn.inbound.chat_id == str(turn.config.desk.group_id)


def is_staff_turn(turn: Turn) -> bool:
    """Staff talking to the desk: in the staff group, or privately to the bot."""
    return turn.staff is not None and (is_desk_chat(turn) or turn.inbound.is_private)


def officer(turn: Turn) -> str:
    assert turn.staff is not None
    return turn.staff.name


async def hand_off(turn: Turn, ticket: Ticket, stakeholder: Stakeholder) -> None:
    """A ticket entered the CSO queue: open its thread with the card, or tell the CSOs privately."""
    card = await ticket_card(turn, ticket, stakeholder)
    if has_group(turn) and ticket.desk_thread_id is None:
        where = stakeholder.satker_code or stakeholder.organisation or "-"
        title = f"{ticket.number} · {where} · {summary(ticket)}"
        post(turn, ticket, title[:128], thread_action=ThreadAction.OPEN)
        post(turn, ticket, card, key="desk_card")
    elif has_group(turn):
        post_text(turn, ticket, "desk_requeued", ticket=ticket.number)
    else:
        hint = turn.text("desk_take_hint", id=ticket.id)
        turn.deliver(
            ToStaffRole(CSO), f"{card}\n\n{hint}", about=ticket, internal=True, key="desk_card"
        )


def post(
    turn: Turn,
    ticket: Ticket,
    text: str,
    buttons: tuple[Button, ...] = (),
    *,
    thread_action: ThreadAction | None = None,
    file: OutgoingFile | None = None,
    key: str | None = None,
) -> None:
    """Into the ticket's desk thread (without a staff group: to whoever has the ticket)."""
    turn.deliver(
        ToDesk(ticket.id or 0),
        text,
        buttons,
        about=ticket,
        internal=True,
        key=key,
        thread_action=thread_action,
        file=file,
    )


def post_text(
    turn: Turn, ticket: Ticket, name: str, buttons: tuple[Button, ...] = (), /, **values: str | int
) -> None:
    """A configured text into the ticket's desk thread."""
    turn.deliver(
        ToDesk(ticket.id or 0),
        turn.text(name, **values),
        buttons,
        about=ticket,
        internal=True,
        key=name,
        values=values,
    )


def notify_stakeholder(
    turn: Turn,
    ticket: Ticket,
    text: str,
    buttons: tuple[Button, ...] = (),
    *,
    actor: str = "bot",
    key: str | None = None,
    file: OutgoingFile | None = None,
) -> None:
    """To the stakeholder of the ticket, wherever they talk to us."""
    turn.deliver(
        ToStakeholder(ticket.stakeholder_id),
        text,
        buttons,
        about=ticket,
        actor=actor,
        key=key,
        file=file,
    )


def tell_stakeholder(
    turn: Turn, ticket: Ticket, name: str, buttons: tuple[Button, ...] = (), /, **values: Any
) -> None:
    """A configured text to the stakeholder of the ticket."""
    turn.tell(ToStakeholder(ticket.stakeholder_id), name, buttons, about=ticket, **values)


def relay_from_stakeholder(turn: Turn, ticket: Ticket, stored: str | None = None) -> None:
    """A message (or a filed document at `stored`) from the stakeholder: into the desk thread."""
    stakeholder = turn.stakeholder
    assert stakeholder is not None
    inbound = turn.inbound
    name = stakeholder.full_name or "Stakeholder"
    if inbound.kind is InboundKind.FILE and inbound.file is not None:
        file = OutgoingFile(stored, inbound.file.name, _source(turn))
        post(turn, ticket, turn.text("desk_file_from_stakeholder", name=name), file=file)
    else:
        relay_text(turn, ticket, inbound.text)


def relay_text(turn: Turn, ticket: Ticket, text: str) -> None:
    """Words of the stakeholder (now, or kept from earlier in the conversation) for the CSO."""
    stakeholder = turn.stakeholder
    assert stakeholder is not None
    name = stakeholder.full_name or "Stakeholder"
    post_text(turn, ticket, "desk_from_stakeholder", name=name, text=text)


def _source(turn: Turn) -> tuple[str, str, str] | None:
    inbound = turn.inbound
    if inbound.platform_message_id is None:
        return None
    return (inbound.channel, inbound.chat_id, inbound.platform_message_id)


async def file_for_ticket(turn: Turn, ticket: Ticket, direction: Direction) -> OutgoingFile | None:
    """File the inbound's downloaded file under the ticket (an Attachment row); None if it was
    not downloaded (refused or failed)."""
    incoming = turn.inbound.file
    if incoming is None or incoming.stored is None or incoming.sha256 is None:
        return None
    path = file_into_ticket(turn.data_dir, incoming.stored, ticket.number, incoming.name)
    turn.session.add(
        Attachment(
            ticket_id=ticket.id,
            direction=direction,
            file_name=path.rsplit("/", 1)[-1],
            file_type=incoming.file_type,
            size=incoming.size,
            sha256=incoming.sha256,
            path=path,
            created_at=turn.now,
        )
    )
    await turn.session.flush()
    return OutgoingFile(path, incoming.name, _source(turn))


async def receive_file(turn: Turn, ticket: Ticket) -> None:
    """A photo or document from the stakeholder for a ticket with a CSO: check, file, relay."""
    incoming = turn.inbound.file
    assert turn.stakeholder is not None and incoming is not None
    rules = turn.config.desk.documents
    types = ", ".join(t.upper() for t in rules.accepted_types)
    reason = incoming.error or problem(incoming.name, incoming.file_type, incoming.size, rules)
    if reason == "type":
        turn.say_about(ticket, "document_rejected_type", name=incoming.name, types=types)
        return
    if reason == "too_large":
        size = f"{incoming.size / 1024 / 1024:.1f}".replace(".", ",")
        turn.say_about(
            ticket,
            "document_too_large",
            name=incoming.name,
            size=size,
            max_mb=f"{rules.max_size_mb:g}",
        )
        return
    filed = await file_for_ticket(turn, ticket, Direction.IN) if reason is None else None
    if filed is None:
        turn.say_about(ticket, "document_download_failed", name=incoming.name)
        return
    turn.inbound_label = file_label(incoming.name, turn.inbound.text)
    relay_from_stakeholder(turn, ticket, filed.path)
    count = await tickets.received_attachments(turn.session, ticket.id or 0)
    turn.say_about(
        ticket, "document_received", name=incoming.name, count=count, ticket=ticket.number
    )


def file_label(name: str, caption: str) -> str:
    """How a file appears in the transcript: its name and the caption written with it."""
    caption = " ".join(caption.split())
    return f"[berkas] {name} — {caption}" if caption else f"[berkas] {name}"


def says_documents_are_complete(text: str) -> bool:
    folded = " ".join(text.casefold().split())
    return any(word in folded for word in DONE_WORDS)


def documents_done_button(turn: Turn, ticket: Ticket) -> Button:
    return Button(turn.text("button_documents_done"), action(DOCUMENTS_DONE, ticket.id))


async def documents_complete(turn: Turn, ticket: Ticket) -> None:
    """The stakeholder says every requested document was sent: back to the CSO."""
    count = await tickets.received_attachments(turn.session, ticket.id or 0)
    turn.move(ticket, TicketStatus.IN_PROGRESS, actor="stakeholder", reason="documents complete")
    turn.say_about(ticket, "documents_complete", count=count, ticket=ticket.number)
    post_text(turn, ticket, "desk_documents_complete", count=count)


def take_if_free(turn: Turn, ticket: Ticket, *, announce: bool) -> bool:
    """Assign a waiting ticket to this officer; False when a colleague already has it."""
    name = officer(turn)
    if ticket.assignee is not None and ticket.assignee != name:
        return False
    if ticket.assignee is None:
        ticket.assignee = name
        turn.session.add(ticket)
        if announce or ticket.status == TicketStatus.QUEUED:
            post_text(turn, ticket, "desk_taken", officer=name)
            tell_stakeholder(turn, ticket, "ticket_taken", ticket=ticket.number, officer=name)
    if ticket.status == TicketStatus.QUEUED:
        turn.move(ticket, TicketStatus.IN_PROGRESS, actor=f"cso:{name}", reason="taken")
    return True


def summary(ticket: Ticket) -> str:
    text = " ".join(ticket.question.split())
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


async def ticket_card(turn: Turn, ticket: Ticket, stakeholder: Stakeholder) -> str:
    """What a CSO needs at a glance: who asks, what, what the bot tried, and by when."""
    zone = ZoneInfo(turn.config.current_office.timezone)
    role = turn.config.role(stakeholder.role)
    tried = (
        ", ".join(
            f"{c['id']} ({c['score']:.0f})" if "score" in c else f"{c['id']} (di luar layanan)"
            for c in ticket.match_candidates
        )
        or "-"
    )
    service_due = (
        format_local(ticket.service_due_at, turn.config.current_office.timezone)
        if ticket.service_due_at
        else "-"
    )
    card = turn.text(
        "desk_card",
        ticket=ticket.number,
        status=turn.staff_status_label(ticket),
        name=stakeholder.full_name or "-",
        role=role.label if role is not None else "-",
        satker=" ".join(filter(None, [stakeholder.satker_code, stakeholder.organisation])) or "-",
        phone=stakeholder.phone or "-",
        opened=ticket.opened_at.astimezone(zone).strftime("%d-%m-%Y %H.%M"),
        deadline=turn.deadline_text(ticket),
        service_due=service_due,
        question=ticket.question,
        tried=tried,
        channel=channel_line(turn, stakeholder),
    )
    suggestion = await _suggestion(turn, ticket)
    return f"{card}\n\n{suggestion}" if suggestion else card


async def _suggestion(turn: Turn, ticket: Ticket) -> str | None:
    """The knowledge-base answer the bot could not present as settled, for the CSO to confirm
    (/jawab) or correct: what the stakeholder already has from it. Not once a CSO has settled
    it (the ticket reopened after /jawab or /selesai)."""
    entry = turn.matcher.knowledge.entry(ticket.topic_id) if ticket.topic_id else None
    if entry is None:
        return None
    delivery = delivery_for(turn.config, entry)
    if delivery is Delivery.ANSWER:
        return None
    if ticket.id is not None and not await tickets.suggestion_pending(turn.session, ticket.id):
        return None
    return turn.text(
        "desk_suggestion",
        topic=entry.id,
        state=turn.config.texts.desk_suggestion_states[delivery.value],  # type: ignore[index]
    )


def channel_line(turn: Turn, stakeholder: Stakeholder) -> str:
    """Where the stakeholder talks to us and, on a channel with a customer-service window
    (WhatsApp), whether a CSO's reply reaches them now or waits until they write."""
    name = turn.config.texts.channel_names.get(stakeholder.channel, stakeholder.channel)
    window = ServiceWindow.for_channel(turn.config, stakeholder.channel)
    if window is None:
        return name
    if window.is_open(stakeholder.last_inbound_at, turn.now):
        closes = window.closes_at(stakeholder.last_inbound_at)
        assert closes is not None
        until = format_local(closes, turn.config.current_office.timezone)
        return f"{name} · {turn.text('desk_window_open', until=until)}"
    return f"{name} · {turn.text('desk_window_closed')}"
