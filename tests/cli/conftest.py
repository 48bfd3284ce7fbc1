"""Running the `ils-bridge` command in tests: through click's runner on each engine, and checking the database."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy
from click.testing import CliRunner, Result

from ils_bridge.app import App
from ils_bridge.cli.common import CliContext
from ils_bridge.cli.main import cli as ils_bridge
from ils_bridge.storage.database import Database
from tests.conftest import ENGINES, EXAMPLES, REPO
from tests.pg_cluster import PgCluster

# The tables a refused or invalid command must leave as they were (the audit
# trail of a refused call, `transactions`, is written by design).
PG_TEMPLATE = "ils_cli_template"
_databases = itertools.count()
BUSINESS_TABLES = ("libraries", "patrons", "cards", "items", "bib_records", "loans", "holds", "ledger_entries",
                   "ill_requests", "closures", "package_purchases", "policy_versions")


class Cli:
    """``ils-bridge --database URL ...`` through click's test runner.

    Invocations share one ``App`` (engine and parsed-policy cache), as the
    commands of a long-lived process would; opening the database anew each
    time is what the subprocess tests exercise.
    """

    def __init__(self, database: str):
        self.database = database
        self.runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich tables do not wrap
        self.app = App.open(database)

    def close(self) -> None:
        self.app.close()

    def __call__(self, *args: str, code: int = 0, input: str | None = None) -> Result:
        with mock.patch.object(CliContext, "app", property(lambda _: self.app)):
            result = self.runner.invoke(ils_bridge, ["--database", self.database, *args], input=input)
        assert "Traceback" not in result.output, result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, f"exit {result.exit_code}, wanted {code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self("--json", *args, code=code).stdout)

    def fails(self, *args: str, code: int, says: str) -> str:
        """Run a command that must fail with one clear line on stderr and nothing on stdout."""
        result = self(*args, code=code)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert says in lines[0], lines[0]
        assert result.stdout == "", result.stdout
        return lines[0]


# `init` brings a database to the newest migration, so the empty databases
# these tests start from are made the way `init` makes them: by migrating
# a template once per session, then copying it.

@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "library.db"
    Database(f"sqlite:///{path}").create_schema()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster | None) -> str | None:
    if pg_cluster is None:
        return None
    engine = sqlalchemy.create_engine(pg_cluster.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {PG_TEMPLATE}")
    engine.dispose()
    Database(pg_cluster.url(PG_TEMPLATE)).create_schema()
    return PG_TEMPLATE


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """An empty database with the schema at the newest migration, on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "library.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    cluster = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL is not available here")
    template = request.getfixturevalue("pg_template")
    name = f"cli_{os.getpid()}_{next(_databases)}"
    engine = sqlalchemy.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
    engine.dispose()
    return cluster.url(name)


@pytest.fixture
def cli(db_url: str) -> Iterator[Cli]:
    runner = Cli(db_url)
    yield runner
    runner.close()


@pytest.fixture
def xuzhou(cli: Cli) -> Cli:
    """A database holding the Xuzhou library (policies/examples/xuzhou.yaml)."""
    cli("init", "--policy", str(EXAMPLES / "xuzhou.yaml"))
    return cli


@pytest.fixture
def daknong(cli: Cli) -> Cli:
    """A database holding Dak Nong (VND, card fees, registration approval, group cards, deposits)."""
    cli("init", "--policy", str(EXAMPLES / "daknong.yaml"))
    return cli


@pytest.fixture
def table_counts(db_url: str) -> Callable[[], dict[str, int]]:
    """Row counts of the business tables, to show a failed command wrote nothing."""
    def counts() -> dict[str, int]:
        engine = sqlalchemy.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in BUSINESS_TABLES}
        finally:
            engine.dispose()

    return counts


def patron_with_card(cli: Cli, number: str, patron_type: str = "phd") -> None:
    cli("patrons", "register", number, f"Patron {number}", "--type", patron_type)
    cli("cards", "issue", number, f"C{number}", "--valid-until", "2099-07-01")


def title_with_item(cli: Cli, barcode: str, *, classification: str = "R44", price: str = "30.00") -> int:
    title_id = cli.json("items", "add-title", f"Title of {barcode}")["data"]["title_id"]
    cli("items", "add", barcode, "--title-id", str(title_id), "--material", "zh_book",
        "--classification", classification, "--price", price)
    return title_id


def start_subprocess(database: str, *args: str) -> subprocess.Popen:
    """The real command in its own process (``python -m ils_bridge.cli``), started and left running."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "160"}
    return subprocess.Popen([sys.executable, "-m", "ils_bridge.cli", "--database", database, *args], env=env, cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def repo() -> Path:
    return REPO
