"""Escalation to the Kepala Seksi (SOP step 6): one path for a CSO's /eskalasi and for the
service clock's automatic escalation before the deadline."""

from __future__ import annotations

from bot.addresses import ToStaff
from bot.config import StaffMember
from bot.queries import stakeholders
from bot.roles import KEPALA_SEKSI
from bot.store.models import Ticket, TicketStatus
from bot.turn import Turn
from handlers import desk


def section_of(turn: Turn, ticket: Ticket) -> str | None:
    """The section owning the ticket's topic: set at hand-off, else the best candidate's."""
    if ticket.section:
        return ticket.section
    candidates = [c["id"] for c in ticket.match_candidates if not c.get("out_of_scope")]
    for topic in [ticket.topic_id, *candidates]:
        entry = turn.matcher.knowledge.entry(topic) if topic else None
        if entry is not None:
            return entry.section
    return None


def head_of(turn: Turn, section: str | None) -> StaffMember | None:
    heads = turn.config.staff_with_role(KEPALA_SEKSI, section) if section else []
    return heads[0] if heads else None


async def escalate(
    turn: Turn, ticket: Ticket, *, by: str, actor: str, reason: str
) -> StaffMember | None:
    """Escalate the ticket, send the Kepala Seksi the card privately, tell the stakeholder.

    `by` is who escalates as staff read it (an officer's name, or the bot), `actor` the audit
    trail's actor. Returns the Kepala Seksi, None when the section has none (the ticket is
    escalated all the same, so the clock and the reports see it).
    """
    section = section_of(turn, ticket)
    head = head_of(turn, section)
    ticket.section = section
    ticket.escalated_to = head.name if head is not None else None
    turn.session.add(ticket)
    if ticket.status != TicketStatus.ESCALATED:
        turn.move(ticket, TicketStatus.ESCALATED, actor=actor, reason=f"escalated: {reason}"[:200])
    stakeholder = await stakeholders.get(turn.session, ticket.stakeholder_id)
    if head is not None and stakeholder is not None:
        turn.tell(
            ToStaff(head.name),
            "escalation_to_head",
            about=ticket,
            internal=True,
            ticket=ticket.number,
            officer=by,
            reason=reason,
            card=await desk.ticket_card(turn, ticket, stakeholder),
            link=ticket.desk_thread_link or "",
        )
    desk.tell_stakeholder(turn, ticket, "escalated_notice", ticket=ticket.number)
    return head
