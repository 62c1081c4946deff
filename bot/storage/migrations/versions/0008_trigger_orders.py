"""Conditional orders in the journal: the trigger price and attached stop-loss/take-profit.

A stop (``/sl``, ``/tp``, a strategy's stop) is journaled like every order; these columns say
what kind of order the row was, so recovery and the journal can report it as such. All nullable:
rows of plain orders leave them empty.

Revision ID: 0008_trigger_orders
Revises: 0007_notify_roles
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_trigger_orders"
down_revision = "0007_notify_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_journal") as batch:
        batch.add_column(sa.Column("trigger_price", sa.String(64), nullable=True))
        batch.add_column(sa.Column("stop_loss", sa.String(64), nullable=True))
        batch.add_column(sa.Column("take_profit", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_journal") as batch:
        batch.drop_column("take_profit")
        batch.drop_column("stop_loss")
        batch.drop_column("trigger_price")
