"""Migrations keep existing data: a database made by an older version upgrades in place."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.store import db


async def test_upgrading_a_populated_first_version_database(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await db.upgrade(engine, "0001")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO stakeholder (channel, channel_user_id, chat_id, consent_at, created_at, updated_at)"
                    " VALUES ('telegram', '1', '1', '2026-11-23 02:00:00', '2026-11-23 02:00:00', '2026-11-23 02:00:00')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO ticket (number, office, stakeholder_id, channel, status, question, match_candidates,"
                    " opened_at, updated_at) VALUES ('KNS-20261123-0001', 'pekalongan', 1, 'telegram', 'queued',"
                    " 'pertanyaan', '[]', '2026-11-23 02:00:00', '2026-11-23 02:00:00')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO message (stakeholder_id, ticket_id, channel, chat_id, direction, actor, kind, text,"
                    " payload, created_at) VALUES (1, 1, 'telegram', '1', 'in', 'stakeholder', 'text', 'pertanyaan',"
                    " '{}', '2026-11-23 02:00:00')"
                )
            )
        await db.upgrade(engine)
        applied, head = await db.current_revision(engine)
        assert applied == head
        async with engine.connect() as connection:
            ticket = (
                await connection.execute(
                    text("SELECT number, requested_documents, assignee FROM ticket")
                )
            ).one()
            message = (await connection.execute(text("SELECT text, internal FROM message"))).one()
        assert tuple(ticket) == ("KNS-20261123-0001", "[]", None)
        assert tuple(message) == ("pertanyaan", 0)
    finally:
        await engine.dispose()


async def test_the_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    """Alembic's autogenerate finds nothing to add: a model changed without its migration
    (or the reverse) fails here, not on an office's database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import bot.store.models  # noqa: F401 - the tables must be in SQLModel.metadata
    from bot.store import db

    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'compare.db'}")
    try:
        await db.upgrade(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []
