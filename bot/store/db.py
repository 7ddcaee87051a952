"""Engine, sessions and migrations for SQLite (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Executable, event
from sqlalchemy.engine import Connection, Row, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.errors import DatabaseError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SessionFactory = async_sessionmaker[AsyncSession]


# Connections a process keeps open. SQLite takes one writer at a time: a few connections and
# no extra ones under load, so a burst queues for a connection instead of every turn retrying
# SQLite's lock (measured: 52 → 61 updates/s). PostgreSQL: enough for the parallel turns and
# deliveries without opening and closing overflow connections under load (70 → 86 updates/s).
SQLITE_POOL_SIZE = 3
POSTGRES_POOL_SIZE = 20
POSTGRES_MAX_OVERFLOW = 10


def create_engine(url: str, pool_size: int | None = None) -> AsyncEngine:
    """An async engine; for SQLite, creates the folder and sets the pragmas we rely on.

    No pre-ping on PostgreSQL: it cost three round trips per session (a third of a turn's), and
    a connection the server dropped fails one operation, which is retried like any database
    failure (the inbox, the outbox and the scheduler all retry), while SQLAlchemy replaces the
    pool's connections at once."""
    parsed = make_url(url)
    # Statement parameters hold what stakeholders wrote and who they are (UU 27/2022): an
    # error message or log line must never carry them.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
        if database and database != ":memory:":
            kwargs["pool_size"] = pool_size or SQLITE_POOL_SIZE
            kwargs["max_overflow"] = 0
    else:
        kwargs["pool_size"] = pool_size or POSTGRES_POOL_SIZE
        kwargs["max_overflow"] = POSTGRES_MAX_OVERFLOW
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the terminal `csobot tickets` read while the bot writes; foreign keys are off
    # by default in SQLite; busy_timeout waits for a writer instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> SessionFactory:
    # expire_on_commit=False: objects stay readable after commit without lazy I/O in async code.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


async def commit_alone(
    sessions: SessionFactory, statement: Executable, params: Mapping[str, Any]
) -> Sequence[Row[Any]]:
    """Run one statement as a transaction of its own; returns the rows it returned.

    On PostgreSQL it runs in autocommit mode: asyncpg sends BEGIN and COMMIT as round trips of
    their own, so a statement alone took three where it now takes one (the statements every
    update or message runs: storing an update, marking a message sent). On SQLite the driver
    sends BEGIN with the statement, and switching a connection to autocommit costs what it
    saves, so it runs in a transaction as before. Either way it is committed when this returns,
    on a connection of the pool's, without a session (nothing of the ORM is needed).
    """
    engine = sessions.kw["bind"]
    if engine.dialect.name == "postgresql":
        autocommit = _AUTOCOMMIT.get(engine)
        if autocommit is None:  # shares the engine's pool: no connections of its own
            autocommit = _AUTOCOMMIT[engine] = engine.execution_options(
                isolation_level="AUTOCOMMIT"
            )
        async with autocommit.connect() as connection:
            result = await connection.execute(statement, params)
            return result.all() if result.returns_rows else []
    async with engine.begin() as connection:
        result = await connection.execute(statement, params)
        return result.all() if result.returns_rows else []


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every pending migration (idempotent; run at every start)."""
    try:
        async with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # SQLite changes a column by rebuilding its table, which foreign keys referring
                # to the table would refuse: they are checked once at the end instead (SQLite's
                # documented procedure for schema changes).
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await connection.commit()  # ends SQLAlchemy's autobegun transaction only
            try:
                async with connection.begin():
                    await connection.run_sync(
                        lambda sync: command.upgrade(_alembic_config(sync), revision)
                    )
                    if sqlite:
                        broken = (
                            await connection.exec_driver_sql("PRAGMA foreign_key_check")
                        ).all()
                        if broken:
                            raise DatabaseError(
                                f"migration failed, database left unchanged: {len(broken)} "
                                "rows refer to rows that do not exist"
                            )
            finally:
                if sqlite:
                    await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    await connection.commit()
    except OSError as exc:
        raise DatabaseError(f"cannot reach the database: {exc}") from exc
    except SQLAlchemyError as exc:
        raise DatabaseError(f"migration failed, database left unchanged: {exc}") from exc


async def current_revision(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """(applied revision, newest revision) for `csobot db current`."""
    async with engine.connect() as connection:
        applied = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()  # type: ignore[arg-type]
    return applied, head
