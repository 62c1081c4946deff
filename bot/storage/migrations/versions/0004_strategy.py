"""Strategy: settings and mode, positions it owns, exits (cooldowns), approvals, actions, journal.

Revision ID: 0004_strategy
Revises: 0003_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_strategy"
down_revision = "0003_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "strategy_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "strategy_positions",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("perp_quantity", sa.String(48), nullable=False),
        sa.Column("perp_entry", sa.String(48), nullable=False),
        sa.Column("spot_symbol", sa.String(64), nullable=True),
        sa.Column("spot_quantity", sa.String(48), nullable=False),
        sa.Column("spot_entry", sa.String(48), nullable=False),
        sa.Column("entry_rate", sa.String(48), nullable=False),
        sa.Column("opened_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "strategy_exits",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("exited_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "strategy_approvals",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_strategy_approvals_status", "strategy_approvals", ["status"])
    op.create_table(
        "strategy_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("order_ids", sa.Text(), nullable=False),
        sa.Column("perp_quantity", sa.String(48), nullable=False),
        sa.Column("perp_price", sa.String(48), nullable=True),
        sa.Column("spot_quantity", sa.String(48), nullable=False),
        sa.Column("spot_price", sa.String(48), nullable=True),
        sa.Column("problems", sa.Text(), nullable=False),
    )
    op.create_index("ix_strategy_actions_at", "strategy_actions", ["at_ms"])
    op.create_table(
        "pnl_journal",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.String(128), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=True),
        sa.Column("quantity", sa.String(48), nullable=False),
        sa.Column("price", sa.String(48), nullable=True),
        sa.Column("fee", sa.String(48), nullable=False),
        sa.Column("fee_symbol", sa.String(32), nullable=True),
        sa.Column("amount", sa.String(48), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("rate", sa.String(48), nullable=True),
    )
    op.create_index("ix_pnl_journal_at", "pnl_journal", ["at_ms"])
    op.create_index("ix_pnl_journal_symbol", "pnl_journal", ["symbol"])


def downgrade() -> None:
    op.drop_index("ix_pnl_journal_symbol", table_name="pnl_journal")
    op.drop_index("ix_pnl_journal_at", table_name="pnl_journal")
    op.drop_table("pnl_journal")
    op.drop_index("ix_strategy_actions_at", table_name="strategy_actions")
    op.drop_table("strategy_actions")
    op.drop_index("ix_strategy_approvals_status", table_name="strategy_approvals")
    op.drop_table("strategy_approvals")
    op.drop_table("strategy_exits")
    op.drop_table("strategy_positions")
    op.drop_table("strategy_settings")
