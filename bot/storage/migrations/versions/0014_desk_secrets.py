"""Desks' own exchange credentials, sealed (``/connect``): one row per desk and venue.

Revision ID: 0014_desk_secrets
Revises: 0013_desk_scope
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_desk_secrets"
down_revision = "0013_desk_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_secrets",
        sa.Column("desk_id", sa.String(40), nullable=False),
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("hint", sa.String(32), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("desk_id", "venue"),
    )


def downgrade() -> None:
    op.drop_table("desk_secrets")
