"""inbox: updates stored before they are confirmed to the platform

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("processed_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_inbox_pending", "inbox_update", ["status", "next_attempt_at"])
    op.create_index("ix_inbox_sender", "inbox_update", ["channel", "sender", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_sender", table_name="inbox_update")
    op.drop_index("ix_inbox_pending", table_name="inbox_update")
    op.drop_table("inbox_update")
