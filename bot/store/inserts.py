"""INSERTs written without the ORM's unit of work, for the rows every turn writes.

A turn writes its idempotency key, its transcript rows and their outbox rows; building an ORM
object and flushing it costs several times the statement itself (profiles of the load benchmark),
and nothing in the turn reads these rows back as objects. Both dialects we run on (SQLite ≥ 3.35,
PostgreSQL) take `ON CONFLICT` and `RETURNING`, in their own dialect's insert construct.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def table_of(model: type[SQLModel]) -> Table:
    """A table model's table (SQLModel sets it at class creation; its type stubs do not say)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def insert_construct(session: AsyncSession) -> Any:
    """The insert construct of the session's database: SQLite's and PostgreSQL's differ in
    ON CONFLICT (`on_conflict_do_nothing`, `on_conflict_do_update`)."""
    return _insert_for(_dialect(session))


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    return bind.dialect.name if bind is not None else "sqlite"


def _insert_for(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# Built once per database kind and table: building a statement on every turn cost more than
# the ORM's own work around it (profiles of the load benchmark); the values come as parameters.
@cache
def _insert_unless_taken(dialect: str, table: Table, column: str, returned: str) -> Any:
    """INSERT … ON CONFLICT (`column`) DO NOTHING RETURNING `returned`."""
    return (
        _insert_for(dialect)(table)
        .on_conflict_do_nothing(index_elements=[column])
        .returning(table.c[returned])
    )


@cache
def _insert_returning_id(dialect: str, table: Table, *, ordered: bool) -> Any:
    insert = _insert_for(dialect)(table)
    if ordered:
        return insert.returning(table.c.id, sort_by_parameter_order=True)
    return insert.returning(table.c.id)


async def insert_if_new(session: AsyncSession, table: Table, row: dict[str, Any]) -> bool:
    """Insert `row` unless its primary key exists (then nothing happens); whether it was new.

    Under concurrency the second writer of a key waits for the first to commit, then finds it:
    the same guarantee as a unique violation, without rolling the transaction back."""
    return bool(await insert_new_keys(session, table, [row]))


async def insert_new_keys(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> set[Any]:
    """Insert the rows whose primary key is new, in one statement; returns the keys inserted."""
    if not rows:
        return set()
    (key,) = table.primary_key.columns
    statement = _insert_unless_taken(_dialect(session), table, key.name, key.name)
    return set((await session.exec(statement, params=list(rows))).scalars())


def insert_unless_taken_statement(dialect: str, table: Table, *, unique: str) -> Any:
    """INSERT a row unless another row has its value of the `unique` column (as
    `insert_if_new`, without a rollback), returning the new row's id (no row when taken)."""
    return _insert_unless_taken(dialect, table, unique, "id")


async def insert_returning_ids(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert `rows` (all with the same keys) and return their ids in the order given."""
    if not rows:
        return []
    if len(rows) == 1:
        statement = _insert_returning_id(_dialect(session), table, ordered=False)
        return [int((await session.exec(statement, params=rows[0])).scalar_one())]
    statement = _insert_returning_id(_dialect(session), table, ordered=True)
    result = await session.exec(statement, params=list(rows))
    return [int(row_id) for row_id in result.scalars()]
