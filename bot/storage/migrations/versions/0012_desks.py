"""Desks (issue 21): the desks, their members, one-time invites (stored as SHA-256 of the code),
and each user's active desk. The operator desk gets its row, so it can be marked revoked like
any other; its members from ``TELEGRAM_ALLOWED_USERS`` are never stored.

Revision ID: 0012_desks
Revises: 0011_strategy_pause
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_desks"
down_revision = "0011_strategy_pause"
branch_labels = None
depends_on = None


def upgrade() -> None:
    desks = op.create_table(
        "desks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("revoked_venue", sa.String(32), nullable=True),
    )
    op.create_table(
        "desk_members",
        sa.Column("desk_id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("joined_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_desk_members_user", "desk_members", ["user_id"])
    op.create_table(
        "desk_invites",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("desk_id", sa.String(40), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.Column("used_at_ms", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "desk_choice",
        sa.Column("user_id", sa.BigInteger(), primary_key=True),
        sa.Column("desk_id", sa.String(40), nullable=False),
    )
    op.bulk_insert(
        desks, [{"id": "operator", "name": "Operator desk", "created_by": None, "created_at_ms": 0}]
    )


def downgrade() -> None:
    op.drop_table("desk_choice")
    op.drop_table("desk_invites")
    op.drop_index("ix_desk_members_user", table_name="desk_members")
    op.drop_table("desk_members")
    op.drop_table("desks")
