"""Turns an address (bot/addresses.py) into deliveries: which channel, which chat.

The stakeholder's channel and chat come from their row; staff are reached on the desk channel
(config.yaml `desk.channel`) through their account there; a ticket's desk thread is the staff
group's chat, and the thread inside it is found at delivery (bot/outbox.py), because it may
not have been created yet when the message is queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.addresses import Address, ToDesk, ToStaff, ToStaffRole, ToStakeholder
from bot.config import Config, StaffMember
from bot.queries.erasure import is_erased
from bot.store.models import Stakeholder, Ticket


@dataclass(frozen=True)
class Delivery:
    channel: str
    chat_id: str
    desk_ticket_id: int | None = None  # deliver into this ticket's desk thread


class AddressBook:
    def __init__(self, config: Config, desk_channel: str | None = None) -> None:
        self.config = config
        self.desk_channel = desk_channel or config.desk.channel

    def staff_account(self, member: StaffMember) -> str | None:
        return member.account(self.desk_channel)

    @property
    def desk_group(self) -> str | None:
        """The staff group, when staff are reached on the channel it belongs to."""
        group = self.config.desk.group_id
        if group is None or self.desk_channel != self.config.desk.channel:
            return None
        return str(group)

    async def resolve(self, session: AsyncSession, address: Address) -> list[Delivery]:
        """Nobody reachable gives an empty list (e.g. no staff account on the desk channel)."""
        if isinstance(address, ToStakeholder):
            stakeholder = await session.get(Stakeholder, address.stakeholder_id)
            if stakeholder is None or is_erased(stakeholder.chat_id):
                return []  # gone, or erased their data (/hapus_data): nobody to write to
            return [Delivery(stakeholder.channel, stakeholder.chat_id)]
        if isinstance(address, ToDesk):
            if self.desk_group is not None:
                return [Delivery(self.desk_channel, self.desk_group, address.ticket_id)]
            ticket = await session.get(Ticket, address.ticket_id)
            if ticket is None or ticket.assignee is None:
                return []
            return self._members([m for m in self.config.staff if m.name == ticket.assignee])
        if isinstance(address, ToStaffRole):
            return self._members(self.config.staff_with_role(address.role, address.section))
        if isinstance(address, ToStaff):
            return self._members([m for m in self.config.staff if m.name == address.name])
        raise TypeError(f"not an address: {address!r}")

    def _members(self, members: list[StaffMember]) -> list[Delivery]:
        accounts = (self.staff_account(member) for member in members)
        return [
            Delivery(self.desk_channel, account) for account in accounts if account is not None
        ]
