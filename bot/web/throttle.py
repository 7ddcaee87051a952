"""Password guessing on the dashboard's login form: at most 5 failures in 15 minutes, counted per
client address and per user name, in the database so that every process counts the same ones.

While an address or a user name has 5 failures in the last 15 minutes, its attempts are refused
without checking the password (HTTP 429, Retry-After); refused attempts are not counted, so the
wait ends 15 minutes after the failures, however often someone retries. A correct password
clears the failures of its address and its user name. One-time login links are not affected.

Each attempt is written as a failure before the password is checked and counted afterwards,
so simultaneous guesses (several tabs, several processes) cannot all pass the same check: of
those recorded together, only the first few are let through. A correct password then deletes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import LoginFailure

if TYPE_CHECKING:
    from bot.store.db import SessionFactory

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
IP_LENGTH = 64
ACCOUNT_LENGTH = 100


@dataclass(frozen=True)
class Throttled:
    """The attempt is refused; the address or user name may try again in `retry_after` seconds."""

    retry_after: int


def account_key(username: str) -> str:
    """`Supervisor ` and `supervisor` are the same account to the throttle."""
    return username.strip().casefold()[:ACCOUNT_LENGTH]


async def _wait(
    session: AsyncSession, ip: str, account: str, now: datetime, limit: int
) -> int | None:
    """Seconds until both the address and the user name have fewer than `limit` failures in the
    window, or None when they have already."""
    waits = []
    for column, value in ((LoginFailure.ip, ip), (LoginFailure.account, account)):
        times = (
            await session.exec(
                select(LoginFailure.at)
                .where(col(column) == value, col(LoginFailure.at) > now - WINDOW)
                .order_by(col(LoginFailure.at).desc())
                .limit(limit)
            )
        ).all()
        if len(times) >= limit:
            # Below the limit once the limit-th newest failure leaves the window.
            waits.append(times[limit - 1] + WINDOW - now)
    if not waits:
        return None
    return max(1, math.ceil(max(waits).total_seconds()))


async def begin_attempt(
    sessions: SessionFactory, ip: str, account: str, now: datetime
) -> Throttled | None:
    """Record a password attempt as a failure in advance (`attempt_succeeded` deletes it if the
    password is right) and return None, or Throttled if it may not be tried now.

    Also deletes failures that have left the window, so the table stays small.
    """
    ip, account = ip[:IP_LENGTH], account[:ACCOUNT_LENGTH]
    async with sessions() as session:
        await session.exec(delete(LoginFailure).where(col(LoginFailure.at) <= now - WINDOW))
        wait = await _wait(session, ip, account, now, MAX_FAILURES)
        if wait is not None:
            await session.commit()
            return Throttled(wait)
        row = LoginFailure(ip=ip, account=account, at=now)
        session.add(row)
        await session.commit()
        # Counted again with this attempt and any recorded meanwhile by other requests.
        wait = await _wait(session, ip, account, now, MAX_FAILURES + 1)
        if wait is not None:
            await session.delete(row)
            await session.commit()
            return Throttled(wait)
    return None


async def attempt_succeeded(sessions: SessionFactory, ip: str, account: str) -> None:
    """The password was right: the failures of this address and this user name are forgotten
    (the attempt's own row among them)."""
    ip, account = ip[:IP_LENGTH], account[:ACCOUNT_LENGTH]
    async with sessions() as session:
        await session.exec(
            delete(LoginFailure).where(
                or_(col(LoginFailure.ip) == ip, col(LoginFailure.account) == account)
            )
        )
        await session.commit()
