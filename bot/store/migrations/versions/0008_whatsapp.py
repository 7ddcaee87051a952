"""whatsapp: longer platform ids, the customer-service window, held messages and templates

WhatsApp's business-scoped user ids (about 140 characters) and message ids do not fit the
64-character columns sized for Telegram. A stakeholder's last message opens WhatsApp's 24-hour
window; their opt-in allows template notifications outside it. An outbox row remembers the
template it went out as (or that announced it while held), and is found by the platform's
message id when a status callback arrives.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LONG = 200
SHORT = 64


def _widen(table: str, *columns: str) -> None:
    with op.batch_alter_table(table) as batch:
        for column in columns:
            batch.alter_column(
                column, type_=sa.String(length=LONG), existing_type=sa.String(length=SHORT)
            )


def upgrade() -> None:
    _widen("stakeholder", "channel_user_id", "chat_id")
    _widen("message", "chat_id")
    _widen("outbox", "chat_id", "platform_message_id")
    with op.batch_alter_table("stakeholder") as batch:
        batch.add_column(
            sa.Column("last_inbound_at", bot.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("notifications_opt_in", sa.Boolean(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("template", sa.String(length=100), nullable=True))
    op.create_index("ix_outbox_platform_message", "outbox", ["channel", "platform_message_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_platform_message", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("template")
    with op.batch_alter_table("stakeholder") as batch:
        batch.drop_column("notifications_opt_in")
        batch.drop_column("last_inbound_at")
    # The ids stay wide: narrowing could cut a stored WhatsApp id.
