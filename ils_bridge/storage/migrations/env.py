"""Alembic environment: the URL comes from the Config built in ils_bridge.storage.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ils_bridge.storage.migrate import all_metadata

target_metadata = all_metadata()


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
