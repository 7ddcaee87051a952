"""/status, and the same answer to "tiket saya sudah sampai mana?": the stakeholder's open
tickets with their status and deadline."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.queries import tickets
from bot.turn import Turn

SUMMARY_LENGTH = 80


async def show(turn: Turn) -> None:
    assert turn.stakeholder is not None and turn.stakeholder.id is not None
    mine = await tickets.open_of(turn.session, turn.stakeholder.id)
    if not mine:
        turn.say("status_none")
        return
    zone = ZoneInfo(turn.config.current_office.timezone)
    lines = [turn.text("status_header")]
    for ticket in mine:
        summary = " ".join(ticket.question.split())
        if len(summary) > SUMMARY_LENGTH:
            summary = summary[: SUMMARY_LENGTH - 1] + "…"
        lines.append(
            turn.text(
                "status_line",
                ticket=ticket.number,
                opened=ticket.opened_at.astimezone(zone).strftime("%d-%m-%Y %H.%M"),
                status=turn.status_label(ticket),
                summary=summary,
                deadline=turn.deadline_text(ticket),
            )
        )
    turn.reply("\n\n".join(lines), key="status")  # a split keeps each ticket whole
