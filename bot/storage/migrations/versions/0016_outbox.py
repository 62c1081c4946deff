"""The outbox as a table, for several processes: every unsolicited message is a row until a
sender has delivered it; the per-chat pace and the bot-wide per-second count live next to it, so
Telegram's limits hold for the whole bot, not per process.

Revision ID: 0016_outbox
Revises: 0015_seen_updates
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_outbox"
down_revision = "0015_seen_updates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("desk_id", sa.String(40), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("markup", sa.Text(), nullable=True),  # the keyboard as JSON
        sa.Column("critical", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("edit_message_id", sa.BigInteger(), nullable=True),
        sa.Column("only_markup", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("hook", sa.String(200), nullable=True),  # told the new message's id
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("not_before_ms", sa.BigInteger(), nullable=False),
        sa.Column("sent_ms", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_messages_dedupe_key"),
    )
    op.create_index("ix_outbox_messages_chat_id_id", "outbox_messages", ["chat_id", "id"])
    op.create_index("ix_outbox_messages_sent_ms", "outbox_messages", ["sent_ms"])
    op.create_table(
        "outbox_chats",
        # chat 0 is the whole bot: a retry_after for everything pauses it
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("next_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id"),
    )
    op.create_table(
        "outbox_rate",
        sa.Column("second", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("second"),
    )


def downgrade() -> None:
    op.drop_table("outbox_rate")
    op.drop_table("outbox_chats")
    op.drop_index("ix_outbox_messages_sent_ms", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_chat_id_id", table_name="outbox_messages")
    op.drop_table("outbox_messages")
