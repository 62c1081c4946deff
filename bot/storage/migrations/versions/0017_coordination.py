"""What several processes share to divide the work: the running processes, which one follows
each desk's own account (a lease), and the latest public prices (the ingest leader's, throttled).

Revision ID: 0017_coordination
Revises: 0016_outbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_coordination"
down_revision = "0016_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("beat_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "stream_leases",
        sa.Column("desk_id", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("taken_ms", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("desk_id"),
    )
    op.create_index("ix_stream_leases_holder", "stream_leases", ["holder"])
    op.create_table(
        "prices",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("price", sa.String(64), nullable=False),
        sa.Column("funding_rate", sa.String(64), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol"),
    )


def downgrade() -> None:
    op.drop_table("prices")
    op.drop_index("ix_stream_leases_holder", table_name="stream_leases")
    op.drop_table("stream_leases")
    op.drop_table("processes")
