"""Runs due jobs: claims them from the database and feeds them to the engine as timer events,
many tickets' jobs to a transaction (Engine.handle_timers).

Claiming uses SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so several bot processes can run
the loop at once without waiting on each other; on SQLite (one process) the clause is simply
not emitted. A claim lasts CLAIM_TIME; a process that dies mid-batch leaves its jobs to be
claimed again later, and the engine's idempotency key `job:<id>:<due>` makes sure a job that
did complete is not done twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import col, select

from bot import timers
from bot.buttons import Action
from bot.clock import Clock
from bot.config import WEEKDAYS
from bot.engine import Engine, Handled
from bot.messages import Inbound, InboundKind
from bot.queries import jobs
from bot.store.db import SessionFactory
from bot.store.models import ProcessedUpdate, ScheduledJob
from bot.sweeps import sweep_until

log = logging.getLogger(__name__)

CLAIM_TIME = timedelta(minutes=5)
BATCH = 500
# Due jobs of this many tickets share a transaction (Engine.handle_timers).
TICKETS_PER_BATCH = 25
# Batches at once on PostgreSQL: with the host's 8 parallel turns, well within the pool of 20
# connections (bot/store/db.py), so stakeholders' turns still find one.
CONCURRENT_BATCHES = 4


async def _nothing(handled: Handled) -> None:
    return None


class Scheduler:
    """`deliver` sends what a job produced at once (the host's delivery); without it, the
    outbox loops pick it up."""

    def __init__(
        self,
        engine: Engine,
        sessions: SessionFactory,
        clock: Clock,
        deliver: Callable[[Handled], Awaitable[None]] = _nothing,
        *,
        concurrent: bool = False,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.clock = clock
        self.deliver = deliver
        self._wake = asyncio.Event()
        # Different tickets' jobs side by side: on PostgreSQL, where writers do not queue.
        self.concurrent = concurrent

    def wake(self) -> None:
        """Run the next sweep now instead of at the end of the interval."""
        self._wake.set()

    async def claim_due(self, limit: int = BATCH) -> list[tuple[int, str, int]]:
        """(job id, idempotency key, ticket id) of due jobs, claimed for this process."""
        now = self.clock.now()
        async with self.sessions() as session:
            query = (
                select(ScheduledJob)
                .where(
                    ScheduledJob.status == "pending",
                    ScheduledJob.due_at <= now,
                    or_(
                        col(ScheduledJob.claimed_until).is_(None),
                        col(ScheduledJob.claimed_until) < now,
                    ),
                )
                .order_by(col(ScheduledJob.due_at), col(ScheduledJob.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            jobs = list((await session.exec(query)).all())
            claimed = []
            for job in jobs:
                job.claimed_until = now + CLAIM_TIME
                session.add(job)
                claimed.append((job.id, f"job:{job.id}:{job.due_at:%Y%m%dT%H%M%S}", job.ticket_id))
            await session.commit()
        return claimed  # type: ignore[return-value]

    def weekly_report_key(self) -> str | None:
        """The key of this week's report once its local weekday and time have passed, else None."""
        settings = self.engine.config.reports
        if not settings.weekly:
            return None
        office = self.engine.config.current_office
        local = self.clock.now().astimezone(ZoneInfo(office.timezone))
        hour, minute = (int(part) for part in settings.time.split(":"))
        start_of_week = local.date() - timedelta(days=local.weekday())
        due = datetime.combine(
            start_of_week + timedelta(days=WEEKDAYS.index(settings.weekday)),
            time(hour, minute),
            tzinfo=local.tzinfo,
        )
        if local < due:
            return None
        year, week, _ = local.isocalendar()
        return f"report:weekly:{year}-W{week:02d}"

    async def run_weekly_report(self) -> int:
        key = self.weekly_report_key()
        if key is None:
            return 0
        async with self.sessions() as session:
            if await session.get(ProcessedUpdate, key) is not None:
                return 0
        await self._feed(key, timers.weekly_report())
        return 1

    @staticmethod
    def _inbound(key: str, event: Action) -> Inbound:
        return Inbound(
            channel=timers.SYSTEM,
            user_id="scheduler",
            chat_id="scheduler",
            update_key=key,
            kind=InboundKind.TIMER,
            action=event,
            is_private=False,
        )

    async def _feed(self, key: str, event: Action) -> Handled:
        handled = await self.engine.handle(self._inbound(key, event))
        await self.deliver(handled)
        return handled

    async def run_due(self) -> int:
        """Handle everything due now; returns how many jobs were handled."""
        handled = await self.run_weekly_report()
        while True:
            claimed = await self.claim_due()
            await self._dispatch(claimed)
            handled += len(claimed)
            if len(claimed) < BATCH:
                return handled

    async def _dispatch(self, claimed: list[tuple[int, str, int]]) -> None:
        """In batches of up to TICKETS_PER_BATCH tickets, each batch one transaction
        (Engine.handle_timers): a ticket's first due job in the first, its second (rare) in the
        next, so one ticket's jobs run in order and never share a transaction. Concurrent
        (PostgreSQL): batches side by side, so a backlog after downtime does not take minutes.
        Else (SQLite, one writer) in turn."""
        by_ticket: dict[int, list[tuple[int, str]]] = {}
        for job_id, key, ticket_id in claimed:
            by_ticket.setdefault(ticket_id, []).append((job_id, key))
        queues = list(by_ticket.values())
        groups = [
            queues[start : start + TICKETS_PER_BATCH]
            for start in range(0, len(queues), TICKETS_PER_BATCH)
        ]
        if not self.concurrent:
            for group in groups:
                await self._run_group(group)
            return
        slots = asyncio.Semaphore(CONCURRENT_BATCHES)

        async def one_group(group: list[list[tuple[int, str]]]) -> None:
            async with slots:
                await self._run_group(group)

        await asyncio.gather(*(one_group(group) for group in groups))

    async def _run_group(self, group: list[list[tuple[int, str]]]) -> None:
        """Some tickets' job queues: layer by layer (every ticket's next job), a batch each."""
        depth = max(len(queue) for queue in group)
        for layer in range(depth):
            batch = [queue[layer] for queue in group if layer < len(queue)]
            await self._run_batch(batch)

    async def _run_batch(self, batch: list[tuple[int, str]]) -> None:
        inbounds = [self._inbound(key, timers.job(job_id)) for job_id, key in batch]
        job_ids = [job_id for job_id, _ in batch]
        results = await self.engine.handle_timers(
            inbounds, lambda session: jobs.load_with_tickets(session, job_ids)
        )
        if results is None:  # something in the batch failed: each job on its own
            for job_id, key in batch:
                await self._run_job(job_id, key)
            return
        for (job_id, key), handled in zip(batch, results, strict=True):
            await self.deliver(handled)
            if not handled.complete:
                await self._give_up_if_stuck(job_id, key)

    async def _run_job(self, job_id: int, key: str) -> None:
        handled = await self._feed(key, timers.job(job_id))
        if not handled.complete:
            await self._give_up_if_stuck(job_id, key)

    async def _give_up_if_stuck(self, job_id: int, key: str) -> None:
        """A job still pending at the same due time after its turn failed (the engine logged why):
        its key is used up, so it could never run; mark it failed instead of retrying forever."""
        async with self.sessions() as session:
            job = await session.get(ScheduledJob, job_id)
            if (
                job is not None
                and job.status == "pending"
                and key.endswith(f"{job.due_at:%Y%m%dT%H%M%S}")
            ):
                job.status, job.pending, job.claimed_until = "failed", None, None
                session.add(job)
                await session.commit()
                log.error("scheduled job %s (%s) failed and was set aside", job_id, job.kind)

    async def run(self, stop: asyncio.Event, interval: float = 30.0) -> None:
        """The loop: due jobs every `interval` seconds (or when woken) until stopped."""
        await sweep_until(stop, self.run_due, interval, "scheduler", self._wake)
