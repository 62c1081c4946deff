"""Fill and strategy notices follow the user's role unless the user chose.

``fills`` becomes nullable and ``strategy`` is new: ``NULL`` means "what the role gets by
default" (owners and traders on, viewers off), ``true``/``false`` is the user's own choice via
``/notify``. A stored ``true`` was the old default, not a choice, so it becomes ``NULL``; an
explicit ``false`` (someone muted fills) is kept.

Revision ID: 0007_notify_roles
Revises: 0006_venue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_notify_roles"
down_revision = "0006_venue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notify_settings") as batch:
        batch.alter_column("fills", existing_type=sa.Boolean(), nullable=True)
        batch.add_column(sa.Column("strategy", sa.Boolean(), nullable=True))
    op.execute(sa.text("UPDATE notify_settings SET fills = NULL WHERE fills"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE notify_settings SET fills = 1 WHERE fills IS NULL"))
    with op.batch_alter_table("notify_settings") as batch:
        batch.drop_column("strategy")
        batch.alter_column("fills", existing_type=sa.Boolean(), nullable=False)
