"""The search index's own table on the shared metadata.

``search_docs`` holds one row per indexed (live) record: its library, the
publication year for range searches and a sort key.  The full-text part lives
in backend-specific structures created by each backend (an FTS5 virtual table
on SQLite, a tsvector column with a GIN index on PostgreSQL), because Core has
no portable type for them.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, Table, Text

from ils_bridge.storage.schema import Id, metadata

search_docs = Table(
    "search_docs",
    metadata,
    Column("record_id", Id, ForeignKey("bib_records.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("library_id", Id, ForeignKey("libraries.id"), nullable=False, index=True),
    Column("year", Integer, index=True),
    Column("sort_title", Text, nullable=False, server_default=""),
)
