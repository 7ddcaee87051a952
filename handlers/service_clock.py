"""Keeping the promise of KEP-57/PB/2023 over time: progress reports while a CSO works on a
ticket, reminders to staff, escalation before a breach, breach notices, and the survey at the end.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.addresses import ToStaffRole
from bot.calendar import calendar_for
from bot.config import format_local
from bot.queries import jobs, tickets
from bot.roles import CSO, SUPERVISOR
from bot.sla import next_progress_time, pause_if_configured, replan
from bot.store.models import HANDED_OFF, JobKind, Ticket, TicketStatus
from bot.turn import Turn
from handlers import desk, escalation, survey

BOT = "csobot (otomatis)"


async def after_turn(turn: Turn) -> None:
    """For every ticket whose status changed in this turn: clocks, jobs, and the survey."""
    for ticket, previous in turn.changed_tickets.values():
        if previous is not None:  # a new ticket's clocks were set when it opened
            await pause_if_configured(turn.config, ticket, previous, turn.now)
            ticket.status_since = turn.now
            turn.session.add(ticket)
        await turn.session.flush()
        await replan(turn.session, turn.config, ticket, turn.now)
        if (
            ticket.status == TicketStatus.RESOLVED
            and previous != TicketStatus.RESOLVED
            and ticket.id not in turn.no_survey
        ):
            await survey.start(turn, ticket)
    turn.changed_tickets.clear()


async def handle_timer(turn: Turn) -> None:
    """A due job, fed through the engine by the scheduler under the key job:<id>:<due>."""
    turn.record_inbound = False
    pressed = turn.inbound.action
    job = await jobs.get(turn.session, pressed.int_arg(0) or 0) if pressed is not None else None
    if job is None or job.status != "pending":
        return
    ticket = await tickets.get_with_stakeholder(turn.session, job.ticket_id)
    calendar = calendar_for(turn.config)
    if job.kind == JobKind.PROGRESS and not calendar.is_working_time(turn.now):
        job.due_at, job.claimed_until = (
            calendar.next_working_start(turn.now),
            None,
        )  # never at night
        turn.session.add(job)
        return
    # The next job of the same kind is written in the same flush: SQLAlchemy emits a table's
    # UPDATEs before its INSERTs, so the unique pending index never sees two.
    job.status, job.pending, job.done_at = "done", None, turn.now
    turn.session.add(job)
    if job.kind == JobKind.AUTO_CLOSE:
        _auto_close(turn, ticket)
        return
    if ticket is None or ticket.id is None or ticket.status not in HANDED_OFF:
        return
    if job.kind == JobKind.PROGRESS:
        _progress(turn, ticket)
        jobs.plan(
            turn.session,
            ticket.id,
            JobKind.PROGRESS,
            next_progress_time(calendar, turn.config, turn.now),
            turn.now,
        )
    elif (
        job.kind == JobKind.QUEUE_REMINDER
        and ticket.status == TicketStatus.QUEUED
        and ticket.assignee is None
    ):
        waited = calendar.working_time_between(ticket.status_since or ticket.opened_at, turn.now)
        _to_staff(
            turn,
            ticket,
            "desk_queue_reminder",
            ticket=ticket.number,
            waited=_duration(waited),
            id=ticket.id,
        )
    elif job.kind == JobKind.DEADLINE_REMINDER:
        _to_staff(
            turn,
            ticket,
            "desk_deadline_reminder",
            ticket=ticket.number,
            deadline=_deadline(turn, ticket),
            status=turn.staff_status_label(ticket),
            officer=ticket.assignee or "-",
        )
    elif job.kind == JobKind.AUTO_ESCALATE and ticket.status != TicketStatus.ESCALATED:
        await _escalate(turn, ticket)
    elif job.kind == JobKind.BREACH:
        _breach(turn, ticket)


def _auto_close(turn: Turn, ticket: Ticket | None) -> None:
    """An answer left without "sudah terjawab?" answered: closed, and the stakeholder told how
    to come back; no survey for a consultation they did not finish."""
    if ticket is None or ticket.id is None or ticket.status != TicketStatus.ANSWERED:
        return
    days = turn.config.sla.auto_close_answered_days
    turn.move(
        ticket,
        TicketStatus.RESOLVED,
        actor=BOT,
        reason=f"answer not confirmed: closed after {days} working days",
    )
    turn.no_survey.add(ticket.id)
    desk.tell_stakeholder(turn, ticket, "auto_closed", ticket=ticket.number, days=days)


def _progress(turn: Turn, ticket: Ticket) -> None:
    desk.tell_stakeholder(
        turn,
        ticket,
        "progress_update",
        ticket=ticket.number,
        status=turn.status_label(ticket),
        officer=ticket.assignee or turn.text("officer_unassigned"),
        deadline=_deadline(turn, ticket),
    )


def _to_staff(turn: Turn, ticket: Ticket, name: str, /, **values: Any) -> None:
    """Into the ticket's thread; without a staff group, to whoever has it, else to every CSO."""
    if desk.has_group(turn) or ticket.assignee is not None:
        desk.post_text(turn, ticket, name, **values)
    else:
        turn.tell(ToStaffRole(CSO), name, about=ticket, internal=True, **values)


async def _escalate(turn: Turn, ticket: Ticket) -> None:
    reason = turn.text("auto_escalation_reason")
    head = await escalation.escalate(turn, ticket, by=BOT, actor="bot", reason=reason)
    section = ticket.section
    _to_staff(
        turn,
        ticket,
        "desk_auto_escalated",
        head=head.name if head else "-",
        section=turn.config.sections.get(section or "", section or "-"),
        deadline=_deadline(turn, ticket),
    )


def _breach(turn: Turn, ticket: Ticket) -> None:
    values = {
        "ticket": ticket.number,
        "deadline": _deadline(turn, ticket),
        "status": turn.staff_status_label(ticket),
        "officer": ticket.assignee or "-",
        "link": ticket.desk_thread_link or "",
    }
    turn.tell(ToStaffRole(SUPERVISOR), "breach_notice", about=ticket, internal=True, **values)
    _to_staff(turn, ticket, "breach_notice", **values)


def _deadline(turn: Turn, ticket: Ticket) -> str:
    assert ticket.deadline_at is not None
    return format_local(ticket.deadline_at, turn.config.current_office.timezone)


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} jam {minutes % 60} menit" if minutes >= 60 else f"{minutes} menit"
