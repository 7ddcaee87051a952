"""The service promises of a ticket, as times, and the jobs that keep them.

Clocks are set when a ticket opens: 20 working minutes to the first substantive answer and the
end of the 3rd working day for the solution (office calendar). After every turn that changed a
ticket, `replan` makes its pending jobs match its state: progress messages while a CSO has it,
a reminder when nobody has taken it, a reminder and an automatic escalation at shares of the
time to the deadline, and a breach notice at the deadline.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.calendar import WorkingCalendar, calendar_for
from bot.config import Config
from bot.store.models import HANDED_OFF, JobKind, ScheduledJob, Ticket, TicketStatus

ONE_SHOT = {JobKind.DEADLINE_REMINDER, JobKind.AUTO_ESCALATE, JobKind.BREACH}


def start_clocks(config: Config, ticket: Ticket, now: datetime) -> None:
    calendar = calendar_for(config)
    ticket.service_due_at = calendar.add_working_hours(
        ticket.opened_at, config.service.service_minutes / 60
    )
    ticket.deadline_at = calendar.deadline(
        ticket.opened_at, config.service.resolution_working_days
    )
    ticket.status_since = now


def next_progress_time(calendar: WorkingCalendar, config: Config, after: datetime) -> datetime:
    """The next progress slot strictly after `after`: progress_time on a working day, moved
    into that day's service hours if the office configured it outside them."""
    hour, minute = (int(part) for part in config.sla.progress_time.split(":"))
    day = calendar.local(after).date()
    for offset in range(370):
        candidate = day + timedelta(days=offset)
        period = calendar.service_period(candidate) if calendar.is_working_day(candidate) else None
        if period is None:
            continue
        start, end = period
        slot = datetime.combine(candidate, time(hour, minute), tzinfo=calendar.zone)
        slot = min(max(slot, start), end - timedelta(minutes=1))
        if slot > after:
            return slot
    raise ValueError("no working day within a year")


def at_share(calendar: WorkingCalendar, ticket: Ticket, share: float) -> datetime:
    assert ticket.deadline_at is not None
    total = calendar.working_time_between(ticket.opened_at, ticket.deadline_at)
    return calendar.add_working_hours(ticket.opened_at, total.total_seconds() * share / 3600)


async def pause_if_configured(
    config: Config, ticket: Ticket, previous: str | None, now: datetime
) -> None:
    """With pause_while_awaiting_documents, the deadline moves by the working time spent waiting."""
    if (
        config.sla.pause_while_awaiting_documents
        and previous == TicketStatus.AWAITING_DOCUMENTS
        and ticket.deadline_at is not None
        and ticket.status_since is not None
    ):
        calendar = calendar_for(config)
        waited = calendar.working_time_between(ticket.status_since, now)
        ticket.deadline_at = calendar.add_working_hours(
            ticket.deadline_at, waited.total_seconds() / 3600
        )


async def replan(session: AsyncSession, config: Config, ticket: Ticket, now: datetime) -> None:
    """Make the ticket's pending jobs match its current status and clocks."""
    calendar = calendar_for(config)
    jobs = list(
        (await session.exec(select(ScheduledJob).where(ScheduledJob.ticket_id == ticket.id))).all()
    )
    pending = {job.kind: job for job in jobs if job.status == "pending"}
    done = {job.kind for job in jobs if job.status == "done"}
    wanted: dict[str, datetime] = {}
    if ticket.status in HANDED_OFF and ticket.deadline_at is not None:
        existing = pending.get(JobKind.PROGRESS)
        wanted[JobKind.PROGRESS] = (
            existing.due_at if existing else next_progress_time(calendar, config, now)
        )
        if ticket.status == TicketStatus.QUEUED and ticket.assignee is None:
            since = ticket.status_since or ticket.opened_at
            wanted[JobKind.QUEUE_REMINDER] = calendar.add_working_hours(
                since, config.sla.queue_reminder_minutes / 60
            )
        wanted[JobKind.DEADLINE_REMINDER] = at_share(calendar, ticket, config.sla.reminder_share)
        if ticket.status != TicketStatus.ESCALATED:
            wanted[JobKind.AUTO_ESCALATE] = at_share(calendar, ticket, config.sla.escalate_share)
        wanted[JobKind.BREACH] = ticket.deadline_at
    if ticket.status == TicketStatus.ANSWERED:
        since = ticket.status_since or ticket.opened_at
        wanted[JobKind.AUTO_CLOSE] = calendar.deadline(since, config.sla.auto_close_answered_days)
    for kind, job in pending.items():
        if kind not in wanted:
            job.status, job.pending = "cancelled", None
            session.add(job)
    for kind, due in wanted.items():
        if kind in ONE_SHOT and kind in done:
            continue
        planned = pending.get(kind)
        if planned is None:
            session.add(ScheduledJob(ticket_id=ticket.id, kind=kind, due_at=due, created_at=now))  # type: ignore[arg-type]
        elif planned.due_at != due:
            planned.due_at, planned.claimed_until = due, None
            session.add(planned)
