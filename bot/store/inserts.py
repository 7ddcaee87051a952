"""INSERTs written without the ORM's unit of work, for the rows every turn writes.

A turn writes its idempotency key, its transcript rows and their outbox rows; building an ORM
object and flushing it costs several times the statement itself (profiles of the load benchmark),
and nothing in the turn reads these rows back as objects. Both dialects we run on (SQLite ≥ 3.35,
PostgreSQL) take `ON CONFLICT` and `RETURNING`, in their own dialect's insert construct.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

DialectInsert = Callable[[Table], Any]


def table_of(model: type[SQLModel]) -> Table:
    """A table model's table (SQLModel sets it at class creation; its type stubs do not say)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def dialect_insert(session: AsyncSession) -> DialectInsert:
    """The insert construct of the session's database (they differ in ON CONFLICT)."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


async def insert_if_new(session: AsyncSession, table: Table, row: dict[str, Any]) -> bool:
    """Insert `row` unless its primary key exists (then nothing happens); whether it was new.

    Under concurrency the second writer of a key waits for the first to commit, then finds it:
    the same guarantee as a unique violation, without rolling the transaction back."""
    (key,) = table.primary_key.columns
    statement = (
        dialect_insert(session)(table)
        .values(**row)
        .on_conflict_do_nothing(index_elements=[key.name])
        .returning(key)
    )
    return (await session.exec(statement)).first() is not None


async def insert_new_keys(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> set[Any]:
    """Insert the rows whose primary key is new, in one statement; returns the keys inserted."""
    if not rows:
        return set()
    (key,) = table.primary_key.columns
    statement = (
        dialect_insert(session)(table)
        .on_conflict_do_nothing(index_elements=[key.name])
        .returning(key)
    )
    return set((await session.exec(statement, params=list(rows))).scalars())


async def insert_returning_ids(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert `rows` (all with the same keys) and return their ids in the order given."""
    if not rows:
        return []
    id_column = table.c.id
    if len(rows) == 1:
        statement = dialect_insert(session)(table).values(**rows[0]).returning(id_column)
        return [int((await session.exec(statement)).scalar_one())]
    statement = dialect_insert(session)(table).returning(id_column, sort_by_parameter_order=True)
    result = await session.exec(statement, params=list(rows))
    return [int(row_id) for row_id in result.scalars()]
