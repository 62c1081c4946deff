"""The chat's record of what it showed: buttons per message, and a journal index by clientId.

``message_buttons`` lists the inline buttons of ``/positions`` and ``/orders`` messages with the
position or order each acts on, so the bot can edit those keyboards when the position closes or
the order ends, and answer a late tap with what happened. The fill watcher looks orders up by
``clientId`` to skip fills the user already saw in an edited preview.

Revision ID: 0009_chat_events
Revises: 0008_trigger_orders
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_chat_events"
down_revision = "0008_trigger_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_buttons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("data", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("gone", sa.Text, nullable=True),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_message_buttons_kind_key", "message_buttons", ["kind", "key"])
    op.create_index("ix_message_buttons_message", "message_buttons", ["chat_id", "message_id"])
    op.create_index("ix_order_journal_client_id", "order_journal", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_order_journal_client_id", "order_journal")
    op.drop_index("ix_message_buttons_message", "message_buttons")
    op.drop_index("ix_message_buttons_kind_key", "message_buttons")
    op.drop_table("message_buttons")
