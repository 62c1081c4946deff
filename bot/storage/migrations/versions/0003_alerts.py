"""Alerts: user-set price/funding alerts, per-user notification settings, watcher marks.

Revision ID: 0003_alerts
Revises: 0002_trading
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_alerts"
down_revision = "0002_trading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("op", sa.String(2), nullable=False),
        sa.Column("threshold", sa.String(64), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=True),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.Column("fired_count", sa.Integer(), nullable=False),
        sa.Column("last_fired_ms", sa.BigInteger(), nullable=True),
        sa.Column("muted_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_alerts_user", "alerts", ["user_id"])
    op.create_table(
        "notify_settings",
        sa.Column("user_id", sa.BigInteger(), primary_key=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("funding", sa.Boolean(), nullable=False),
        sa.Column("positions", sa.Boolean(), nullable=False),
        sa.Column("fills", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
    )
    op.create_table(
        "watch_marks",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("watch_marks")
    op.drop_table("notify_settings")
    op.drop_index("ix_alerts_user", table_name="alerts")
    op.drop_table("alerts")
