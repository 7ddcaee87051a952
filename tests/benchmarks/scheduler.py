"""`make bench`: how fast the scheduler finds and dispatches due work among 10,000 open tickets."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bot.clock import FakeClock
from bot.runtime import build_runtime
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.store.db import SessionFactory
from bot.store.models import JobKind, ScheduledJob, Stakeholder, Ticket
from tests.conftest import postgres_database

ROOT = Path(__file__).resolve().parents[2]
OPEN_TICKETS = 10_000
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 10:00 WIB, the progress hour


async def populate(
    sessions: SessionFactory, due: int, now: datetime = NOW, count: int = OPEN_TICKETS
) -> None:
    """`count` tickets waiting for a CSO, each with its four pending jobs; the progress jobs of
    the first `due` are due at `now`, everything else later (into a fresh database)."""
    async with sessions() as session:
        session.add(
            Stakeholder(
                id=1,
                channel="telegram",
                channel_user_id="1",
                chat_id="1",
                full_name="Bench",
                role="ppk",
                organisation="Satker",
                consent_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        opened = now - timedelta(hours=20)
        tickets = [
            {
                "id": n,
                "number": f"KNS-20261123-{n:05d}",
                "office": "pekalongan",
                "stakeholder_id": 1,
                "channel": "telegram",
                "status": "queued",
                "question": "pertanyaan",
                "match_candidates": [],
                "requested_documents": [],
                "opened_at": opened,
                "updated_at": opened,
                "deadline_at": now + timedelta(days=2),
                "status_since": opened,
            }
            for n in range(1, count + 1)
        ]
        await session.exec(insert(Ticket), params=tickets)
        jobs = []
        for n in range(1, count + 1):
            progress_due = now - timedelta(minutes=1) if n <= due else now + timedelta(days=1)
            for kind, at in (
                (JobKind.PROGRESS, progress_due),
                (JobKind.DEADLINE_REMINDER, now + timedelta(hours=5)),
                (JobKind.AUTO_ESCALATE, now + timedelta(hours=20)),
                (JobKind.BREACH, now + timedelta(days=2)),
            ):
                jobs.append(
                    {
                        "ticket_id": n,
                        "kind": kind.value,
                        "due_at": at,
                        "status": "pending",
                        "pending": True,
                        "created_at": opened,
                    }
                )
        await session.exec(insert(ScheduledJob), params=jobs)
        await session.commit()


async def measure(due: int, database_url: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=database_url or f"sqlite+aiosqlite:///{folder}/bench.db",
            csobot_config=ROOT / "config.yaml",
            csobot_knowledge_dir=ROOT / "knowledge",
            csobot_data_dir=Path(folder),
        )
        clock = FakeClock(NOW)
        runtime = await build_runtime(settings, clock=clock)
        try:
            await populate(runtime.sessions, due)
            scheduler = Scheduler(
                runtime.engine,
                runtime.sessions,
                clock,
                concurrent=runtime.db_engine.dialect.name == "postgresql",
            )
            started = time.perf_counter()
            claimed = await scheduler.claim_due()
            found = time.perf_counter() - started
            async with runtime.sessions() as session:
                for job_id, *_ in claimed:
                    job = await session.get(ScheduledJob, job_id)
                    assert job is not None
                    job.claimed_until = None
                    session.add(job)
                await session.commit()
            started = time.perf_counter()
            handled = await scheduler.run_due()
            dispatched = time.perf_counter() - started
            print(
                f"  {OPEN_TICKETS:>6} open tickets, {OPEN_TICKETS * 4:>6} jobs, {due:>6} due: "
                f"found in {found * 1000:7.1f} ms; {handled} dispatched (progress messages queued) in "
                f"{dispatched:6.2f} s ({handled / dispatched:,.0f}/s)"
            )
        finally:
            await runtime.close()


async def main() -> None:
    print(
        "\n== scheduler (SQLite, one process; the due jobs of up to 25 tickets share a transaction)"
    )
    for due in (10, 100, 1_000):
        await measure(due)
    print("  target: what is due among 10,000 open tickets found and dispatched in under a second")
    postgres = os.environ.get("CSOBOT_TEST_POSTGRES_URL")
    if not postgres:
        print("  PostgreSQL: skipped (set CSOBOT_TEST_POSTGRES_URL)")
        return
    print("\n== scheduler (PostgreSQL, one process; batches of 25 tickets' jobs, 4 at once)")
    for due in (100, 1_000):
        async with postgres_database(postgres) as url:
            await measure(due, url)
    print("  target: a backlog of 1,000 due jobs dispatched in ≤ 2 s")


if __name__ == "__main__":
    asyncio.run(main())
