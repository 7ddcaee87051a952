"""Who a message is for, in the SOP's words: never a channel or a chat id.

Handlers address people and places: the stakeholder of a ticket, the desk thread of a ticket,
the staff with a role (and section), one staff member. The engine turns an address into
deliveries when it queues the message (bot/addressing.py): the stakeholder's own channel and
chat from the database, staff accounts on the desk channel from config.yaml; the desk thread
itself is looked up at delivery, because it may not exist yet when the message is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToStakeholder:
    """The stakeholder (wherever they talk to us: Telegram, WhatsApp, the terminal)."""

    stakeholder_id: int


@dataclass(frozen=True)
class ToDesk:
    """The ticket's desk thread; without a staff group, the officer who has the ticket."""

    ticket_id: int


@dataclass(frozen=True)
class ToStaffRole:
    """Every staff member with this role (and section, for a Kepala Seksi)."""

    role: str
    section: str | None = None


@dataclass(frozen=True)
class ToStaff:
    """One staff member, by their name in config.yaml."""

    name: str


Address = ToStakeholder | ToDesk | ToStaffRole | ToStaff


def address_payload(address: Address | None) -> dict[str, Any] | None:
    """How an address is kept in the outbox (what a channel may read when it delivers)."""
    if address is None:
        return None
    if isinstance(address, ToStakeholder):
        return {"stakeholder": address.stakeholder_id}
    if isinstance(address, ToDesk):
        return {"desk": address.ticket_id}
    if isinstance(address, ToStaffRole):
        return {"role": address.role, "section": address.section}
    return {"staff": address.name}


def address_from_payload(payload: dict[str, Any] | None) -> Address | None:
    if not payload:
        return None
    if "stakeholder" in payload:
        return ToStakeholder(int(payload["stakeholder"]))
    if "desk" in payload:
        return ToDesk(int(payload["desk"]))
    if "role" in payload:
        return ToStaffRole(str(payload["role"]), payload.get("section"))
    if "staff" in payload:
        return ToStaff(str(payload["staff"]))
    return None
