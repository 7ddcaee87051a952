"""Which tickets a reader may see: a Kepala Seksi those of their own section, a supervisor all.

A ticket belongs to a section when it was handed to that section (`ticket.section`, set at
hand-off and on escalation) or, never handed off (answered by the bot, say), when its topic is
one of the section's entries in the knowledge base. Tickets with neither (still being
clarified, or about a topic outside KPPN's services) belong to no section: only supervisors see
them.

The restriction is put on the database session rather than into each query: every SELECT run
through a restricted session gets the condition wherever the ticket table appears, subqueries
included (SQLAlchemy's `with_loader_criteria`). The ticket search, the transcript and the report
are the same functions the Telegram commands and the CLI use, and they need not know about it;
nor can a page forget it. Rows reached only through a ticket (messages, events, survey answers)
are read by the ids of tickets already restricted.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from sqlalchemy import and_, event, false, or_
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Config
from bot.roles import KEPALA_SEKSI
from bot.store.models import Ticket

if TYPE_CHECKING:
    from bot.store.db import SessionFactory


def reader_section(config: Config, name: str, role: str) -> str | None:
    """The section a Kepala Seksi heads, from config.yaml now; None for other roles."""
    if role != KEPALA_SEKSI:
        return None
    member = next((m for m in config.staff if m.name == name), None)
    return member.section if member is not None else None


def section_condition(section: str | None, topics: Iterable[str]) -> ColumnElement[bool]:
    """Tickets of `section`: handed to it, or never handed off and about one of its `topics`."""
    if not section:
        return false()  # a Kepala Seksi of no section (config.yaml forbids it) sees nothing
    return or_(
        col(Ticket.section) == section,
        and_(col(Ticket.section).is_(None), col(Ticket.topic_id).in_(sorted(set(topics)))),
    )


@contextlib.asynccontextmanager
async def restricted_session(
    sessions: SessionFactory, condition: ColumnElement[bool] | None
) -> AsyncIterator[AsyncSession]:
    """A session whose SELECTs see only the tickets matching `condition` (all when None)."""
    async with sessions() as session:
        if condition is not None:

            def restrict(state: ORMExecuteState) -> None:
                if state.is_select:
                    state.statement = state.statement.options(
                        with_loader_criteria(Ticket, condition, include_aliases=True)
                    )

            event.listen(session.sync_session, "do_orm_execute", restrict)
        yield session
