"""Schema migrations with Alembic, run from code (no alembic.ini needed).

`ils-bridge init` and `App.open(..., create=True)` bring a database to the
newest revision; `ils-bridge db upgrade` does it for an existing one.  Every
table any package declares on the shared ``metadata`` is imported by
``all_metadata`` so autogenerate and the drift test see the whole schema.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from ils_bridge.storage.urls import normalise_url

MIGRATIONS = Path(__file__).with_name("migrations")
# Modules that add tables to the shared metadata besides schema.py.
TABLE_MODULES = ("ils_bridge.storage.schema", "ils_bridge.connectors.state", "marc.search.tables")


def all_metadata() -> MetaData:
    for name in TABLE_MODULES:
        importlib.import_module(name)
    from ils_bridge.storage.schema import metadata

    return metadata


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest revision the code ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
