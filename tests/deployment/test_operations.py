"""Operating a deployment: `ils-bridge health`, the metrics text, JSON logs, and how stale a process may be."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import sqlalchemy
from click.testing import CliRunner, Result

from ils_bridge.app import App
from ils_bridge.cli.main import cli
from ils_bridge.ops.health import check_health
from ils_bridge.ops.logs import JsonFormatter
from ils_bridge.ops.metrics import RequestMetrics
from ils_bridge.storage.schema import metadata
from sip2_server import Codec, Message
from sip2_server.backend import TitleCache
from sip2_server.terminals import TerminalDirectory
from tests.deployment.support import (
    REPO,
    ServeProcess,
    Terminal,
    http_get,
    ok,
    seed,
    write_config,
)
from tests.sip2.sip2_support import EchoDispatcher, ThreadedServer
from tests.sip2.sip2_world import serving


def ils_bridge(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_health_passes_on_a_ready_database_and_exits_4_otherwise(tmp_path: Path):
    ready = f"sqlite:///{tmp_path / 'ready.db'}"
    policy = REPO / "policies" / "examples" / "xuzhou.yaml"
    assert ils_bridge("--database", ready, "init", "--policy", str(policy)).exit_code == 0
    passed = ils_bridge("--database", ready, "health", "--json")
    assert passed.exit_code == 0, passed.output
    report = json.loads(passed.stdout)
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == ["database", "schema", "policy:xuzhou"]

    unmigrated = f"sqlite:///{tmp_path / 'unmigrated.db'}"  # tables, but no Alembic revision
    engine = sqlalchemy.create_engine(unmigrated)
    metadata.create_all(engine)
    engine.dispose()
    failed = ils_bridge("--database", unmigrated, "health")
    assert failed.exit_code == 4
    assert "FAIL schema: revision none" in failed.stdout

    unreachable = ils_bridge("--database", "postgresql://nobody@127.0.0.1:1/none", "--json", "health")
    assert unreachable.exit_code == 4
    assert json.loads(unreachable.stdout)["checks"][0]["name"] == "database"


def test_health_reports_a_library_without_an_active_policy(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    app = App.open(url, create=True)
    try:
        seed(url, borrowers=1, copies=1, payers=1, terminals=1)
        assert check_health(app.db).ok
        with app.db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE policy_versions SET active = false")
        report = check_health(app.db)
    finally:
        app.close()
    assert not report.ok
    assert report.checks[-1].name == "policy:xuzhou" and report.checks[-1].detail == "no active policy version"


def test_metrics_are_prometheus_text_with_counts_and_a_cumulative_histogram():
    metrics = RequestMetrics(buckets=(0.01, 0.1))
    metrics.observe("sip2", "11", "ok", 0.005)
    metrics.observe("sip2", "11", "ok", 0.05)
    metrics.observe("sip2", "11", "refused", 0.5)
    metrics.connection_opened("sip2")
    lines = metrics.render().splitlines()
    assert 'ils_bridge_requests_total{protocol="sip2",message="11",result="ok"} 2' in lines
    assert 'ils_bridge_requests_total{protocol="sip2",message="11",result="refused"} 1' in lines
    buckets = [line.rsplit(" ", 1)[1] for line in lines if line.startswith("ils_bridge_request_seconds_bucket")]
    assert buckets == ["1", "2", "3"]
    assert 'ils_bridge_request_seconds_count{protocol="sip2",message="11"} 3' in lines
    assert 'ils_bridge_open_connections{protocol="sip2"} 1' in lines
    with pytest.raises(ValueError):
        metrics.observe("sip2", "11", "fine", 0.1)


def test_json_log_lines_carry_the_structured_details():
    record = logging.LogRecord("sip2_server.wire", logging.INFO, __file__, 1, "session %s in", (7,), None)
    record.sip2 = {"session": 7, "message_id": "11"}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "session 7 in" and line["level"] == "info" and line["sip2"]["message_id"] == "11"
    assert line["logger"] == "sip2_server.wire" and isinstance(line["pid"], int)


def test_serve_with_log_json_writes_json_lines_and_counts_requests(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    App.open(url, create=True).close()
    world = seed(url, borrowers=1, copies=1, payers=1, terminals=1)
    server = ServeProcess(url, write_config(tmp_path), "--log-json", "--pool-size", "2")
    try:
        server.wait_ready()
        terminal = Terminal(world.terminals[0], [server.port])
        assert ok(terminal.checkout(world.borrowers[0], world.social[0]))
        assert not ok(terminal.checkout(world.borrowers[0], "NO-SUCH-ITEM"))
        terminal.close()
        assert http_get(server.metrics_port, "/healthz") == (200, '{"ok": true}')
        metrics = http_get(server.metrics_port, "/metrics")[1]
    finally:
        assert server.stop() == 0
    assert 'ils_bridge_requests_total{protocol="sip2",message="11",result="ok"} 1' in metrics
    assert 'ils_bridge_requests_total{protocol="sip2",message="11",result="refused"} 1' in metrics
    logged = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    wire = [line for line in logged if line["logger"] == "sip2_server.wire"]
    assert any(line["sip2"]["message_id"] == "11" for line in wire)


def test_a_terminal_disabled_by_another_process_is_logged_out_at_the_next_recheck(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    App.open(url, create=True).close()
    world = seed(url, borrowers=1, copies=2, payers=1, terminals=1)
    app, elsewhere = App.open(url), App.open(url)
    try:
        with serving(app) as srv:
            terminal = Terminal(world.terminals[0], [srv.port])
            assert ok(terminal.checkout(world.borrowers[0], world.social[0]))
            TerminalDirectory(elsewhere).disable(world.terminals[0])
            assert ok(terminal.checkin(world.social[0]))  # within the recheck interval: still logged in
            srv.backend.recheck_seconds = 0
            refused = terminal.checkout(world.borrowers[0], world.social[1])
            assert refused.fixed["ok"] == "0" and refused.get_all("AF") == ["This terminal has not logged in."]
    finally:
        app.close()
        elsewhere.close()


def test_title_cache_entries_expire_after_their_time_to_live():
    now = [0.0]
    cache = TitleCache(size=2, ttl=10, clock=lambda: now[0])
    cache.put("xuzhou", 1, "Old title")
    now[0] = 9
    assert cache.get("xuzhou", 1) == "Old title"
    now[0] = 11
    assert cache.get("xuzhou", 1) is None
    cache.put("xuzhou", 1, "A")
    cache.put("xuzhou", 2, "B")
    cache.put("xuzhou", 3, "C")
    assert cache.get("xuzhou", 1) is None and cache.get("xuzhou", 3) == "C"


def test_the_server_counts_96_answers_as_errors_with_unreadable_frames_under_message_question_marks():
    metrics = RequestMetrics()
    server = ThreadedServer(EchoDispatcher())
    server.server.observer = metrics
    server.start()
    try:
        client = server.connect()
        client.send(b"11garbage\r")
        assert client.read_frame().startswith(b"96")
        client.send(Codec().encode(Message("17", {"transaction_date": None}).add("AO", "x").add("AB", "boom")))
        assert client.read_frame().startswith(b"96")
        client.sock.close()
    finally:
        server.stop()
    assert metrics.count("sip2", "??", "error") == 1
    assert metrics.count("sip2", "17", "error") == 1
