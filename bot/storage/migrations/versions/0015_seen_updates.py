"""Telegram updates already taken in, so a redelivered one is handled once.

Revision ID: 0015_seen_updates
Revises: 0014_desk_secrets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_seen_updates"
down_revision = "0014_desk_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seen_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("update_id"),
    )
    op.create_index("ix_seen_updates_seen_at_ms", "seen_updates", ["seen_at_ms"])


def downgrade() -> None:
    op.drop_index("ix_seen_updates_seen_at_ms", table_name="seen_updates")
    op.drop_table("seen_updates")
