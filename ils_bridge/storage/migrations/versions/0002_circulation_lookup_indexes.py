"""circulation lookup indexes: loans and holds by status, balances from the index, cards by number

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:40:00

Single-column indexes made the active-loan, waiting-hold and balance lookups
walk every past loan, hold or ledger entry of the item, title or patron; the
composite indexes that replace them stop at the rows wanted.  A trapped
copy's hold was found by scanning the holds, and a card by number through
the library's index alone (the unique index leaves replaced cards out).
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# (table, index dropped, index created, its columns)
_CHANGES = [
    ("loans", "ix_loans_item", "ix_loans_item_status", ["item_id", "status"]),
    ("loans", "ix_loans_patron_id", "ix_loans_patron_status", ["patron_id", "status"]),
    ("holds", "ix_holds_bib_id", "ix_holds_bib_status", ["bib_id", "status"]),
    ("ledger_entries", "ix_ledger_entries_patron_id", "ix_ledger_balance", ["patron_id", "account", "amount_minor"]),
]


def upgrade() -> None:
    for table, old, new, columns in _CHANGES:
        op.create_index(new, table, columns, unique=False)
        op.drop_index(old, table_name=table)
    op.create_index("ix_cards_number", "cards", ["library_id", "number"], unique=False)
    op.create_index("ix_holds_item_status", "holds", ["item_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_holds_item_status", table_name="holds")
    op.drop_index("ix_cards_number", table_name="cards")
    for table, old, new, columns in reversed(_CHANGES):
        op.create_index(old, table, columns[:1], unique=False)
        op.drop_index(new, table_name=table)
