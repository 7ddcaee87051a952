"""desk thread link

The link to a ticket's desk thread is made by the channel that created the thread (a Telegram
topic link, say) and kept here, so handlers can show it without knowing the platform.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("desk_thread_link", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("desk_thread_link")
