"""the audit log's two single-column indexes become one (library_id, at)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:02:00

Every circulation call writes a line to ``transactions``; each index on it is
one more page to write at the call's commit.  Its readers (reports, ``policy
simulate --recent``) all ask for one library's lines over a time span, which
one composite index answers.
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_transactions_library_at", "transactions", ["library_id", "at"], unique=False)
    op.drop_index("ix_transactions_at", table_name="transactions")
    op.drop_index("ix_transactions_library_id", table_name="transactions")


def downgrade() -> None:
    op.create_index("ix_transactions_library_id", "transactions", ["library_id"], unique=False)
    op.create_index("ix_transactions_at", "transactions", ["at"], unique=False)
    op.drop_index("ix_transactions_library_at", table_name="transactions")
