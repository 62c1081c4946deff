"""One order path: the journal records cancels and strategy legs too; the OS-released lock.

Every order the bot sends is journaled (``kind`` = ``order`` or ``cancel``; ``origin`` says who
asked: a confirmation, a strategy action, an unwind; ``target`` is the order a cancel is for).
The heartbeat table of the old single-instance lock goes: the lock is now an ``fcntl`` file lock
(SQLite) or a session-level advisory lock (PostgreSQL), released by the OS or the server when
the process dies.

Revision ID: 0005_order_path
Revises: 0004_strategy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_order_path"
down_revision = "0004_strategy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_journal") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="order"))
        batch.add_column(sa.Column("origin", sa.String(96), nullable=True))
        batch.add_column(sa.Column("target", sa.String(64), nullable=True))
    op.drop_table("instance_lock")


def downgrade() -> None:
    op.create_table(
        "instance_lock",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("order_journal") as batch:
        batch.drop_column("target")
        batch.drop_column("origin")
        batch.drop_column("kind")
