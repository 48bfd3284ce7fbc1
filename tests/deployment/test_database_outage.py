"""The database goes away under a serving process: terminals get a clean "no", the process recovers by itself.

PostgreSQL is stopped and started again with pg_ctl while `serve sip2`
keeps running; SQLite is held locked past every retry.  Neither reaches a
terminal as a 96 or a dropped connection, and the next request after the
database is back succeeds on the same connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ils_bridge.app import App
from ils_bridge.storage import database
from sip2_server import Message
from sip2_server.catalog import english
from tests.deployment.support import (
    ServeProcess,
    Terminal,
    http_get,
    ok,
    seed,
    start_postgres,
    stop_postgres,
    write_config,
)
from tests.pg_cluster import PgCluster
from tests.sip2.sip2_world import serving

UNAVAILABLE = english().text("system_unavailable")
SC_STATUS = Message("99", {"status_code": "0", "max_print_width": "080", "protocol_version": "2.00"})


def test_postgresql_restart_while_serving(pg_cluster: PgCluster | None, pg_url: str, tmp_path: Path):
    world = seed(pg_url, borrowers=1, copies=2, payers=1, terminals=1)
    server = ServeProcess(pg_url, write_config(tmp_path))
    try:
        server.wait_ready()
        terminal = Terminal(world.terminals[0], [server.port])
        borrower, first, second = world.borrowers[0], world.social[0], world.social[1]
        assert ok(terminal.checkout(borrower, first))
        assert http_get(server.metrics_port, "/readyz")[0] == 200

        stop_postgres(pg_cluster)
        try:
            refused = terminal.checkout(borrower, second)
            assert refused.id == "12" and refused.fixed["ok"] == "0"
            assert refused.get_all("AF") == [UNAVAILABLE]
            assert terminal.request(SC_STATUS).fixed["online_status"] == "N"  # kiosks: go offline
            assert http_get(server.metrics_port, "/readyz")[0] == 503
        finally:
            start_postgres(pg_cluster)

        assert ok(terminal.checkout(borrower, second))  # the same connection, the same process
        assert terminal.request(SC_STATUS).fixed["online_status"] == "Y"
        assert terminal.reconnects == 0 and server.process.poll() is None
        assert http_get(server.metrics_port, "/readyz")[0] == 200
        metrics = http_get(server.metrics_port, "/metrics")[1]
        assert 'ils_bridge_requests_total{protocol="sip2",message="11",result="unavailable"} 1' in metrics
        assert 'ils_bridge_requests_total{protocol="sip2",message="11",result="ok"} 2' in metrics
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_sqlite_locked_past_every_retry_is_a_clean_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(database, "SQLITE_BUSY_MS", 50)
    monkeypatch.setattr(database, "RETRIES", 2)
    url = f"sqlite:///{tmp_path / 'library.db'}"
    world = seed_sqlite(url)
    app = App.open(url)
    try:
        with serving(app) as srv:
            terminal = Terminal(world.terminals[0], [srv.port])
            borrower, first, second = world.borrowers[0], world.social[0], world.social[1]
            assert ok(terminal.checkout(borrower, first))
            holder = sqlite3.connect(tmp_path / "library.db", isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                refused = terminal.checkout(borrower, second)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert refused.id == "12" and refused.fixed["ok"] == "0"
            assert refused.get_all("AF") == [UNAVAILABLE]
            assert ok(terminal.checkout(borrower, second)) and terminal.reconnects == 0
    finally:
        app.close()


def seed_sqlite(url: str):
    App.open(url, create=True).close()
    return seed(url, borrowers=1, copies=2, payers=1, terminals=1)
