"""Updates stored before the platform is told we have them, and processed from the store.

The platform's confirmation (Telegram's getUpdates offset, a webhook's 200) comes only after the
raw update is committed here, so a crash anywhere loses nothing: what was stored is processed
after the restart, and what was not stored is delivered again by the platform. Processing goes
through the engine, whose idempotency key makes a second processing of the same update a no-op.

One sender's updates are processed one at a time and in order, in every deployment: a row is
eligible only when it is its sender's oldest pending row, and claiming it (FOR UPDATE SKIP LOCKED
on PostgreSQL) keeps other processes off it. A processing failure that is not the update's fault
(the database down) is retried with backoff; after MAX_ATTEMPTS the row is set aside as failed,
kept for an operator, and the sender's later updates go on.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, update
from sqlalchemy.orm import aliased
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.store.db import SessionFactory, commit_alone
from bot.store.inserts import insert_unless_taken_statement, table_of
from bot.store.models import InboxStatus, InboxUpdate

log = logging.getLogger(__name__)
_INBOX = table_of(InboxUpdate)  # for the statements every update runs

# The inbox row being processed in this task, if any: the engine marks it done in the turn's
# own transaction (one commit fewer per update, and "handled" and "done" can never disagree).
PROCESSING: ContextVar[int | None] = ContextVar("inbox_row", default=None)
MARKED: ContextVar[bool] = ContextVar("inbox_row_marked", default=False)


async def mark_done_in(session: AsyncSession, now: datetime) -> None:
    """Mark the row being processed done, in the caller's transaction (see PROCESSING)."""
    row_id = PROCESSING.get()
    if row_id is None:
        return
    await _mark_done(session, row_id, now)
    MARKED.set(True)


# Built once (every update runs it); the row and the time come as parameters.
# On the table, not the model: nothing in the session holds the row, and the ORM's path for an
# UPDATE cost as much as the statement.
_MARK_DONE = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("row_id"))
    .values(
        status=InboxStatus.DONE,
        processed_at=bindparam("now"),
        claimed_until=None,
        attempts=_INBOX.c.attempts + 1,
        payload={},
    )
)


async def _mark_done(session: AsyncSession, row_id: int, now: datetime) -> None:
    """Done: the raw update is emptied, as it is not needed once handled (what is kept is in
    the transcript) and may hold personal data of someone who never consented."""
    await session.exec(_MARK_DONE, params={"row_id": row_id, "now": now})


# A claim outlives the process that made it by this much: then another process (or the restarted
# one) takes the row. Processing an update takes far less; should a claim still run out, the
# engine's idempotency key keeps the turn from happening twice.
CLAIM_TIME = timedelta(seconds=30)
MAX_ATTEMPTS = 20
MAX_BACKOFF = timedelta(minutes=10)


class Inbox:
    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self._dialect = sessions.kw["bind"].dialect.name

    async def store(self, channel: str, key: str, sender: str, payload: dict[str, Any]) -> bool:
        """Commit one raw update; False when it was stored before (a redelivery). Raises when the
        database cannot take it: the caller must then not confirm the update to the platform."""
        now = self.clock.now()
        row = {
            "key": key[:200],
            "channel": channel,
            "sender": sender[:200],
            "payload": payload,  # status and attempts: the columns' defaults (pending, 0)
            "received_at": now,
            "next_attempt_at": now,
        }
        # A Core INSERT committed alone: every update is stored once, and an ORM object and
        # its flush, or a transaction around one statement, cost more than the statement
        # (README "Performance").
        statement = insert_unless_taken_statement(self._dialect, _INBOX, unique="key")
        return bool(await commit_alone(self.sessions, statement, row))

    async def release_claims(self, channel: str) -> int:
        """At start of the only process (SQLite): claims left by a crash are taken back now, so
        the people whose updates they were do not wait for the claims to run out."""
        async with self.sessions() as session:
            result = await session.exec(
                update(InboxUpdate)
                .where(
                    col(InboxUpdate.channel) == channel,
                    col(InboxUpdate.status) == InboxStatus.PENDING,
                    col(InboxUpdate.claimed_until).is_not(None),
                )
                .values(claimed_until=None)
            )
            await session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def claim(self, channel: str, limit: int = 50) -> list[InboxUpdate]:
        """Pending rows of this channel, each its sender's oldest, claimed for this process."""
        now = self.clock.now()
        earlier = aliased(InboxUpdate)
        older_pending = exists().where(
            col(earlier.sender) == col(InboxUpdate.sender),
            col(earlier.channel) == col(InboxUpdate.channel),
            col(earlier.status) == InboxStatus.PENDING,
            col(earlier.id) < col(InboxUpdate.id),
        )
        query = (
            select(InboxUpdate)
            .where(
                InboxUpdate.channel == channel,
                InboxUpdate.status == InboxStatus.PENDING,
                col(InboxUpdate.next_attempt_at) <= now,
                or_(
                    col(InboxUpdate.claimed_until).is_(None),
                    col(InboxUpdate.claimed_until) < now,
                ),
                ~older_pending,
            )
            .order_by(col(InboxUpdate.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.sessions() as session:
            rows = list((await session.exec(query)).all())
            for row in rows:
                row.claimed_until = now + CLAIM_TIME
                session.add(row)
            await session.commit()
        return rows

    async def done(self, row_id: int) -> None:
        async with self.sessions() as session:
            await _mark_done(session, row_id, self.clock.now())
            await session.commit()

    async def retry(self, row_id: int, error: str) -> None:
        """Processing failed through no fault of the update: try again later, or set it aside."""
        async with self.sessions() as session:
            row = await session.get(InboxUpdate, row_id)
            if row is None:
                return
            row.attempts += 1
            row.claimed_until = None
            row.last_error = error[:500]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = InboxStatus.FAILED
                log.error(
                    "inbox update %s set aside after %d attempts: %s", row.key, row.attempts, error
                )
            else:
                delay = min(timedelta(seconds=2**row.attempts), MAX_BACKOFF)
                row.next_attempt_at = self.clock.now() + delay
            session.add(row)
            await session.commit()
