"""The journal keeps the venue's own client id next to the bot's.

Hyperliquid knows an order by a 128-bit hex ``cloid``, not by the bot's decimal client id;
``venue_client_id`` holds the id the venue received (NULL where it is the bot's client id), so
recovery looks an interrupted order up by exactly what was sent. A ``cross`` strategy position
records the hedge venue holding its second leg (``HEDGE_EXCHANGES``: several at once).

Revision ID: 0010_venue_client_id
Revises: 0009_chat_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_venue_client_id"
down_revision = "0009_chat_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_journal") as batch:
        batch.add_column(sa.Column("venue_client_id", sa.String(66), nullable=True))
    with op.batch_alter_table("strategy_positions") as batch:
        batch.add_column(sa.Column("hedge_venue", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("strategy_positions") as batch:
        batch.drop_column("hedge_venue")
    with op.batch_alter_table("order_journal") as batch:
        batch.drop_column("venue_client_id")
