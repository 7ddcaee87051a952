"""The context a handler works in for one inbound event: who is talking, what to send, the DB."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.addresses import Address
from bot.calendar import calendar_for
from bot.config import Config, StaffMember, format_local
from bot.knowledge import Matcher
from bot.knowledge_holder import KnowledgeHolder
from bot.messages import Button, Inbound, Outbound
from bot.store.models import Conversation, Message, Stakeholder, Ticket, TicketStatus
from bot.tickets import change_status


@dataclass
class Turn:
    """Handlers read `inbound` and the stakeholder's state and say what to send; the engine
    persists it all in one transaction.

    Nothing here knows which channel is in use: messages go to the sender or to an address
    (the stakeholder of a ticket, its desk thread, staff by role), which is what lets WhatsApp,
    Telegram and the terminal share the SOP unchanged.
    """

    inbound: Inbound
    session: AsyncSession
    config: Config
    matcher: Matcher
    knowledge: KnowledgeHolder
    now: datetime
    stakeholder: Stakeholder | None
    conversation: Conversation | None
    typing: Callable[[], None] = lambda: None
    staff: StaffMember | None = None
    data_dir: Path = Path("data")
    web_base_url: str = ""
    replies: list[Outbound] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)
    inbound_ticket_id: int | None = None
    inbound_label: str | None = None
    record_inbound: bool = True
    # ticket id → (ticket, status before this turn): the service clock replans these after it
    changed_tickets: dict[int, tuple[Ticket, TicketStatus | None]] = field(default_factory=dict)
    no_survey: set[int] = field(default_factory=set)  # tickets closed without the stakeholder

    def text(self, name: str, /, **values: Any) -> str:
        """A configured text, in the wording for the channel of the person who wrote."""
        return self.config.text_on(self.inbound.channel, name, **values)

    def reply(
        self,
        text: str,
        buttons: list[Button] | tuple[Button, ...] = (),
        *,
        ticket_id: int | None = None,
        key: str | None = None,
        values: dict[str, Any] | None = None,
        request_phone: str | None = None,
        clear_keyboard: bool = False,
    ) -> None:
        """Answer whoever wrote, in the chat they wrote from."""
        self.replies.append(
            Outbound(
                text,
                tuple(buttons),
                ticket_id=ticket_id,
                key=key,
                values=_strings(values),
                request_phone=request_phone,
                clear_keyboard=clear_keyboard,
            )
        )

    def say(
        self, name: str, buttons: list[Button] | tuple[Button, ...] = (), /, **values: Any
    ) -> None:
        """Reply with a configured text."""
        self.reply(self.text(name, **values), buttons, key=name, values=values)

    def say_about(
        self, ticket: Ticket, name: str, buttons: tuple[Button, ...] = (), /, **values: Any
    ) -> None:
        """Reply with a configured text that belongs to this ticket's transcript (`{ticket}` is
        its number)."""
        values = {"ticket": ticket.number, **values}
        self.reply(
            self.text(name, **values), buttons, ticket_id=ticket.id, key=name, values=values
        )

    def send(self, outbound: Outbound) -> None:
        """Queue a message built elsewhere (its `to` says for whom)."""
        self.replies.append(outbound)

    def tell(
        self,
        to: Address,
        name: str,
        buttons: tuple[Button, ...] = (),
        /,
        *,
        about: Ticket | None,
        internal: bool = False,
        actor: str = "bot",
        **values: Any,
    ) -> None:
        """Send a configured text to an address; `about` links it to that ticket's transcript."""
        self.deliver(
            to,
            self.config.text(name, **values),  # the addressee may be on another channel
            buttons,
            about=about,
            internal=internal,
            actor=actor,
            key=name,
            values=values,
        )

    def deliver(
        self,
        to: Address,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        about: Ticket | None,
        internal: bool = False,
        actor: str = "bot",
        key: str | None = None,
        values: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        """Send text to an address (see `tell` for configured texts)."""
        self.replies.append(
            Outbound(
                text,
                buttons,
                to=to,
                ticket_id=about.id if about is not None else None,
                key=key,
                values=_strings(values),
                actor=actor,
                internal=internal,
                **extra,
            )
        )

    def move(self, ticket: Ticket, status: TicketStatus, *, actor: str, reason: str) -> None:
        """Change a ticket's status with its audit event; the service clock follows after the turn."""
        previous = TicketStatus(ticket.status) if ticket.status else None
        change_status(self.session, ticket, status, actor=actor, reason=reason, at=self.now)
        if ticket.id is not None:
            self.changed_tickets.setdefault(ticket.id, (ticket, previous))

    def deadline_text(self, ticket: Ticket) -> str:
        """The ticket's solution deadline as stakeholders and staff read it."""
        deadline = ticket.deadline_at or calendar_for(self.config).deadline(
            ticket.opened_at, self.config.service.resolution_working_days
        )
        return format_local(deadline, self.config.current_office.timezone)

    def status_label(self, ticket: Ticket) -> str:
        """The status as the stakeholder reads it (addressed to them: "Bapak/Ibu")."""
        return self.config.texts.status_labels.get(ticket.status, ticket.status)

    def staff_status_label(self, ticket: Ticket) -> str:
        """The status as staff read it: desk cards, /antrian, reminders, breach notices, /cari."""
        return self.config.texts.staff_status_labels.get(ticket.status, ticket.status)

    @property
    def step(self) -> str:
        return self.conversation.step if self.conversation is not None else "idle"

    def set_step(self, step: str, **data: Any) -> None:
        """Move the conversation; `data` is merged into what the step remembers."""
        if self.conversation is None:
            raise RuntimeError("no conversation before consent")
        self.conversation.step = step
        if data:
            self.conversation.data = {**self.conversation.data, **data}
        self.conversation.updated_at = self.now
        self.session.add(self.conversation)


def _strings(values: dict[str, Any] | None) -> dict[str, str]:
    """Values kept with a message key must survive JSON: they are kept as the text they showed."""
    return {name: str(value) for name, value in (values or {}).items()}
