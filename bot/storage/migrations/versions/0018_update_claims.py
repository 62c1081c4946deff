"""An update taken in is claimed by the web process handling it until it is handled, so a
redelivery after that process died is handled by another one instead of being dropped.

Rows already there were recorded before handling, by the single process: they count as handled.

Revision ID: 0018_update_claims
Revises: 0017_coordination
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_update_claims"
down_revision = "0017_coordination"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seen_updates") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("handled_ms", sa.BigInteger(), nullable=True))
    op.execute("UPDATE seen_updates SET handled_ms = seen_at_ms")


def downgrade() -> None:
    with op.batch_alter_table("seen_updates") as batch:
        batch.drop_column("handled_ms")
        batch.drop_column("claimed_by")
