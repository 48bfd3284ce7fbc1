"""Fixtures of the SIP2 tests: a SQLite library (Xuzhou, two patrons) served over TCP by the real SIP2 service."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from ils_bridge.app import App, Library
from ils_bridge.clock import SettableClock
from ils_bridge.storage.schema import metadata
from sip2_server.config import Sip2Settings
from tests.core.helpers import patron_with_card
from tests.sip2.sip2_world import SHANGHAI, XZ, LibraryServer, make_library, serving


@pytest.fixture
def clock() -> SettableClock:
    # The PyPI client stamps requests with the real time; keep the library's clock near it.
    return SettableClock(dt.datetime.now(SHANGHAI).replace(microsecond=0))


@pytest.fixture(scope="session")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the schema, made once: creating the schema costs more than a whole test."""
    path = tmp_path_factory.mktemp("sip2-template") / "empty.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_app(tmp_path: Path, empty_database: Path, clock: SettableClock) -> Iterator[App]:
    shutil.copyfile(empty_database, tmp_path / "sip2.db")
    application = App.open(f"sqlite:///{tmp_path / 'sip2.db'}", clock)
    yield application
    application.close()


@pytest.fixture
def xuzhou(sqlite_app: App) -> Library:
    lib = make_library(sqlite_app, "xuzhou")
    patron_with_card(lib, "U1", "undergraduate")
    patron_with_card(lib, "U2", "undergraduate")
    assert lib.set_pin("U1", "1234").ok
    return lib


@pytest.fixture
def server(sqlite_app: App, xuzhou: Library) -> Iterator[LibraryServer]:
    settings = Sip2Settings.from_mapping({"sort_bins": {"xuzhou": {"east": "E", "main": "M", "hold": "H"}}})
    with serving(sqlite_app, settings) as srv:
        srv.add_terminal("xuzhou", "kiosk-1", XZ, branch="main")
        yield srv
