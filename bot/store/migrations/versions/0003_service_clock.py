"""service clock

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:31:32.725042
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import bot.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduled_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("due_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=True),
        sa.Column("claimed_until", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scheduled_job", schema=None) as batch_op:
        batch_op.create_index("ix_job_due", ["status", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_scheduled_job_ticket_id"), ["ticket_id"], unique=False
        )
        batch_op.create_index("ux_job_pending", ["ticket_id", "kind", "pending"], unique=True)

    op.create_table(
        "survey_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("element", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "element"),
    )
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_survey_response_ticket_id"), ["ticket_id"], unique=False
        )

    # Plain ADD COLUMN: SQLite's batch mode would recreate `ticket`, which other tables reference.
    op.add_column(
        "ticket",
        sa.Column("service_due_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "ticket",
        sa.Column("deadline_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "ticket",
        sa.Column("status_since", bot.store.types.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("status_since")
        batch_op.drop_column("deadline_at")
        batch_op.drop_column("service_due_at")

    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_response_ticket_id"))

    op.drop_table("survey_response")
    with op.batch_alter_table("scheduled_job", schema=None) as batch_op:
        batch_op.drop_index("ux_job_pending")
        batch_op.drop_index(batch_op.f("ix_scheduled_job_ticket_id"))
        batch_op.drop_index("ix_job_due")

    op.drop_table("scheduled_job")
