"""One send budget for the whole deployment: token buckets kept in the database.

Telegram allows a bot about 30 messages per second (and 20 per minute into one group); PTB's
rate limiter counts per process, so two processes together could send twice that and meet 429s.
Here every process takes its tokens from the same rows: one UPDATE per message, on the locked
row, refills the bucket for the time passed and takes a token only if one is there. SQLite deployments are one
process, where PTB's own limiter is enough, so this is used on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from bot.clock import Clock
from bot.store.db import SessionFactory
from bot.store.models import SendBudget


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float  # the bucket's size: how many may go at once after a quiet moment


TELEGRAM_BOT = Rate(30.0, 30.0)
TELEGRAM_GROUP = Rate(20.0 / 60.0, 20.0)

# One statement per message: the bucket is refilled for the time passed and, when a whole token
# is there, one is taken. The row is locked while it is read, so two processes never take the
# same token; `level` (before taking) is returned either way.
_TAKE = text(
    """
    UPDATE send_budget AS bucket
    SET tokens = refilled.level - CASE WHEN refilled.level >= 1 THEN 1 ELSE 0 END,
        updated_at = GREATEST(bucket.updated_at, CAST(:now AS timestamptz))
    FROM (
        SELECT bucket AS name, LEAST(
                CAST(:burst AS float8),
                tokens + GREATEST(
                    EXTRACT(EPOCH FROM (CAST(:now AS timestamptz) - updated_at)), 0
                ) * CAST(:rate AS float8)
            ) AS level
        FROM send_budget WHERE bucket = :bucket FOR UPDATE
    ) AS refilled
    WHERE bucket.bucket = refilled.name
    RETURNING refilled.level
    """
)


class SharedSendBudget:
    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self._created: set[str] = set()  # buckets known to have their row
        self._lines: dict[str, asyncio.Lock] = {}  # per bucket: this process's senders queue

    async def take(self, bucket: str, rate: Rate) -> float:
        """Take a token: 0.0 when taken, else the seconds until one will be there."""
        now = self.clock.now()
        values = {"bucket": bucket, "rate": rate.per_second, "burst": rate.burst, "now": now}
        async with self.sessions() as session:
            if bucket not in self._created:
                await session.exec(
                    insert(SendBudget)  # type: ignore[call-overload]
                    .values(bucket=bucket, tokens=rate.burst, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["bucket"])
                )
            level = (await session.exec(_TAKE.bindparams(**values))).scalar()  # type: ignore[call-overload]
            await session.commit()
        self._created.add(bucket)
        if level is None:  # the row vanished (a restored database): create it next time
            self._created.discard(bucket)
            return 0.001
        if level >= 1:
            return 0.0
        return max((1.0 - float(level)) / rate.per_second, 0.001)

    async def acquire(self, bucket: str, rate: Rate) -> None:
        """Wait until a token of `bucket` is taken, in the order this process's senders asked.

        Only the first in line asks the database (asyncio's lock wakes its waiters first come,
        first served): without the line every waiting chat polled the bucket, so whichever asked
        just after a refill won, a few chats waited half a minute under load (p99 37 s in
        bench-load), and each token cost as many statements as there were chats waiting."""
        line = self._lines.setdefault(bucket, asyncio.Lock())
        async with line:
            while (wait := await self.take(bucket, rate)) > 0:
                await asyncio.sleep(wait)
