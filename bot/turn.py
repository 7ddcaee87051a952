"""The context a handler works in for one inbound event: who is talking, what to reply, and the DB."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.calendar import calendar_for
from bot.config import Config, StaffMember, format_local
from bot.knowledge import Matcher
from bot.messages import Button, Inbound, Keyboard, Outbound
from bot.store.models import Conversation, Message, Stakeholder, Ticket

if TYPE_CHECKING:
    from bot.engine import KnowledgeHolder


@dataclass
class Turn:
    """Handlers read `inbound` and the stakeholder's state and call `reply`; the engine persists.

    Nothing here knows which channel is in use: that is what keeps the SOP testable without
    Telegram and lets WhatsApp or the terminal reuse it unchanged.
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

    def text(self, name: str, /, **values: Any) -> str:
        return self.config.text(name, **values)

    def reply(
        self,
        text: str,
        buttons: list[Button] | tuple[Button, ...] = (),
        *,
        keyboard: Keyboard | None = None,
        ticket_id: int | None = None,
    ) -> None:
        if keyboard is None:
            keyboard = Keyboard.INLINE if buttons else Keyboard.NONE
        self.replies.append(Outbound(text, tuple(buttons), keyboard, ticket_id=ticket_id))

    def send(self, outbound: Outbound) -> None:
        """Queue a message for another chat (the desk, a Kepala Seksi, the stakeholder of a ticket)."""
        self.replies.append(outbound)

    def say(
        self, name: str, buttons: list[Button] | tuple[Button, ...] = (), /, **values: Any
    ) -> None:
        """Reply with a configured text."""
        self.reply(self.text(name, **values), buttons)

    def deadline_text(self, ticket: Ticket) -> str:
        """The ticket's solution deadline as stakeholders and staff read it."""
        deadline = ticket.deadline_at or calendar_for(self.config).deadline(
            ticket.opened_at, self.config.service.resolution_working_days
        )
        return format_local(deadline, self.config.current_office.timezone)

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
