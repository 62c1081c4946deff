"""Desks: every per-account table gets a ``desk_id``; existing rows become the operator's.

Confirmations, the order journal, the strategy's settings, positions, exits, approvals and
actions, the PnL journal, message buttons and watch marks belong to one trading account. Their
natural keys gain the desk, so two desks may hold the same symbol, settings row, external id or
mark. Alerts and notification settings belong to a *user* and stay as they are.

Batch mode rebuilds the tables on SQLite; PostgreSQL alters them in place (a column with a
server default fills every existing row).

Revision ID: 0013_desk_scope
Revises: 0012_desks
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0013_desk_scope"
down_revision = "0012_desks"
branch_labels = None
depends_on = None

OPERATOR = "operator"

#: Tables whose primary key gains the desk (the old key columns follow it).
REKEYED = {
    "strategy_settings": ["id"],
    "strategy_positions": ["symbol"],
    "strategy_exits": ["symbol"],
    "watch_marks": ["key"],
}

#: Tables that only gain the column (their key is a random token or an autoincrement id).
SCOPED = (
    "trade_confirmations",
    "order_journal",
    "strategy_approvals",
    "strategy_actions",
    "pnl_journal",
    "message_buttons",
)

#: Indexes for the per-desk queries that select many rows (statuses, newest first).
INDEXES = {
    "ix_trade_confirmations_desk_status": ("trade_confirmations", ["desk_id", "status"]),
    "ix_order_journal_desk_status": ("order_journal", ["desk_id", "status"]),
    "ix_strategy_approvals_desk_status": ("strategy_approvals", ["desk_id", "status"]),
    "ix_strategy_actions_desk_at": ("strategy_actions", ["desk_id", "at_ms"]),
    "ix_pnl_journal_desk_at": ("pnl_journal", ["desk_id", "at_ms"]),
    "ix_message_buttons_desk_kind_key": ("message_buttons", ["desk_id", "kind", "key"]),
}

#: SQLite's unnamed constraints get these names in batch mode, so they can be dropped.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _desk_column() -> sa.Column[str]:
    return sa.Column("desk_id", sa.String(40), nullable=False, server_default=OPERATOR)


def _pk_name(table: str) -> str | None:
    """The table's primary key constraint name (PostgreSQL: ``<table>_pkey``; SQLite: none)."""
    name = sa.inspect(op.get_bind()).get_pk_constraint(table).get("name")
    return str(name) if name else None


def _external_id_unique() -> str:
    for uq in sa.inspect(op.get_bind()).get_unique_constraints("pnl_journal"):
        if uq["column_names"] == ["external_id"] and uq.get("name"):
            return str(uq["name"])
    return "uq_pnl_journal_external_id"  # SQLite: the name NAMING gives the unnamed one


@contextmanager
def _new_key_on_sqlite() -> Iterator[None]:
    """SQLite's rebuilt table copies the old key columns flagged ``primary_key`` and the new
    named key replaces them, as meant; SQLAlchemy warns about exactly that, so not here."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r"Table '_alembic_tmp_\w+' specifies columns", sa.exc.SAWarning
        )
        yield


def upgrade() -> None:
    for table, key in REKEYED.items():
        old = _pk_name(table)
        with _new_key_on_sqlite(), op.batch_alter_table(table) as batch:
            batch.add_column(_desk_column())
            if old is not None:
                batch.drop_constraint(old, type_="primary")
            batch.create_primary_key(f"{table}_pkey", ["desk_id", *key])
    unique = _external_id_unique()
    for table in SCOPED:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch:
            batch.add_column(_desk_column())
            if table == "pnl_journal":
                batch.drop_constraint(unique, type_="unique")
                batch.create_unique_constraint(
                    "uq_pnl_journal_desk_external_id", ["desk_id", "external_id"]
                )
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Back to one account: only the operator's rows are kept."""
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
    for table in (*SCOPED, *REKEYED):
        rows = sa.table(table, sa.column("desk_id"))
        op.execute(sa.delete(rows).where(rows.c.desk_id != OPERATOR))
    for table in SCOPED:
        with op.batch_alter_table(table) as batch:
            if table == "pnl_journal":
                batch.drop_constraint("uq_pnl_journal_desk_external_id", type_="unique")
                batch.create_unique_constraint("uq_pnl_journal_external_id", ["external_id"])
            batch.drop_column("desk_id")
    for table, key in REKEYED.items():
        with _new_key_on_sqlite(), op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"{table}_pkey", type_="primary")
            batch.create_primary_key(f"{table}_pkey", key)
            batch.drop_column("desk_id")
