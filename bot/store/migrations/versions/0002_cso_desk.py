"""cso desk

Revision ID: 0002
Revises: 0001

Existing rows get defaults (no internal notes, no requested documents).
Create Date: 2026-11-23 17:17:39.834140
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import bot.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_session",
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("picking_ticket_id", sa.Integer(), nullable=True),
        sa.Column("picked", sa.JSON(), nullable=False),
        sa.Column("updated_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("channel", "user_id"),
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("file_type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_attachment_message_id"), "attachment", ["message_id"], unique=False)
    op.create_index(op.f("ix_attachment_ticket_id"), "attachment", ["ticket_id"], unique=False)

    # Plain ADD COLUMN (with constant defaults) rather than SQLite's copy-and-rename batch mode,
    # which cannot drop a table that other tables reference while foreign keys are enforced.
    op.add_column(
        "message", sa.Column("internal", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "ticket", sa.Column("section", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
    )
    op.add_column(
        "ticket",
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )
    op.add_column(
        "ticket",
        sa.Column("escalated_to", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )
    op.add_column(
        "ticket",
        sa.Column("desk_chat_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "ticket",
        sa.Column("desk_thread_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "ticket", sa.Column("requested_documents", sa.JSON(), nullable=False, server_default="[]")
    )


def downgrade() -> None:
    for column in (
        "requested_documents",
        "desk_thread_id",
        "desk_chat_id",
        "escalated_to",
        "assignee",
        "section",
    ):
        with op.batch_alter_table("ticket", schema=None) as batch_op:
            batch_op.drop_column(column)
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("internal")
    op.drop_index(op.f("ix_attachment_ticket_id"), table_name="attachment")
    op.drop_index(op.f("ix_attachment_message_id"), table_name="attachment")
    op.drop_table("attachment")
    op.drop_table("staff_session")
