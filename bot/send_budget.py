"""One send budget for the whole deployment: token buckets kept in the database.

Telegram allows a bot about 30 messages per second (and 20 per minute into one group); PTB's
rate limiter counts per process, so two processes together could send twice that and meet 429s.
Here every process takes its tokens from the same rows: one atomic UPDATE per message refills the
bucket for the time passed and takes a token only if one is there. SQLite deployments are one
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

_TAKE = text(
    """
    UPDATE send_budget
    SET tokens = LEAST(
            CAST(:burst AS float8),
            tokens + EXTRACT(EPOCH FROM (CAST(:now AS timestamptz) - updated_at))
                * CAST(:rate AS float8)
        ) - 1,
        updated_at = GREATEST(updated_at, CAST(:now AS timestamptz))
    WHERE bucket = :bucket
      AND LEAST(
            CAST(:burst AS float8),
            tokens + EXTRACT(EPOCH FROM (CAST(:now AS timestamptz) - updated_at))
                * CAST(:rate AS float8)
        ) >= 1
    RETURNING tokens
    """
)
_LEVEL = text(
    """
    SELECT LEAST(
            CAST(:burst AS float8),
            tokens + EXTRACT(EPOCH FROM (CAST(:now AS timestamptz) - updated_at))
                * CAST(:rate AS float8)
        )
    FROM send_budget WHERE bucket = :bucket
    """
)


class SharedSendBudget:
    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    async def take(self, bucket: str, rate: Rate) -> float:
        """Take a token: 0.0 when taken, else the seconds until one will be there."""
        now = self.clock.now()
        values = {"bucket": bucket, "rate": rate.per_second, "burst": rate.burst, "now": now}
        async with self.sessions() as session:
            await session.exec(
                insert(SendBudget)  # type: ignore[call-overload]
                .values(bucket=bucket, tokens=rate.burst, updated_at=now)
                .on_conflict_do_nothing(index_elements=["bucket"])
            )
            taken = (await session.exec(_TAKE.bindparams(**values))).first()  # type: ignore[call-overload]
            level = None
            if taken is None:
                level = (await session.exec(_LEVEL.bindparams(**values))).scalar()  # type: ignore[call-overload]
            await session.commit()
        if taken is not None:
            return 0.0
        missing = 1.0 - float(level or 0.0)
        return max(missing / rate.per_second, 0.001)

    async def acquire(self, bucket: str, rate: Rate) -> None:
        """Wait until a token of `bucket` is taken."""
        while (wait := await self.take(bucket, rate)) > 0:
            await asyncio.sleep(wait)
