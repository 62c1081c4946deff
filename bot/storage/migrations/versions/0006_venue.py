"""Orders on a second venue: the journal names the venue an order went to.

``venue`` is NULL for Backpack (every row before this revision) and ``hedge`` for the hedge
venue (``HEDGE_EXCHANGE``), so recovery looks each unsettled row up by its clientId on the
venue that received it.

Revision ID: 0006_venue
Revises: 0005_order_path
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_venue"
down_revision = "0005_order_path"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_journal") as batch:
        batch.add_column(sa.Column("venue", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_journal") as batch:
        batch.drop_column("venue")
