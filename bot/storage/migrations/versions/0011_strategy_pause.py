"""The strategy's pause (``/pause``, ``/resume``): no new entries while exits, stops and the
delta check go on. A flag on the one settings row; existing rows are not paused.

Revision ID: 0011_strategy_pause
Revises: 0010_venue_client_id
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_strategy_pause"
down_revision = "0010_venue_client_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("strategy_settings") as batch:
        batch.add_column(
            sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("strategy_settings") as batch:
        batch.drop_column("paused")
