"""Keeping the promise of KEP-57/PB/2023 over time: progress reports while a CSO works on a
ticket, reminders to staff, escalation before a breach, breach notices, and the survey at the end.
"""

from __future__ import annotations

from datetime import timedelta

from bot.calendar import calendar_for
from bot.config import format_local
from bot.messages import Outbound
from bot.sla import next_progress_time, pause_if_configured, replan
from bot.store.models import HANDED_OFF, JobKind, ScheduledJob, Stakeholder, Ticket, TicketStatus
from bot.tickets import change_status
from bot.turn import Turn
from handlers import desk, survey

SYSTEM = "system"  # the channel of timer events
BOT = "csobot (otomatis)"


async def after_turn(turn: Turn) -> None:
    """For every ticket whose status changed in this turn: clocks, jobs, and the survey."""
    changed = turn.session.info.pop("changed_tickets", {})
    for ticket, previous in changed.values():
        if previous is not None:  # a new ticket's clocks were set when it opened
            await pause_if_configured(turn.config, ticket, previous, turn.now)
            ticket.status_since = turn.now
            turn.session.add(ticket)
        await turn.session.flush()
        await replan(turn.session, turn.config, ticket, turn.now)
        if ticket.status == TicketStatus.RESOLVED and previous != TicketStatus.RESOLVED:
            await survey.start(turn, ticket)


async def handle_timer(turn: Turn) -> None:
    """A due job, fed through the engine by the scheduler under the key job:<id>:<due>."""
    turn.record_inbound = False
    job = await turn.session.get(ScheduledJob, int(turn.inbound.data or 0))
    if job is None or job.status != "pending":
        return
    ticket = await turn.session.get(Ticket, job.ticket_id)
    calendar = calendar_for(turn.config)
    if job.kind == JobKind.PROGRESS and not calendar.is_working_time(turn.now):
        job.due_at, job.claimed_until = calendar.next_working_start(turn.now), None  # never at night
        turn.session.add(job)
        return
    job.status, job.pending, job.done_at = "done", None, turn.now
    turn.session.add(job)
    await turn.session.flush()
    if ticket is None or ticket.status not in HANDED_OFF:
        return
    if job.kind == JobKind.PROGRESS:
        await _progress(turn, ticket)
        turn.session.add(
            ScheduledJob(
                ticket_id=ticket.id,  # type: ignore[arg-type]
                kind=JobKind.PROGRESS,
                due_at=next_progress_time(calendar, turn.config, turn.now),
                created_at=turn.now,
            )
        )
    elif job.kind == JobKind.QUEUE_REMINDER and ticket.status == TicketStatus.QUEUED and ticket.assignee is None:
        waited = calendar.working_time_between(ticket.status_since or ticket.opened_at, turn.now)
        _to_staff(turn, ticket, turn.text("desk_queue_reminder", ticket=ticket.number, waited=_duration(waited), id=ticket.id))
    elif job.kind == JobKind.DEADLINE_REMINDER:
        _to_staff(
            turn,
            ticket,
            turn.text(
                "desk_deadline_reminder",
                ticket=ticket.number,
                deadline=_deadline(turn, ticket),
                status=_status(turn, ticket),
                officer=ticket.assignee or "-",
            ),
        )
    elif job.kind == JobKind.AUTO_ESCALATE and ticket.status != TicketStatus.ESCALATED:
        await _escalate(turn, ticket)
    elif job.kind == JobKind.BREACH:
        _breach(turn, ticket)


async def _progress(turn: Turn, ticket: Ticket) -> None:
    stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
    assert stakeholder is not None
    text = turn.text(
        "progress_update",
        ticket=ticket.number,
        status=_status(turn, ticket),
        officer=ticket.assignee or turn.text("officer_unassigned"),
        deadline=_deadline(turn, ticket),
    )
    turn.send(
        Outbound(text, ticket_id=ticket.id, stakeholder_id=stakeholder.id, channel=stakeholder.channel, chat_id=stakeholder.chat_id)
    )


def _to_staff(turn: Turn, ticket: Ticket, text: str) -> None:
    """Into the ticket's thread; without a staff group, to whoever has it, else to every CSO."""
    if desk.desk_group(turn) is not None or ticket.assignee is not None:
        desk.post_desk(turn, ticket, text)
        return
    for member in turn.config.staff_with_role("cso"):
        account = member.account(desk.DESK_CHANNEL)
        if account is not None:
            turn.send(
                Outbound(text, ticket_id=ticket.id, stakeholder_id=ticket.stakeholder_id, channel=desk.DESK_CHANNEL, chat_id=account, internal=True)
            )


async def _escalate(turn: Turn, ticket: Ticket) -> None:
    section = ticket.section
    heads = turn.config.staff_with_role("kepala_seksi", section)
    change_status(turn.session, ticket, TicketStatus.ESCALATED, actor="bot", reason="automatic escalation before the deadline", at=turn.now)
    head = heads[0] if heads else None
    ticket.escalated_to = head.name if head is not None else None
    turn.session.add(ticket)
    section_name = turn.config.sections.get(section or "", section or "-")
    _to_staff(turn, ticket, turn.text("desk_auto_escalated", head=head.name if head else "-", section=section_name, deadline=_deadline(turn, ticket)))
    if head is not None and head.account(desk.DESK_CHANNEL) is not None:
        stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
        assert stakeholder is not None
        card = await desk.ticket_card(turn, ticket, stakeholder)
        text = turn.text(
            "escalation_to_head", ticket=ticket.number, officer=BOT, reason=turn.text("auto_escalation_reason"), card=card, link=desk.thread_link(ticket)
        )
        turn.send(
            Outbound(text, ticket_id=ticket.id, stakeholder_id=ticket.stakeholder_id, channel=desk.DESK_CHANNEL, chat_id=head.account(desk.DESK_CHANNEL), internal=True)
        )
    stakeholder = await turn.session.get(Stakeholder, ticket.stakeholder_id)
    assert stakeholder is not None
    turn.send(
        Outbound(turn.text("escalated_notice", ticket=ticket.number), ticket_id=ticket.id, stakeholder_id=stakeholder.id, channel=stakeholder.channel, chat_id=stakeholder.chat_id)
    )


def _breach(turn: Turn, ticket: Ticket) -> None:
    text = turn.text(
        "breach_notice",
        ticket=ticket.number,
        deadline=_deadline(turn, ticket),
        status=_status(turn, ticket),
        officer=ticket.assignee or "-",
        link=desk.thread_link(ticket),
    )
    for member in turn.config.staff_with_role("supervisor"):
        account = member.account(desk.DESK_CHANNEL)
        if account is not None:
            turn.send(Outbound(text, ticket_id=ticket.id, stakeholder_id=ticket.stakeholder_id, channel=desk.DESK_CHANNEL, chat_id=account, internal=True))
    _to_staff(turn, ticket, text)


def _status(turn: Turn, ticket: Ticket) -> str:
    return turn.config.texts.status_labels.get(ticket.status, ticket.status)


def _deadline(turn: Turn, ticket: Ticket) -> str:
    assert ticket.deadline_at is not None
    return format_local(ticket.deadline_at, turn.config.current_office.timezone)


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} jam {minutes % 60} menit" if minutes >= 60 else f"{minutes} menit"
